"""Detection runs over HTTP (admins only): start, follow progress, retry failures, choose the current run."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from api.base import AdminListView, AdminView, get_or_404
from api.filters import Filter
from api.serializers.detection import (
    DetectionFailureSerializer,
    DetectionRunDetailSerializer,
    DetectionRunRetriedSerializer,
    DetectionRunSerializer,
    DetectionRunStartSerializer,
)
from reviewer.models import Dataset, DetectionRun
from reviewer.selectors import detection as detection_selectors
from reviewer.selectors.detection import detection_run_failures
from reviewer.services.detection import detection_run_make_current, detection_run_retry_failed, detection_run_start

RUNS = DetectionRun.objects.select_related("dataset")


class DatasetDetectionRunsView(AdminListView):
    """GET: the dataset's runs, newest first, with their progress. POST {detector?, threshold?, long_side?,
    thorough?}: start one over every image of the dataset (400 on an empty dataset or a bad setting)."""

    serializer_class = DetectionRunSerializer
    filters = {"status": Filter("status", choices=tuple(DetectionRun.Status.values))}

    def get_queryset(self):
        return detection_selectors.runs_of_dataset(dataset=get_or_404(Dataset, self.kwargs["pk"]))

    @extend_schema(request=DetectionRunStartSerializer, responses={201: DetectionRunDetailSerializer})
    def post(self, request, pk: int):
        dataset = get_or_404(Dataset, pk)
        form = DetectionRunStartSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        detector, run_settings = form.validated_settings()
        run = detection_run_start(dataset=dataset, detector=detector, settings=run_settings, user=request.user)
        return Response(DetectionRunDetailSerializer(run).data, status=status.HTTP_201_CREATED)


class DetectionRunView(AdminView):
    """One run, its progress (done, failed, rate, time left) and its first failures. The run page polls it."""

    @extend_schema(responses=DetectionRunDetailSerializer)
    def get(self, request, pk: int):
        return Response(DetectionRunDetailSerializer(get_or_404(RUNS, pk, "detection run")).data)


class DetectionRunFailuresView(AdminListView):
    """Every image the run failed on, with the reason."""

    serializer_class = DetectionFailureSerializer
    ordering_fields = ("id",)
    ordering = "id"

    def get_queryset(self):
        return detection_run_failures(run=get_or_404(RUNS, self.kwargs["pk"], "detection run")).order_by()


class DetectionRunRetryView(AdminView):
    """Queue the run's failed images again (409 when nothing failed)."""

    @extend_schema(request=None, responses={202: DetectionRunRetriedSerializer})
    def post(self, request, pk: int):
        run = get_or_404(RUNS, pk, "detection run")
        queued = detection_run_retry_failed(run=run, user=request.user)
        run.refresh_from_db()
        run.queued = queued
        return Response(DetectionRunRetriedSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class DetectionRunMakeCurrentView(AdminView):
    """Make this finished run the one whose proposals reviewers see (409 while it runs)."""

    @extend_schema(request=None, responses=DetectionRunDetailSerializer)
    def post(self, request, pk: int):
        run = detection_run_make_current(run=get_or_404(RUNS, pk, "detection run"), user=request.user)
        return Response(DetectionRunDetailSerializer(run).data)


urlpatterns = [
    path("datasets/<int:pk>/detection-runs/", DatasetDetectionRunsView.as_view(), name="api-dataset-detection-runs"),
    path("detection-runs/<int:pk>/", DetectionRunView.as_view(), name="api-detection-run"),
    path("detection-runs/<int:pk>/failures/", DetectionRunFailuresView.as_view(), name="api-detection-run-failures"),
    path("detection-runs/<int:pk>/retry/", DetectionRunRetryView.as_view(), name="api-detection-run-retry"),
    path(
        "detection-runs/<int:pk>/make-current/",
        DetectionRunMakeCurrentView.as_view(),
        name="api-detection-run-make-current",
    ),
]
