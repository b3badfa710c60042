"""Admin pages for detection: start a run from the dataset page, follow it live, retry failures, make it current."""

from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.http import require_POST

from reviewer.forms.pipeline import DetectionStartForm
from reviewer.imaging.detectors import DETECTOR_NAMES
from reviewer.models import Dataset, DetectionRun
from reviewer.selectors.detection import detection_run_failures, detection_run_progress
from reviewer.services.detection import detection_run_make_current, detection_run_retry_failed, detection_run_start
from reviewer.views.access import admin_required
from reviewer.views.actions import page_action
from reviewer.views.params import int_param

FAILURES_PER_PAGE = 50  # a page of failures at a time, by image id (keyset: ?after=<image id>)


@admin_required
@require_POST
def detection_start(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    form = DetectionStartForm(request.POST)
    return page_action(
        request,
        back=("dataset-detail", dataset.pk),
        form=form,
        run=lambda data: detection_run_start(
            dataset=dataset, detector=data["detector"], settings=form.settings(), user=request.user
        ),
        done=lambda run: f"Detection run {run.pk} started on {run.images_total} images.",
        to=lambda run: ("detection-run", run.pk),
        queued=lambda exc: ("detection-run", exc.extra["run"]),  # saved as queued; its page says so and shows it
    )


@admin_required
def detection_run_page(request, run_id: int):
    run = get_object_or_404(DetectionRun.objects.select_related("dataset", "created_by"), pk=run_id)
    after = int_param(request.GET.get("after"))
    failures = detection_run_failures(run=run)
    if after is not None:
        failures = failures.filter(image_id__gt=after)
    failures = list(failures[: FAILURES_PER_PAGE + 1])
    next_after = failures[FAILURES_PER_PAGE - 1].image_id if len(failures) > FAILURES_PER_PAGE else None
    return render(
        request,
        "reviewer/detection/run.html",
        {
            "run": run,
            "dataset": run.dataset,
            "progress": detection_run_progress(run=run),
            "failures": failures[:FAILURES_PER_PAGE],
            "after": after,
            "next_after": next_after,
            "detectors": DETECTOR_NAMES,
        },
    )


@admin_required
@require_POST
def detection_run_retry(request, run_id: int):
    run = get_object_or_404(DetectionRun.objects.select_related("dataset"), pk=run_id)
    return page_action(
        request,
        back=("detection-run", run.pk),
        run=lambda _: detection_run_retry_failed(run=run, user=request.user),
        done=lambda queued: f"{queued} failed image{'s' if queued != 1 else ''} queued again.",
    )


@admin_required
@require_POST
def detection_run_current(request, run_id: int):
    run = get_object_or_404(DetectionRun.objects.select_related("dataset"), pk=run_id)
    return page_action(
        request,
        back=("detection-run", run.pk),
        run=lambda _: detection_run_make_current(run=run, user=request.user),
        done=f"Run {run.pk} is now the current run: reviewers see its proposals.",
    )


urlpatterns = [
    path("datasets/<int:dataset_id>/detection/start", detection_start, name="detection-start"),
    path("detection/runs/<int:run_id>/", detection_run_page, name="detection-run"),
    path("detection/runs/<int:run_id>/retry", detection_run_retry, name="detection-run-retry"),
    path("detection/runs/<int:run_id>/make-current", detection_run_current, name="detection-run-make-current"),
]
