"""The import task: thin, it takes the job's id and calls the service, which resumes where a killed run stopped."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from reviewer import jobs
from reviewer.services.imports import import_run as import_run_service


@shared_task(bind=True, **jobs.task_options(jobs.IMPORT_RUN))
def import_run(self, import_id: int) -> None:
    try:
        import_run_service(import_id=import_id)
    except SoftTimeLimitExceeded as exc:
        # The files finished so far are stored and counted; the retry starts from the next one.
        raise self.retry(exc=exc, countdown=1, max_retries=50) from exc
