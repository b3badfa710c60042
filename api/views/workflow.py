"""The admin workflow over HTTP (admins only): batches, assignments, quality, gold images, approval."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import IsVeilAdmin
from api.serializers import workflow as s
from reviewer.models import Approval, Assignment, Batch, Dataset, Image
from reviewer.selectors import workflow as selectors
from reviewer.services import approval as approval_services
from reviewer.services import assignment as assignment_services

QUEUE_PAGE_SIZE = 50


def _valid(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class DatasetBatchesView(APIView):
    """GET: the dataset's batches. POST {size, is_pool?, gold_per_batch?, name_prefix?}: cut new batches."""

    permission_classes = [IsVeilAdmin]

    def get(self, request, pk: int):
        dataset = get_object_or_404(Dataset, pk=pk)
        return Response({"results": s.BatchSerializer(selectors.batches_with_counts(dataset), many=True).data})

    def post(self, request, pk: int):
        dataset = get_object_or_404(Dataset, pk=pk)
        data = _valid(s.BatchCreateSerializer, request)
        batches = assignment_services.batches_create(dataset=dataset, actor=request.user, **data)
        return Response({"results": s.BatchSerializer(batches, many=True).data}, status=status.HTTP_201_CREATED)


class DatasetAssignView(APIView):
    """POST {reviewers: [username or id], k?}: give every non-pool batch k distinct reviewers, round-robin."""

    permission_classes = [IsVeilAdmin]

    def post(self, request, pk: int):
        dataset = get_object_or_404(Dataset, pk=pk)
        data = _valid(s.RoundRobinSerializer, request)
        made = assignment_services.dataset_assign_round_robin(
            dataset=dataset, reviewers=data["reviewers"], actor=request.user, k=data.get("k")
        )
        return Response({"results": s.AssignmentSerializer(made, many=True).data}, status=status.HTTP_201_CREATED)


class BatchAssignView(APIView):
    """POST {reviewers: [username or id]}: give one batch to these reviewers."""

    permission_classes = [IsVeilAdmin]

    def post(self, request, pk: int):
        batch = get_object_or_404(Batch, pk=pk)
        data = _valid(s.BatchAssignSerializer, request)
        made = assignment_services.batch_assign(batch=batch, reviewers=data["reviewers"], actor=request.user)
        return Response({"results": s.AssignmentSerializer(made, many=True).data}, status=status.HTTP_201_CREATED)


class AssignmentRevokeView(APIView):
    permission_classes = [IsVeilAdmin]

    def post(self, request, pk: int):
        assignment = get_object_or_404(Assignment, pk=pk)
        assignment = assignment_services.assignment_revoke(assignment=assignment, actor=request.user)
        return Response(s.AssignmentSerializer(assignment).data)


class DatasetQualityView(APIView):
    """GET: progress and quality per batch (and its assignments), per reviewer, and for the whole dataset."""

    permission_classes = [IsVeilAdmin]

    def get(self, request, pk: int):
        dataset = get_object_or_404(Dataset, pk=pk)
        return Response(s.quality_data(selectors.dataset_quality(dataset)))


class ApprovalQueueView(APIView):
    """GET ?after=<image id>: one page of the images waiting for approval (second look, unsure, disputed
    first), with their consolidated boxes; `next_after` continues it (keyset), null on the last page."""

    permission_classes = [IsVeilAdmin]

    def get(self, request, pk: int):
        dataset = get_object_or_404(Dataset, pk=pk)
        try:
            after = int(request.query_params["after"]) if request.query_params.get("after") else None
        except ValueError:
            return Response({"detail": "after must be an image id.", "code": "invalid"}, status=400)
        page = selectors.approval_queue_page(dataset, after=after, limit=QUEUE_PAGE_SIZE)
        return Response(
            {
                "count": selectors.dataset_workflow_counts(dataset)["waiting_approval"],
                "next_after": page.next_after,
                "results": [s.queue_entry_data(entry) for entry in page.entries],
            }
        )


class DatasetApproveView(APIView):
    """POST {image_ids: [...], expected_revisions?: {id: revision}} or {all: true}: approve those (or all)
    images waiting for approval; ones not waiting, or changed since the given revision, come back as skipped."""

    permission_classes = [IsVeilAdmin]

    def post(self, request, pk: int):
        dataset = get_object_or_404(Dataset, pk=pk)
        data = _valid(s.ApproveManySerializer, request)
        result = approval_services.images_approve(
            dataset=dataset,
            actor=request.user,
            image_ids=None if data["all"] else data["image_ids"],
            expected_revisions=data["expected_revisions"],
        )
        return Response({"approved": result.approved, "skipped": result.skipped})


class ImageApproveView(APIView):
    """POST {expected_revision?, boxes?, note?}: approve one image (its consolidated reviews, or these boxes)."""

    permission_classes = [IsVeilAdmin]

    def post(self, request, pk: int):
        image = get_object_or_404(Image, pk=pk)
        data = _valid(s.ApproveImageSerializer, request)
        approval = approval_services.image_approve(image=image, actor=request.user, **data)
        approval = Approval.objects.select_related("image", "approved_by").get(pk=approval.pk)
        return Response(s.ApprovalSerializer(approval).data, status=status.HTTP_201_CREATED)


class ImageSendBackView(APIView):
    """POST {reason?}: withdraw the approval and the current reviews; the image goes back to its reviewers."""

    permission_classes = [IsVeilAdmin]

    def post(self, request, pk: int):
        image = get_object_or_404(Image, pk=pk)
        data = _valid(s.SendBackSerializer, request)
        image = approval_services.image_send_back(image=image, actor=request.user, reason=data["reason"])
        return Response({"id": image.pk, "status": image.status, "revision": image.revision})


class ImageGoldView(APIView):
    """POST {boxes?}: make the image gold (its approved boxes, or these). DELETE: stop using it as gold."""

    permission_classes = [IsVeilAdmin]

    def post(self, request, pk: int):
        image = get_object_or_404(Image, pk=pk)
        data = _valid(s.GoldMarkSerializer, request)
        image = assignment_services.image_mark_gold(image=image, actor=request.user, boxes=data["boxes"])
        boxes = [[round(v, 2) for v in g.box.as_list()] for g in image.gold_boxes.all()]
        return Response({"id": image.pk, "is_gold": image.is_gold, "boxes": boxes})

    def delete(self, request, pk: int):
        image = get_object_or_404(Image, pk=pk)
        assignment_services.image_unmark_gold(image=image, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("datasets/<int:pk>/batches/", DatasetBatchesView.as_view(), name="api-dataset-batches"),
    path("datasets/<int:pk>/assignments/", DatasetAssignView.as_view(), name="api-dataset-assign"),
    path("batches/<int:pk>/assignments/", BatchAssignView.as_view(), name="api-batch-assign"),
    path("assignments/<int:pk>/revoke/", AssignmentRevokeView.as_view(), name="api-assignment-revoke"),
    path("datasets/<int:pk>/quality/", DatasetQualityView.as_view(), name="api-dataset-quality"),
    path("datasets/<int:pk>/approval-queue/", ApprovalQueueView.as_view(), name="api-approval-queue"),
    path("datasets/<int:pk>/approve/", DatasetApproveView.as_view(), name="api-dataset-approve"),
    path("images/<int:pk>/approve/", ImageApproveView.as_view(), name="api-image-approve"),
    path("images/<int:pk>/send-back/", ImageSendBackView.as_view(), name="api-image-send-back"),
    path("images/<int:pk>/gold/", ImageGoldView.as_view(), name="api-image-gold"),
]
