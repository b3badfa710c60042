"""reviewer/jobs.py: tasks sent by name on their queues, nothing sent before commit, no service importing a task."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from celery import current_app
from django.db import transaction

from reviewer import jobs
from reviewer.tasks import detection as detection_tasks
from reviewer.tasks import export as export_tasks
from reviewer.tasks import ingest as ingest_tasks

ROOT = Path(__file__).resolve().parents[2]


def test_no_service_or_selector_imports_a_task_module():
    # A fresh interpreter with Django set up (as a web process is): importing every service and selector module
    # must leave reviewer.tasks out of sys.modules, so services and tasks no longer import each other.
    code = """
import importlib, pkgutil, sys
import django
django.setup()
import reviewer.selectors, reviewer.services
loaded = []
for package in (reviewer.services, reviewer.selectors):
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
        loaded.append(info.name)
import reviewer.jobs, reviewer.errors
tasks = sorted(m for m in sys.modules if m == "reviewer.tasks" or m.startswith("reviewer.tasks."))
print(len(loaded), tasks)
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
    ).stdout.split("\n")[-2]
    count, tasks = out.split(" ", 1)
    assert int(count) >= 10  # every service and selector module was imported
    assert tasks == "[]"
    # Nor later, from inside a function: a service sends work by name through reviewer.jobs.
    for package in ("services", "selectors"):
        for path in (ROOT / "reviewer" / package).glob("*.py"):
            text = path.read_text()
            assert "from reviewer.tasks" not in text, path.name
            assert "import reviewer.tasks" not in text, path.name


def test_tasks_take_their_names_limits_and_queues_from_jobs():
    chunk, render = detection_tasks.detect_chunk, export_tasks.render_export
    assert (chunk.name, chunk.time_limit) == (jobs.DETECT_CHUNK, 600)
    assert (render.name, render.soft_time_limit) == (jobs.RENDER_EXPORT, 1800)  # the plan: cut into chunks
    export_chunk, assemble = export_tasks.render_export_chunk, export_tasks.assemble_export
    assert (export_chunk.name, export_chunk.soft_time_limit) == (jobs.RENDER_EXPORT_CHUNK, 900)  # per chunk
    assert (export_chunk.time_limit, export_chunk.acks_late) == (960, True)
    assert (assemble.name, assemble.soft_time_limit) == (jobs.ASSEMBLE_EXPORT, 3 * 3600)
    assert detection_tasks.reconcile.name == jobs.RECONCILE
    assert (ingest_tasks.import_run.name, ingest_tasks.import_run.time_limit) == (jobs.IMPORT_RUN, 720)
    assert chunk.acks_late
    assert chunk.reject_on_worker_lost
    # Routed by Celery's own router, so a retry goes back to the same queue.
    router = current_app.amqp.router
    assert router.route({}, jobs.RECONCILE)["queue"].name == jobs.RECONCILE_QUEUE
    assert router.route({}, jobs.DETECT_CHUNK)["queue"].name == jobs.WORK_QUEUE
    assert router.route({}, jobs.IMPORT_RUN)["queue"].name == jobs.WORK_QUEUE


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_sends_by_name_only_after_the_commit(monkeypatch):
    sent = []
    monkeypatch.setattr(jobs, "send", lambda name, *args: sent.append((name, args)))
    with transaction.atomic():
        jobs.enqueue_on_commit(jobs.RENDER_EXPORT, 7)
        assert sent == []  # a worker must never see a row that is not committed
    assert sent == [(jobs.RENDER_EXPORT, (7,))]
    with transaction.atomic():
        jobs.enqueue_on_commit(jobs.RENDER_EXPORT, 8)
        transaction.set_rollback(True)
    assert sent == [(jobs.RENDER_EXPORT, (7,))]  # nothing sent for a rolled-back transaction


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_is_down_marks_the_rest_unsent_and_says_so(monkeypatch):
    calls = []

    def send(name, *args):
        if len(calls) == 2:
            raise ConnectionRefusedError(111, "Connection refused")
        calls.append(args)

    unsent = []
    monkeypatch.setattr(jobs, "send", send)
    with pytest.raises(jobs.BrokerUnavailable) as caught, transaction.atomic():
        jobs.enqueue_on_commit(
            jobs.DETECT_CHUNK,
            many=[(1,), (2,), (3,), (4,)],
            on_broker_down=unsent.append,
            message="Kept.",
            extra={"run": 5},
        )
    assert calls == [(1,), (2,)]
    assert unsent == [2]  # two were sent; the caller marks the other two
    assert (caught.value.http_status, caught.value.message, caught.value.extra) == (503, "Kept.", {"run": 5})


def test_a_send_through_a_closed_producer_pool_goes_through_a_new_one(settings):
    """kombu closes its pools after a fork or a reset; a process left holding them must still send."""
    from celery import current_app

    current_app.producer_pool.force_close_all()  # what a reset or billiard's after-fork hook leaves behind
    sent = []
    original = current_app.amqp.send_task_message

    def record(producer, name, message, **kwargs):
        sent.append(name)

    current_app.amqp.send_task_message = record
    try:
        jobs.send(jobs.RECONCILE)
    finally:
        current_app.amqp.send_task_message = original
    assert sent == [jobs.RECONCILE]
