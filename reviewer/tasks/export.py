"""Export tasks: one per export, rendering it from start to end.

Thin: the service does the work and is safe to run again (a redelivered message finds the export done and
returns, finds it rendered by a live worker (fresh heartbeat) and leaves it, or finds its heartbeat stale and
takes it over under a new attempt). Limits and retries are in reviewer/jobs.py.
"""

from __future__ import annotations

from celery import shared_task

from reviewer import jobs
from reviewer.services.export import export_render


@shared_task(bind=True, **jobs.task_options(jobs.RENDER_EXPORT))
def render_export(self, export_id: int) -> None:
    export_render(export_id=export_id)
