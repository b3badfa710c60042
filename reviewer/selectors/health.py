"""Is Veil able to work: the database answers, the broker takes messages, reconcile ran lately.

Read by /health (a load balancer's probe: a few cheap calls, nothing that grows with the data) and by the admins'
health page, which adds the work that waits on reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError, connection
from django.db.models import F, Sum
from django.utils import timezone

from reviewer import jobs
from reviewer.models import DetectionChunk, DetectionRun, Export, ImportJob, PeriodicRun


@dataclass
class Part:
    ok: bool
    detail: str  # a sentence for admins; /health gives only `ok`


@dataclass
class Health:
    database: Part
    broker: Part
    reconcile: Part
    reconcile_finished_at: datetime | None = None
    reconcile_age_seconds: float | None = None
    reconcile_run: PeriodicRun | None = None
    waiting: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.database.ok and self.broker.ok and self.reconcile.ok


def _database() -> Part:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return Part(False, f"the database does not answer: {type(exc).__name__}: {exc}")
    return Part(True, "answers")


def _broker(timeout: float) -> Part:
    from celery import current_app

    try:
        with current_app.connection_for_write(connect_timeout=timeout) as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0.2, interval_max=0.2, timeout=timeout
            )
    except jobs.broker_errors() as exc:
        return Part(False, f"the task queue cannot be reached: {type(exc).__name__}: {exc}")
    return Part(True, "reachable")


def health_check(*, broker_timeout: float = 2.0, now: datetime | None = None) -> Health:
    """The database, the broker and the age of reconcile's last successful run (late past
    VEIL_RECONCILE_LATE_SECONDS: beat is not running, or no worker takes the reconcile queue)."""
    now = now or timezone.now()
    database = _database()
    broker = _broker(broker_timeout)
    run = None
    if database.ok:
        try:
            run = PeriodicRun.objects.filter(name=PeriodicRun.RECONCILE).first()
        except DatabaseError:
            run = None
    late = jobs.reconcile_late_seconds()
    finished = run.finished_at if run else None
    age = (now - finished).total_seconds() if finished else None
    if not database.ok:
        reconcile = Part(False, "unknown: the database does not answer")
    elif finished is None:
        reconcile = Part(
            False, "has never finished a run: is `celery beat` running, and a worker on the reconcile queue?"
        )
    elif age > late:
        reconcile = Part(
            False,
            f"last finished {int(age)} s ago (late after {late} s): is `celery beat` running, and a worker on the "
            "reconcile queue?",
        )
    else:
        reconcile = Part(True, f"last finished {int(age)} s ago")
    if run is not None and run.error and (run.failed_at and (not finished or run.failed_at > finished)):
        reconcile.detail += f"; its last run failed: {run.error}"
    return Health(database, broker, reconcile, finished, age, run)


def health_waiting(*, now: datetime | None = None) -> dict[str, int]:
    """Work that waits on reconcile, for the admins' page: chunks whose worker looks lost, work never sent.

    A detection run's chunks that wait their turn (not sent yet, by design: a run keeps at most
    VEIL_DETECTION_IN_FLIGHT out) are not work that waits on reconcile: they are counted from the runs' counters,
    apart, without reading the 94 k chunks of a large run."""
    now = now or timezone.now()
    lost = now - timedelta(seconds=jobs.worker_stale_seconds())
    running = DetectionChunk.objects.filter(DetectionChunk.IN_FLIGHT, status=DetectionChunk.Status.RUNNING)
    return {
        "chunks running": running.count(),
        "chunks with a stale heartbeat": running.filter(heartbeat_at__lt=lost).count(),
        "chunks left in detection runs": DetectionRun.objects.exclude(status__in=DetectionRun.FINISHED).aggregate(
            n=Sum(F("chunks_total") - F("chunks_done") - F("chunks_failed"))
        )["n"]
        or 0,
        "imports never sent": ImportJob.objects.filter(status=ImportJob.Status.QUEUED, sent_at__isnull=True).count(),
        "exports never sent": Export.objects.filter(status=Export.Status.QUEUED, sent_at__isnull=True).count(),
    }
