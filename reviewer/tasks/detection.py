"""Detection tasks: one per chunk of a run's images, and the periodic reconcile step.

Thin: they take ids and call a service. The service is idempotent, so a redelivered message (acks_late with
reject_on_worker_lost: a killed worker's message goes back on the queue) adds nothing twice.
"""

from __future__ import annotations

import logging
import os

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_init

from reviewer import jobs
from reviewer.services.detection import detection_chunk_process
from reviewer.services.reconcile import reconcile as reconcile_all

logger = logging.getLogger(__name__)


_concurrency = 1


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def opencv_threads(concurrency: int, cores: int | None = None) -> int:
    """OpenCV threads per worker process: the worker's share of the cores, so processes do not oversubscribe."""
    return max(1, (cores or _cores()) // max(1, concurrency))


@worker_init.connect
def _remember_concurrency(sender=None, **_kwargs) -> None:
    # worker_init runs in the worker's main process with the WorkController as sender, whose .concurrency is
    # the resolved -c/--concurrency (or worker_concurrency) value. The prefork children inherit this global.
    global _concurrency
    concurrency = getattr(sender, "concurrency", None)
    _concurrency = concurrency if isinstance(concurrency, int) and concurrency > 0 else 1
    if "prefork" not in str(getattr(sender, "pool_cls", "prefork")):
        # The solo and threads pools run tasks in this process. A prefork parent must not start OpenCV's
        # thread pool: its children are forked from it, and threads do not survive a fork.
        _set_threads()


@worker_process_init.connect
def _set_threads(**_kwargs) -> None:
    import cv2

    threads = opencv_threads(_concurrency)
    cv2.setNumThreads(threads)
    logger.info("OpenCV uses %d thread(s) in worker process %d (concurrency %d)", threads, os.getpid(), _concurrency)


@shared_task(bind=True, **jobs.task_options(jobs.DETECT_CHUNK))
def detect_chunk(self, chunk_id: int) -> None:
    try:
        detection_chunk_process(chunk_id=chunk_id)
    except SoftTimeLimitExceeded as exc:
        # The images finished so far are saved; the retry carries on from the first without a result.
        raise self.retry(exc=exc, countdown=10) from exc


@shared_task(**jobs.task_options(jobs.RECONCILE))
def reconcile() -> dict:
    return reconcile_all()
