"""The admin workflow between detection and review: batches, assignments, quality and statistics."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from api.base import AdminListView, AdminView, get_or_404, validated
from api.filters import Filter
from api.serializers import quality as q
from api.serializers import workflow as s
from reviewer.models import Assignment, Batch, Dataset
from reviewer.selectors import workflow as selectors
from reviewer.selectors import workflow as workflow_selectors
from reviewer.services import assignment as assignment_services


class DatasetBatchesView(AdminListView):
    """GET: the dataset's batches with their sizes. POST {size, is_pool?, gold_per_batch?, name_prefix?}: cut the
    images not yet in a batch into new batches (gold images mixed in)."""

    serializer_class = s.BatchSerializer
    filters = {"is_pool": Filter("is_pool", "boolean")}
    ordering = "id"

    def get_queryset(self):
        return workflow_selectors.batches_with_counts(get_or_404(Dataset, self.kwargs["pk"]))

    @extend_schema(request=s.BatchCreateSerializer, responses={201: s.BatchSerializer(many=True)})
    def post(self, request, pk: int):
        dataset = get_or_404(Dataset, pk)
        data = validated(s.BatchCreateSerializer, request.data)
        batches = assignment_services.batches_create(dataset=dataset, actor=request.user, **data)
        return Response(s.BatchSerializer(batches, many=True).data, status=status.HTTP_201_CREATED)


class DatasetAssignmentsView(AdminListView):
    """GET: every assignment of the dataset's batches. POST {reviewers: [username or id], k?}: give every
    non-pool batch k distinct reviewers, round-robin."""

    serializer_class = s.AssignmentSerializer
    filters = {
        "status": Filter("status", choices=tuple(Assignment.Status.values)),
        "reviewer": Filter("reviewer__username", description="A reviewer's user name."),
        "batch": Filter("batch_id", "integer"),
    }

    def get_queryset(self):
        return workflow_selectors.assignments_of_dataset(dataset=get_or_404(Dataset, self.kwargs["pk"]))

    @extend_schema(request=s.RoundRobinSerializer, responses={201: s.AssignmentSerializer(many=True)})
    def post(self, request, pk: int):
        dataset = get_or_404(Dataset, pk)
        data = validated(s.RoundRobinSerializer, request.data)
        made = assignment_services.dataset_assign_round_robin(
            dataset=dataset, reviewers=data["reviewers"], actor=request.user, k=data.get("k")
        )
        return Response(s.AssignmentSerializer(made, many=True).data, status=status.HTTP_201_CREATED)


class BatchAssignView(AdminView):
    """POST {reviewers: [username or id]}: give one batch to these reviewers."""

    @extend_schema(request=s.BatchAssignSerializer, responses={201: s.AssignmentSerializer(many=True)})
    def post(self, request, pk: int):
        batch = get_or_404(Batch, pk)
        data = validated(s.BatchAssignSerializer, request.data)
        made = assignment_services.batch_assign(batch=batch, reviewers=data["reviewers"], actor=request.user)
        return Response(s.AssignmentSerializer(made, many=True).data, status=status.HTTP_201_CREATED)


class AssignmentRevokeView(AdminView):
    """Take a batch back from its reviewer (409 when it is revoked already)."""

    @extend_schema(request=None, responses=s.AssignmentSerializer)
    def post(self, request, pk: int):
        assignment = get_or_404(Assignment.objects.select_related("batch", "reviewer"), pk)
        assignment = assignment_services.assignment_revoke(assignment=assignment, actor=request.user)
        return Response(s.AssignmentSerializer(assignment).data)


class DatasetQualityView(AdminView):
    """Progress and quality per batch (and its assignments), per reviewer, and for the whole dataset."""

    @extend_schema(responses=q.QualitySerializer)
    def get(self, request, pk: int):
        return Response(s.quality_data(selectors.dataset_quality(get_or_404(Dataset, pk))))


class DatasetStatisticsView(AdminView):
    """The dataset's counts: images per status, batches, pool batches, unbatched, gold, assignments, approvals."""

    @extend_schema(responses=q.StatisticsSerializer)
    def get(self, request, pk: int):
        return Response(selectors.dataset_workflow_counts(get_or_404(Dataset, pk)))


urlpatterns = [
    path("datasets/<int:pk>/batches/", DatasetBatchesView.as_view(), name="api-dataset-batches"),
    path("datasets/<int:pk>/assignments/", DatasetAssignmentsView.as_view(), name="api-dataset-assign"),
    path("batches/<int:pk>/assignments/", BatchAssignView.as_view(), name="api-batch-assign"),
    path("assignments/<int:pk>/revoke/", AssignmentRevokeView.as_view(), name="api-assignment-revoke"),
    path("datasets/<int:pk>/quality/", DatasetQualityView.as_view(), name="api-dataset-quality"),
    path("datasets/<int:pk>/statistics/", DatasetStatisticsView.as_view(), name="api-dataset-statistics"),
]
