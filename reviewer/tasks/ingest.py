"""The import task: thin, it takes the job's id and calls the service, which resumes where a killed run stopped."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

from reviewer.services.imports import import_run as import_run_service

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)

# 10,000 small files take about two minutes; a retry carries on from the first file not yet done, so the soft
# limit only bounds one attempt. Under VEIL_RECONCILE_AFTER_SECONDS (900): reconcile leaves a live import alone
# (its heartbeat is fresh anyway).
IMPORT_SOFT_TIME_LIMIT = 600
IMPORT_TIME_LIMIT = 720


@shared_task(
    bind=True,
    name="reviewer.tasks.ingest.import_run",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
    time_limit=IMPORT_TIME_LIMIT,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def import_run(self, import_id: int) -> None:
    try:
        import_run_service(import_id=import_id)
    except SoftTimeLimitExceeded as exc:
        # The files finished so far are stored and counted; the retry starts from the next one.
        raise self.retry(exc=exc, countdown=1, max_retries=50) from exc
