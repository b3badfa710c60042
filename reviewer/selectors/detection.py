"""Reads for the detection pages and API: runs, their progress and their failures."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone

from reviewer.models import Candidate, Dataset, DetectionChunk, DetectionResult, DetectionRun, Image, Proposal


def detection_runs_for_dataset(*, dataset: Dataset, limit: int | None = None) -> list[DetectionRun]:
    """The dataset's runs, newest first, each with `.done`, `.failed` and `.is_current` set (one query; the
    counts are the run's trigger-kept columns)."""
    runs = dataset.detection_runs.order_by("-created_at", "-id")
    runs = list(runs[:limit] if limit else runs)
    for run in runs:
        run.done, run.failed = run.results_done, run.results_failed
        run.is_current = run.pk == dataset.current_detection_run_id
    return runs


def detection_run_progress(*, run: DetectionRun, now=None) -> dict[str, Any]:
    """What the progress bar shows: counts, percent, images per second and seconds left (None if unknown)."""
    now = now or timezone.now()
    # The results' counters are kept by triggers on DetectionResult, the chunks' by the detection services, in
    # the transactions that change them: no count over the run's results or its 94 k chunks. Only the running
    # chunks are counted, by the in-flight index: there are at most VEIL_DETECTION_IN_FLIGHT of them.
    running = DetectionChunk.objects.filter(
        DetectionChunk.IN_FLIGHT, run=OuterRef("pk"), status=DetectionChunk.Status.RUNNING
    ).order_by()
    counts = (
        DetectionRun.objects.filter(pk=run.pk)
        .annotate(chunks_running=Subquery(running.values("run").annotate(n=Count("pk")).values("n")))
        .values(
            "results_done",
            "results_failed",
            "faces_found",
            "chunks_total",
            "chunks_done",
            "chunks_failed",
            "chunks_running",
        )
        .first()
        or {}
    )
    done, failed = counts.get("results_done", 0), counts.get("results_failed", 0)
    counts["faces"] = counts.get("faces_found", 0)
    processed = done + failed
    total = max(run.images_total, processed)
    finished = run.status in DetectionRun.FINISHED
    elapsed = ((run.finished_at or now) - run.started_at).total_seconds() if run.started_at else 0.0
    rate = processed / elapsed if elapsed > 0 and processed else None
    remaining = total - processed
    seconds_left = 0.0 if finished else (remaining / rate if rate else None)
    chunks = {
        DetectionChunk.Status.RUNNING: counts.get("chunks_running") or 0,
        DetectionChunk.Status.DONE: counts.get("chunks_done", 0),
        DetectionChunk.Status.FAILED: counts.get("chunks_failed", 0),
    }
    chunks[DetectionChunk.Status.QUEUED] = max(0, counts.get("chunks_total", 0) - sum(chunks.values()))
    return {
        "status": run.status,
        "status_display": run.get_status_display(),
        "is_finished": finished,
        "is_current": run.dataset.current_detection_run_id == run.pk,
        "total": total,
        "done": done,
        "failed": failed,
        "processed": processed,
        "faces": counts["faces"] or 0,
        "percent": round(100.0 * processed / total, 1) if total else 100.0,
        "elapsed_seconds": round(elapsed, 1),
        "images_per_second": round(rate, 2) if rate else None,
        "seconds_left": round(seconds_left, 1) if seconds_left is not None else None,
        "chunks": {status: chunks.get(status, 0) for status in DetectionChunk.Status.values},
    }


def detection_run_failures(*, run: DetectionRun) -> QuerySet[DetectionResult]:
    """The run's failed images with their reasons, in image id order (import order): the (run, status) index
    reads the first ones shown without sorting every failure."""
    return run.results.filter(status=DetectionResult.Status.FAILED).select_related("image").order_by("image_id")


# The API's lists: unsliced and unordered on purpose, its keyset pagination orders them by an indexed key and reads
# one page, so a list costs the same at 2 k and 1.5 M images.


def runs_of_dataset(*, dataset: Dataset) -> QuerySet[DetectionRun]:
    return DetectionRun.objects.filter(dataset=dataset).select_related("dataset")


def proposals_of_image(*, image: Image, run_id: int | None = None) -> QuerySet[Proposal]:
    """The proposals of `run_id`, or of the dataset's current run when none is given (none without a run)."""
    run_id = run_id or image.dataset.current_detection_run_id
    return Proposal.objects.filter(image=image, run_id=run_id) if run_id else Proposal.objects.none()


def candidates_of_image(*, image: Image, run_id: int | None = None) -> QuerySet[Candidate]:
    run_id = run_id or image.dataset.current_detection_run_id
    return Candidate.objects.filter(image=image, run_id=run_id) if run_id else Candidate.objects.none()
