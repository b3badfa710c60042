"""Detection runs over HTTP (admins only): start, follow progress, retry failures, choose the current run."""

from django.shortcuts import get_object_or_404
from django.urls import path
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import IsVeilAdmin
from api.serializers.detection import DetectionFailureSerializer, DetectionRunSerializer, DetectionRunStartSerializer
from reviewer.models import Dataset, DetectionRun
from reviewer.selectors.detection import detection_run_failures, detection_run_progress, detection_runs_for_dataset
from reviewer.services.detection import detection_run_make_current, detection_run_retry_failed, detection_run_start

FAILURES_SHOWN = 100


def _run_payload(run: DetectionRun) -> dict:
    failures = detection_run_failures(run=run)
    return {
        **DetectionRunSerializer(run).data,
        "progress": detection_run_progress(run=run),
        "failures": DetectionFailureSerializer(failures[:FAILURES_SHOWN], many=True).data,
    }


class DatasetDetectionRunsView(APIView):
    """GET: the dataset's runs with their progress. POST {detector, threshold, long_side, thorough}: start one."""

    permission_classes = [IsVeilAdmin]

    def get(self, request, pk: int):
        dataset = get_object_or_404(Dataset, pk=pk)
        runs = detection_runs_for_dataset(dataset=dataset)
        return Response(
            {
                "current_run": dataset.current_detection_run_id,
                "results": [
                    {**DetectionRunSerializer(r).data, "progress": detection_run_progress(run=r)} for r in runs
                ],
            }
        )

    def post(self, request, pk: int):
        dataset = get_object_or_404(Dataset, pk=pk)
        form = DetectionRunStartSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        detector, run_settings = form.validated_settings()
        run = detection_run_start(dataset=dataset, detector=detector, settings=run_settings, user=request.user)
        return Response(_run_payload(run), status=status.HTTP_201_CREATED)


class DetectionRunView(APIView):
    """GET: one run, its progress (done, failed, rate, time left) and its first failures. The run page polls it."""

    permission_classes = [IsVeilAdmin]

    def get(self, request, pk: int):
        run = get_object_or_404(DetectionRun.objects.select_related("dataset"), pk=pk)
        return Response(_run_payload(run))


class DetectionRunRetryView(APIView):
    permission_classes = [IsVeilAdmin]

    def post(self, request, pk: int):
        run = get_object_or_404(DetectionRun.objects.select_related("dataset"), pk=pk)
        queued = detection_run_retry_failed(run=run, user=request.user)
        run.refresh_from_db()
        return Response({**_run_payload(run), "queued": queued}, status=status.HTTP_202_ACCEPTED)


class DetectionRunMakeCurrentView(APIView):
    permission_classes = [IsVeilAdmin]

    def post(self, request, pk: int):
        run = get_object_or_404(DetectionRun.objects.select_related("dataset"), pk=pk)
        run = detection_run_make_current(run=run, user=request.user)
        return Response(_run_payload(run))


urlpatterns = [
    path("datasets/<int:pk>/detection-runs/", DatasetDetectionRunsView.as_view(), name="api-dataset-detection-runs"),
    path("detection-runs/<int:pk>/", DetectionRunView.as_view(), name="api-detection-run"),
    path("detection-runs/<int:pk>/retry/", DetectionRunRetryView.as_view(), name="api-detection-run-retry"),
    path(
        "detection-runs/<int:pk>/make-current/",
        DetectionRunMakeCurrentView.as_view(),
        name="api-detection-run-make-current",
    ),
]
