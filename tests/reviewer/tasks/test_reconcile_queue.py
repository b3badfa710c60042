"""Reconcile has a queue of its own: a real worker takes it at once, not after the backlog it is there to rescue."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import pytest
from celery import current_app

from reviewer import jobs
from tests.conftest import WorkerProcess, purge_broker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def queue_length(name: str) -> int:
    with current_app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue=name, passive=True).message_count


def test_reconcile_is_taken_before_the_backlog_of_work(settings, tmp_path):
    with contextlib.suppress(Exception):
        purge_broker()
    backlog = 40
    for n in range(backlog):  # chunks that no longer exist: each a quick no-op, but each a message to get through
        jobs.send(jobs.DETECT_CHUNK, 10_000_000 + n)
    jobs.send(jobs.RECONCILE)  # as beat sends it, routed by reviewer.jobs to its own queue
    assert queue_length(jobs.RECONCILE_QUEUE) == 1
    assert queue_length(jobs.WORK_QUEUE) == backlog

    worker = WorkerProcess(tmp_path, Path(settings.MEDIA_ROOT), Path(settings.VEIL_EXPORT_DIR)).start()
    try:
        deadline = time.monotonic() + 120
        while "reviewer.tasks.reconcile[" not in worker.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        received = re.findall(r"Task (reviewer\.tasks\.[a-z_.]+)\[[^]]+\] received", worker.log())
        assert jobs.RECONCILE in received, worker.log()[-3000:]
        # Among the first few tasks the worker took, not behind the 40 chunks queued before it.
        assert received.index(jobs.RECONCILE) <= 3, received
    finally:
        worker.kill()
        with contextlib.suppress(Exception):
            purge_broker()
