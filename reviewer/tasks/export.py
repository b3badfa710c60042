"""Export tasks: the plan (cut into chunks), one render per chunk, the assembly.

Thin: the services do the work and are safe to run again (a redelivered message finds its row done and returns,
finds a live worker on it (fresh heartbeat) and leaves it, or finds its heartbeat stale and takes it over under a
new attempt). Limits and retries are in reviewer/jobs.py.
"""

from __future__ import annotations

from celery import shared_task

from reviewer import jobs
from reviewer.services.export import export_plan
from reviewer.services.export_assemble import export_assemble
from reviewer.services.export_chunks import export_chunk_render


@shared_task(bind=True, **jobs.task_options(jobs.RENDER_EXPORT))
def render_export(self, export_id: int) -> None:
    export_plan(export_id=export_id)


@shared_task(bind=True, **jobs.task_options(jobs.RENDER_EXPORT_CHUNK))
def render_export_chunk(self, chunk_id: int) -> None:
    export_chunk_render(chunk_id=chunk_id)


@shared_task(bind=True, **jobs.task_options(jobs.ASSEMBLE_EXPORT))
def assemble_export(self, export_id: int) -> None:
    export_assemble(export_id=export_id)
