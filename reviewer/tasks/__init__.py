"""Celery tasks, thin: each takes ids, calls one service, retries what deserves a retry.

Each area keeps its tasks in its own module; importing them here lets Celery's autodiscovery find them.
"""

from reviewer.tasks import detection, export, ingest

__all__ = ["detection", "export", "ingest"]
