"""Export tasks: one per export, rendering it from start to end.

Thin: the service does the work and is safe to run again (a redelivered message finds the export done and
returns, or finds it left running by a killed worker and starts it over under a new temporary name).
"""

from __future__ import annotations

from celery import shared_task

from reviewer.services.export import TRANSIENT, export_render

# An export renders ~20-50 images/s without the leak check and ~8/s with it on 2 cores: 3 h covers ~80,000
# images. Larger datasets raise these or export in parts.
EXPORT_SOFT_TIME_LIMIT = 3 * 3600
EXPORT_TIME_LIMIT = EXPORT_SOFT_TIME_LIMIT + 300


@shared_task(
    bind=True,
    name="reviewer.tasks.export.render_export",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=EXPORT_SOFT_TIME_LIMIT,
    time_limit=EXPORT_TIME_LIMIT,
    autoretry_for=TRANSIENT,
    retry_backoff=10,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def render_export(self, export_id: int) -> None:
    export_render(export_id=export_id)
