"""Jobs in one place: task names, queues, time limits, retries, enqueue-on-commit and the reconcile ages.

Services send work by task *name* (`send_task`), so no service imports reviewer.tasks and tasks may import
services freely; tasks take their decorator options from here, so a time limit is written once. The timing
rules that used to live in comments (a reconcile age longer than the task's hard time limit, a heartbeat well
inside its staleness age, a lease longer than the page's renewal interval) are Django system checks in
reviewer/checks.py, which read the numbers below.

Adding a task (an annotation import, say):
1. Name it and describe it here: `IMPORT_BOXES = "reviewer.tasks.annotations.import_boxes"` and a `Job(...)` in `JOBS`
   with its time limits (and `reconcile_after`, the setting that says when reconcile may send it again, if a
   lost message must be found again by age: the system check then refuses an age shorter than its limit).
2. Write the thin task in reviewer/tasks/<area>.py with `@shared_task(bind=True, **jobs.task_options(
   jobs.IMPORT_BOXES))` and import that module in reviewer/tasks/__init__.py.
3. From the service, inside its transaction: `jobs.enqueue_on_commit(jobs.IMPORT_BOXES, job.pk,
   on_broker_down=...)`. The callback is given nothing and should mark the row as not sent (reconcile sends it
   later); the caller then gets `BrokerUnavailable` (a 503 ServiceError) with the sentence passed as `message`.
4. If the work can be lost, add its step to reviewer/services/reconcile.py; reconcile itself runs on its own
   queue (RECONCILE_QUEUE), so it never waits behind the work it rescues.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from reviewer.errors import ServiceError

logger = logging.getLogger(__name__)

# Failures that pass by themselves: a locked or restarting database, a network blip to storage or AWS. Tasks
# retry them; services put their row back so the retry starts clean.
TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)

WORK_QUEUE = "celery"  # Celery's default queue: detection chunks, exports
RECONCILE_QUEUE = "reconcile"  # only the periodic reconcile step, so it is never behind the backlog it rescues
QUEUES = (WORK_QUEUE, RECONCILE_QUEUE)

DETECT_CHUNK = "reviewer.tasks.detection.detect_chunk"
RENDER_EXPORT = "reviewer.tasks.export.render_export"  # the plan: cut into chunks, send them
RENDER_EXPORT_CHUNK = "reviewer.tasks.export.render_export_chunk"
ASSEMBLE_EXPORT = "reviewer.tasks.export.assemble_export"
IMPORT_RUN = "reviewer.tasks.ingest.import_run"
RECONCILE = "reviewer.tasks.reconcile"

# How often the review page renews the lease of the image on screen (static/veil/review/page.js reads it
# from the page). VEIL_LEASE_SECONDS must be at least twice this, or a lease lapses while a reviewer works.
LEASE_RENEW_SECONDS = 60


@dataclass(frozen=True)
class Job:
    name: str
    soft_time_limit: int
    time_limit: int
    queue: str = WORK_QUEUE
    max_retries: int = 5
    retry_backoff: int = 5
    retry_backoff_max: int = 300
    # The setting (seconds) after which reconcile may send this task's work again, judged by age. Must exceed
    # time_limit, or reconcile would send work that a worker is still on. None: reconcile does not use age.
    reconcile_after: str | None = None


JOBS: dict[str, Job] = {
    # A chunk of 16 images takes ~1.5-6 s at the default settings and 4x that in thorough mode on 2 cores; the
    # limits leave room for big photos and slow disks.
    DETECT_CHUNK: Job(
        DETECT_CHUNK, soft_time_limit=480, time_limit=600, max_retries=8, reconcile_after="VEIL_RECONCILE_AFTER_SECONDS"
    ),
    # An export is map + assemble, with limits per step and none for the whole export. The plan reads approved
    # image ids in keyset pages and writes chunk rows in bulk (1.5 M images: a minute or two). A chunk of
    # VEIL_EXPORT_CHUNK_SIZE images (64: ~20-60 s with the residual check on one core) must end well inside its
    # limit; a lost one is found by its heartbeat (VEIL_EXPORT_STALE_SECONDS), not by this limit. The assembly
    # copies bytes (parts in, one output out); its limit stays under the broker's visibility timeout (4 h, checked
    # by veil.E004), which a 1.5 M-image release assembles well within (bench/release.py measures its rate).
    RENDER_EXPORT: Job(RENDER_EXPORT, soft_time_limit=1800, time_limit=1900, retry_backoff=10, max_retries=5),
    RENDER_EXPORT_CHUNK: Job(RENDER_EXPORT_CHUNK, soft_time_limit=900, time_limit=960, retry_backoff=10, max_retries=5),
    ASSEMBLE_EXPORT: Job(
        ASSEMBLE_EXPORT, soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300, retry_backoff=10, max_retries=5
    ),
    # 10,000 small files take about two minutes; a retry carries on from the first file not yet done, so the
    # soft limit only bounds one attempt. Reconcile leaves a live import alone (its heartbeat is fresh).
    IMPORT_RUN: Job(
        IMPORT_RUN, soft_time_limit=600, time_limit=720, max_retries=8, reconcile_after="VEIL_RECONCILE_AFTER_SECONDS"
    ),
    RECONCILE: Job(RECONCILE, soft_time_limit=120, time_limit=180, queue=RECONCILE_QUEUE, max_retries=3),
}


def task_options(name: str) -> dict[str, Any]:
    """The `@shared_task` options of a job: its name, limits and retries, acks late and requeued when
    the worker is lost (the work is idempotent, so a redelivery adds nothing twice)."""
    job = JOBS[name]
    return {
        "name": job.name,
        "acks_late": True,
        "reject_on_worker_lost": True,
        "soft_time_limit": job.soft_time_limit,
        "time_limit": job.time_limit,
        "autoretry_for": TRANSIENT,
        "retry_backoff": job.retry_backoff,
        "retry_backoff_max": job.retry_backoff_max,
        "retry_jitter": True,
        "max_retries": job.max_retries,
    }


def route_task(name, args, kwargs, options, task=None, **kw) -> dict[str, str] | None:
    """Celery's router (CELERY_TASK_ROUTES names it): each task on its job's queue, retries included."""
    job = JOBS.get(name)
    return {"queue": job.queue} if job is not None else None


class BrokerUnavailable(ServiceError):
    """The work is saved as queued, but the task queue could not be reached; reconcile sends it later."""

    http_status = 503
    code = "broker_unavailable"


def send(name: str, *args: Any) -> None:
    """Send one task by name now, on its queue. Raises the broker's connection error if it cannot be reached.

    Publishing is retried briefly only: a request must not hang for long on a broker that is down, and the
    database keeps the work as queued for reconcile anyway.
    """
    from celery import current_app

    job = JOBS[name]
    options = {
        "args": list(args),
        "queue": job.queue,
        "retry": True,
        "retry_policy": {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1},
    }
    try:
        current_app.send_task(job.name, **options)
    except RuntimeError as exc:
        # kombu closes its connection and producer pools in a process that forked (billiard's after-fork hooks)
        # and when its pools are reset; a process holding the closed pool would fail every send from then on.
        # Drop the app's cached pools and send once more through fresh ones.
        if "closed pool" not in str(exc):
            raise
        from kombu import pools

        logger.warning("the broker's producer pool was closed; sending %s through a new one", name)
        pools.reset()  # kombu's process-wide pools, keyed by connection, would hand out the closed one again
        current_app._pool = None
        current_app.amqp._producer_pool = None
        current_app.send_task(job.name, **options)


def broker_errors() -> tuple[type[BaseException], ...]:
    """What publishing raises when the broker is unreachable (Redis down, its port closed)."""
    from kombu.exceptions import OperationalError as KombuOperationalError

    return (KombuOperationalError, ConnectionError, OSError, TimeoutError)


def enqueue_on_commit(
    name: str,
    *args: Any,
    many: list[tuple] | None = None,
    on_broker_down: Callable[[int], None] | None = None,
    message: str = "The task queue cannot be reached right now; the work is kept as queued and starts by itself "
    "when the queue is back.",
    extra: dict[str, Any] | None = None,
) -> None:
    """Send the task(s) once the current transaction commits (at once outside one), so a worker never sees a
    row that is not committed.

    `many` sends one task per tuple instead of one with `args`. If the broker is unreachable, `on_broker_down`
    is called with how many were sent (the rows stay committed; mark the rest as not sent so reconcile sends
    them) and BrokerUnavailable(message, **extra) is raised out of the commit, for the page or the API to say so
    (the API answers 503 with `extra` beside the sentence, e.g. the id of the queued row).
    """
    batch = many if many is not None else [args]

    def _send() -> None:
        sent = 0
        try:
            for one in batch:
                send(name, *one)
                sent += 1
        except broker_errors() as exc:
            logger.warning("broker unreachable sending %s (%d of %d sent): %s", name, sent, len(batch), exc)
            if on_broker_down is not None:
                on_broker_down(sent)
            raise BrokerUnavailable(message, **(extra or {})) from exc

    transaction.on_commit(_send)


def reconcile_age(name: str) -> int:
    """Seconds after which reconcile may send this job's work again (see Job.reconcile_after)."""
    setting = JOBS[name].reconcile_after
    if setting is None:
        raise ValueError(f"{name} is not reconciled by age")
    return int(getattr(settings, setting))


def export_heartbeat_seconds() -> int:
    """How often a renderer writes Export.heartbeat_at."""
    return int(settings.VEIL_EXPORT_HEARTBEAT_SECONDS)


def export_stale_seconds() -> int:
    """A running export whose heartbeat is older than this has lost its renderer: reconcile restarts it, and a
    redelivered message takes it over. Many heartbeats fit in it, so a slow image never looks lost."""
    return int(settings.VEIL_EXPORT_STALE_SECONDS)


def worker_heartbeat_seconds() -> int:
    """How often a worker on a detection chunk writes DetectionChunk.heartbeat_at."""
    return int(settings.VEIL_WORKER_HEARTBEAT_SECONDS)


def worker_stale_seconds() -> int:
    """A running chunk whose heartbeat is older than this has lost its worker: reconcile sends it again."""
    return int(settings.VEIL_WORKER_STALE_SECONDS)


def reconcile_every_seconds() -> int:
    """How often beat sends the reconcile task (CELERY_BEAT_SCHEDULE reads the same setting)."""
    return int(settings.VEIL_RECONCILE_EVERY_SECONDS)


def reconcile_late_seconds() -> int:
    """Reconcile's last successful run older than this is reported as late (health page, /health answers 503)."""
    return int(settings.VEIL_RECONCILE_LATE_SECONDS)
