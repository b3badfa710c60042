"""Approval and gold images over HTTP (admins only): the queue, approve one or many, send back, gold."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from api.base import AdminListView, AdminView, get_or_404, validated
from api.filters import Filter
from api.serializers import quality as q
from api.serializers import workflow as s
from api.serializers.review import ReviewSerializer
from reviewer.models import Approval, Dataset, Image
from reviewer.selectors import datasets as datasets_selectors
from reviewer.selectors import export as export_selectors
from reviewer.selectors import review as review_selectors
from reviewer.selectors import workflow as selectors
from reviewer.services import approval as approval_services
from reviewer.services import assignment as assignment_services

QUEUE_PAGE_SIZE = 50


class ApprovalQueueView(AdminView):
    """Images waiting for approval, flagged for a second look first, then unsure, then disagreeing, with their
    consolidated boxes. Keyset pages (`cursor`), so a page costs the same at any depth of a 1.5 M-image queue."""

    @extend_schema(
        responses=q.QueuePageSerializer,
        parameters=[
            OpenApiParameter("cursor", str, description="The `next` link's cursor."),
            OpenApiParameter("page_size", int, description=f"Default {QUEUE_PAGE_SIZE}, at most 500."),
        ],
    )
    def get(self, request, pk: int):
        dataset = get_or_404(Dataset, pk)
        try:
            after = int(request.query_params["cursor"]) if request.query_params.get("cursor") else None
            size = int(request.query_params.get("page_size") or QUEUE_PAGE_SIZE)
        except ValueError as exc:
            raise ValidationError({"cursor": "Not a cursor of this list, or page_size is not a whole number."}) from exc
        if not 1 <= size <= 500:
            raise ValidationError({"page_size": "page_size must be from 1 to 500."})
        page = selectors.approval_queue_page(dataset, after=after, limit=size)
        url = request.build_absolute_uri()
        return Response(
            {
                "next": replace_query_param(url, "cursor", page.next_after) if page.next_after else None,
                "previous": None,
                "results": [s.queue_entry_data(entry) for entry in page.entries],
            }
        )


class ApprovedImagesView(AdminListView):
    """Approved images with the boxes an export will blur, in path order."""

    serializer_class = q.ApprovedImageSerializer
    ordering_fields = ("relative_path", "id")
    ordering = "relative_path"

    def get_queryset(self):
        return export_selectors.approved_images(get_or_404(Dataset, self.kwargs["pk"]))


class ImageReviewsView(AdminListView):
    """Every review of one image, current and superseded, newest first, with each box's fate."""

    serializer_class = ReviewSerializer
    filters = {"is_current": Filter("is_current", "boolean")}

    def get_queryset(self):
        return review_selectors.reviews_of_image(image=get_or_404(Image, self.kwargs["pk"]))


class DatasetApproveView(AdminView):
    """POST {image_ids: [...], expected_revisions?: {id: revision}} or {all: true}: approve those (or all)
    images waiting for approval; ones not waiting, or changed since the given revision, come back as skipped."""

    @extend_schema(request=s.ApproveManySerializer, responses=q.ApprovedManySerializer)
    def post(self, request, pk: int):
        dataset = get_or_404(Dataset, pk)
        data = validated(s.ApproveManySerializer, request.data)
        result = approval_services.images_approve(
            dataset=dataset,
            actor=request.user,
            image_ids=None if data["all"] else data["image_ids"],
            expected_revisions=data["expected_revisions"],
        )
        return Response({"approved": result.approved, "skipped": result.skipped})


class ImageApproveView(AdminView):
    """POST {expected_revision?, boxes?, note?}: approve one image (its consolidated reviews, or these boxes)."""

    @extend_schema(request=s.ApproveImageSerializer, responses={201: s.ApprovalSerializer})
    def post(self, request, pk: int):
        image = get_or_404(Image, pk)
        data = validated(s.ApproveImageSerializer, request.data)
        approval = approval_services.image_approve(image=image, actor=request.user, **data)
        approval = Approval.objects.select_related("image", "approved_by").get(pk=approval.pk)
        return Response(s.ApprovalSerializer(approval).data, status=status.HTTP_201_CREATED)


class ImageSendBackView(AdminView):
    """POST {reason?}: withdraw the approval and the current reviews; the image goes back to its reviewers."""

    @extend_schema(request=s.SendBackSerializer, responses=q.SentBackSerializer)
    def post(self, request, pk: int):
        image = get_or_404(Image, pk)
        data = validated(s.SendBackSerializer, request.data)
        image = approval_services.image_send_back(image=image, actor=request.user, reason=data["reason"])
        return Response({"id": image.pk, "status": image.status, "revision": image.revision})


class DatasetGoldView(AdminListView):
    """The dataset's gold images with their known boxes."""

    serializer_class = q.GoldImageSerializer
    ordering_fields = ("relative_path", "id")
    ordering = "relative_path"

    def get_queryset(self):
        return datasets_selectors.gold_images_of_dataset(dataset=get_or_404(Dataset, self.kwargs["pk"]))


class ImageGoldView(AdminView):
    """POST {boxes?}: make the image gold (its approved boxes, or these). DELETE: stop using it as gold."""

    @extend_schema(request=s.GoldMarkSerializer, responses=q.GoldMarkedSerializer)
    def post(self, request, pk: int):
        image = get_or_404(Image, pk)
        data = validated(s.GoldMarkSerializer, request.data)
        image = assignment_services.image_mark_gold(image=image, actor=request.user, boxes=data["boxes"])
        boxes = [[round(v, 2) for v in g.box.as_list()] for g in image.gold_boxes.all()]
        return Response({"id": image.pk, "is_gold": image.is_gold, "boxes": boxes})

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        image = get_or_404(Image, pk)
        assignment_services.image_unmark_gold(image=image, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("datasets/<int:pk>/approval-queue/", ApprovalQueueView.as_view(), name="api-approval-queue"),
    path("datasets/<int:pk>/approved/", ApprovedImagesView.as_view(), name="api-dataset-approved"),
    path("datasets/<int:pk>/approve/", DatasetApproveView.as_view(), name="api-dataset-approve"),
    path("datasets/<int:pk>/gold/", DatasetGoldView.as_view(), name="api-dataset-gold"),
    path("images/<int:pk>/reviews/", ImageReviewsView.as_view(), name="api-image-reviews"),
    path("images/<int:pk>/approve/", ImageApproveView.as_view(), name="api-image-approve"),
    path("images/<int:pk>/send-back/", ImageSendBackView.as_view(), name="api-image-send-back"),
    path("images/<int:pk>/gold/", ImageGoldView.as_view(), name="api-image-gold"),
]
