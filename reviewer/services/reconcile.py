"""The periodic reconcile step: the database says what is left to do, the queue is only a nudge.

Celery beat runs it every VEIL_RECONCILE_EVERY_SECONDS (task "reviewer.tasks.reconcile"). A message lost to a
broker restart shows up here as a chunk queued for too long, a chunk whose worker was killed as a running chunk
whose heartbeat stopped; either is queued again.
A chunk queued too many times (an image that kills its worker every time) is given up on: its remaining
images become failed results with that reason, so the run finishes and the admin sees why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from reviewer import jobs
from reviewer.models import DetectionChunk, DetectionResult, DetectionRun, Image
from reviewer.services.detection import detection_run_finish_if_complete
from reviewer.services.detection_feed import detection_chunks_enqueue, detection_run_feed
from reviewer.services.health import RECONCILE_STEP, periodic_run_failed, periodic_run_finished, periodic_run_started

logger = logging.getLogger(__name__)

MAX_CHUNK_ATTEMPTS = 5
# Lost chunks of one run sent again per pass, at most: a run has at most VEIL_DETECTION_IN_FLIGHT chunks in flight,
# but a run started before the feeder had all of its chunks sent at once, and a pass must end well inside its limit.
RECONCILE_BATCH = 500


@dataclass
class ReconcileReport:
    requeued: list[int] = field(default_factory=list)  # chunk ids
    given_up: list[int] = field(default_factory=list)  # chunk ids
    finished_runs: list[int] = field(default_factory=list)


def detection_reconcile(
    *, after_seconds: int | None = None, stale_seconds: int | None = None, now: datetime | None = None
) -> ReconcileReport:
    """Re-queue detection chunks whose work was lost, top up runs whose feeding stopped, finish complete runs.

    Run by run (the runs not finished), reading only the chunks in flight by their partial index, never the done
    or waiting ones, and at most RECONCILE_BATCH of them per run and pass:
    - A running chunk whose heartbeat is older than `stale_seconds` (VEIL_WORKER_STALE_SECONDS by default) lost
      its worker (killed, its machine gone): it is sent again. A live worker beats every few seconds, however
      slow its images (a system check holds the stale age above three heartbeats).
    - A queued chunk sent longer than `after_seconds` ago (VEIL_RECONCILE_AFTER_SECONDS, which a system check
      holds above the chunk task's hard time limit) is sent again, unless its run is still making progress: it
      is then only waiting its turn behind the others on the queue.
    - Then the run is fed (reviewer.services.detection_feed): its waiting chunks, those never sent because the
      broker was down among them, are sent until VEIL_DETECTION_IN_FLIGHT are in flight.
    A chunk sent twice adds nothing the second time: results are unique per run and image. If the broker cannot
    be reached, nothing more is sent in this pass (the chunks stay waiting, with no queued_at, for the next).
    """
    after = jobs.reconcile_age(jobs.DETECT_CHUNK) if after_seconds is None else after_seconds
    stale_after = jobs.worker_stale_seconds() if stale_seconds is None else stale_seconds
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=after)
    lost = now - timedelta(seconds=stale_after)
    report = ReconcileReport()
    broker_down = False
    for run_id in list(DetectionRun.objects.exclude(status__in=DetectionRun.FINISHED).values_list("pk", flat=True)):
        if not broker_down:
            try:
                _requeue_lost(run_id, cutoff=cutoff, lost=lost, now=now, report=report)
                report.requeued += detection_run_feed(run_id=run_id, now=now)
            except jobs.BrokerUnavailable:
                broker_down = True  # still down: what was not sent waits (no queued_at) for the next pass
        if detection_run_finish_if_complete(run_id=run_id):
            report.finished_runs.append(run_id)
    if report.requeued or report.given_up or report.finished_runs:
        logger.warning(
            "reconcile: re-queued chunks %s, gave up on chunks %s, finished runs %s",
            report.requeued,
            report.given_up,
            report.finished_runs,
        )
    return report


def _requeue_lost(run_id: int, *, cutoff: datetime, lost: datetime, now: datetime, report: ReconcileReport) -> None:
    """Send again `run_id`'s chunks in flight whose message or worker was lost (see detection_reconcile)."""
    # Among the chunks in flight only (the partial index's own terms): a run has at most VEIL_DETECTION_IN_FLIGHT.
    stale = DetectionChunk.objects.filter(DetectionChunk.IN_FLIGHT, run_id=run_id).filter(
        Q(status=DetectionChunk.Status.QUEUED, queued_at__lt=cutoff)
        | Q(status=DetectionChunk.Status.RUNNING, heartbeat_at__lt=lost)
        | Q(status=DetectionChunk.Status.RUNNING, heartbeat_at__isnull=True, started_at__lt=lost)
    )
    progressing = None
    # No ORDER BY: sorting by index let PostgreSQL walk the run's 94 k chunks in index order to fill the LIMIT.
    found = sorted(stale.order_by().values_list("index", "pk", "status")[:RECONCILE_BATCH])
    for _, chunk_id, status in found:
        if status == DetectionChunk.Status.QUEUED:
            if progressing is None:
                progressing = _is_progressing(run_id, cutoff)
            if progressing:
                continue
        with transaction.atomic():
            # Re-checked under the write lock: a worker may have finished it since the query above.
            chunk = DetectionChunk.objects.select_for_update().filter(pk=chunk_id).first()
            if chunk is None or chunk.status not in (DetectionChunk.Status.QUEUED, DetectionChunk.Status.RUNNING):
                continue
            if chunk.status == DetectionChunk.Status.RUNNING and (chunk.heartbeat_at or chunk.started_at) >= lost:
                continue  # its worker beat since the query above: alive
            if chunk.attempts >= MAX_CHUNK_ATTEMPTS:
                _give_up(chunk, now)
                report.given_up.append(chunk.pk)
                continue
            chunk.status = DetectionChunk.Status.QUEUED
            chunk.queued_at = now
            chunk.save(update_fields=["status", "queued_at"])
            detection_chunks_enqueue([chunk.pk], run_id=chunk.run_id)
        report.requeued.append(chunk_id)


def _is_progressing(run_id: int, cutoff: datetime) -> bool:
    """Whether the run wrote a result or started a chunk that still runs since `cutoff` (by indexes: the results'
    created_at, the chunks in flight; a chunk started and finished since then wrote results)."""
    return (
        DetectionResult.objects.filter(run_id=run_id, created_at__gte=cutoff).exists()
        or DetectionChunk.objects.filter(
            DetectionChunk.IN_FLIGHT, run_id=run_id, status=DetectionChunk.Status.RUNNING, started_at__gte=cutoff
        ).exists()
    )


def _give_up(chunk: DetectionChunk, now: datetime) -> None:
    reason = f"gave up after {chunk.attempts} attempts: the worker processing this image's chunk kept dying"
    seen = set(
        DetectionResult.objects.filter(run_id=chunk.run_id, image_id__in=chunk.image_ids).values_list(
            "image_id", flat=True
        )
    )
    DetectionResult.objects.bulk_create(
        [
            DetectionResult(run_id=chunk.run_id, image_id=image_id, status=DetectionResult.Status.FAILED, error=reason)
            for image_id in Image.objects.filter(pk__in=chunk.image_ids)
            .exclude(pk__in=seen)
            .values_list("pk", flat=True)
        ]
    )
    chunk.status = DetectionChunk.Status.FAILED
    chunk.finished_at = now
    chunk.error = reason
    chunk.save(update_fields=["status", "finished_at", "error"])
    DetectionRun.objects.filter(pk=chunk.run_id).update(chunks_failed=F("chunks_failed") + 1)


def reconcile(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Every reconcile step of the flow, as the beat task runs it: detection, exports, imports, then dashboard
    snapshots.

    One step's failure does not keep the other from running; it is raised afterwards so the task retries. The
    run is recorded in PeriodicRun "reconcile" (started, finished with its counts, or failed with the reason),
    which the health page and /health read.
    """
    from reviewer.services.export import export_reconcile

    periodic_run_started(name=RECONCILE_STEP)  # wall-clock time, whatever `now` a caller simulates
    report: dict[str, list[int]] = {}
    errors: list[Exception] = []
    try:
        detection = detection_reconcile(now=now)
        report.update(
            detection_requeued=detection.requeued,
            detection_given_up=detection.given_up,
            detection_finished_runs=detection.finished_runs,
        )
    except Exception as exc:
        logger.exception("reconcile: the detection step failed")
        errors.append(exc)
    try:
        report["exports_requeued"] = export_reconcile(now=now)
    except Exception as exc:
        logger.exception("reconcile: the export step failed")
        errors.append(exc)
    try:
        from reviewer.services.imports import import_reconcile

        report["imports_requeued"] = import_reconcile(now=now)
    except Exception as exc:
        logger.exception("reconcile: the import step failed")
        errors.append(exc)
    try:
        from reviewer.services.gate import gate_snapshots_write
        from reviewer.services.snapshots import SNAPSHOT_EVERY_SECONDS, snapshots_write

        report["snapshot_datasets"] = snapshots_write(now=now)
        report["gate_snapshots"] = gate_snapshots_write(now=now, older_than_seconds=SNAPSHOT_EVERY_SECONDS)
    except Exception as exc:
        logger.exception("reconcile: the snapshot step failed")
        errors.append(exc)
    if errors:
        periodic_run_failed(name=RECONCILE_STEP, error=f"{type(errors[0]).__name__}: {errors[0]}")
        raise errors[0]
    periodic_run_finished(
        name=RECONCILE_STEP, report={key: len(v) if isinstance(v, list) else v for key, v in report.items()}
    )
    return report
