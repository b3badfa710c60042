"""A run's chunks are written in bulk and sent a bounded number at a time: the start, each finished chunk and
reconcile send the next waiting ones, never more than VEIL_DETECTION_IN_FLIGHT out at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from reviewer import jobs
from reviewer.models import DetectionChunk, DetectionRun
from reviewer.services import detection_feed
from reviewer.services.detection import detection_chunk_process, detection_run_retry_failed, detection_run_start
from reviewer.services.reconcile import detection_reconcile
from tests.factories import DatasetFactory, ImageFactory

pytestmark = pytest.mark.django_db


class NoFaces:
    def detect(self, pixels):
        return []


class Broken:
    def detect(self, pixels):
        raise ValueError("odd pixels")  # fails each image, not the chunk


def sent_ids(callbacks) -> list[int]:
    """The chunk ids the captured on-commit callbacks would send, in order."""
    sent: list[int] = []
    original = jobs.send
    jobs.send = lambda name, *args: sent.append(args[0])
    try:
        for callback in callbacks:
            callback()
    finally:
        jobs.send = original
    return sent


def in_flight(run) -> list[int]:
    return sorted(
        run.chunks.filter(status__in=["queued", "running"], queued_at__isnull=False).values_list("index", flat=True)
    )


@pytest.fixture
def run_of_ten(admin_user, settings, django_capture_on_commit_callbacks):
    """A run of 10 chunks of 1 image, at most 3 in flight; its start's sends captured."""
    settings.VEIL_DETECTION_CHUNK_SIZE = 1
    settings.VEIL_DETECTION_IN_FLIGHT = 3
    dataset = DatasetFactory()
    ImageFactory.create_batch(10, dataset=dataset)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = detection_run_start(dataset=dataset, detector="centerface", settings={}, user=admin_user)
    return run, callbacks


def test_start_writes_every_chunk_but_sends_only_the_first_ones(run_of_ten):
    run, callbacks = run_of_ten
    chunks = list(run.chunks.order_by("index"))

    assert len(chunks) == 10
    assert (run.chunks_total, run.images_total) == (10, 10)
    assert sent_ids(callbacks) == [c.pk for c in chunks[:3]]
    assert in_flight(run) == [0, 1, 2]
    assert all(c.queued_at is None and c.status == "queued" for c in chunks[3:])  # waiting their turn


@pytest.mark.parametrize("in_database", [True, False], ids=["one INSERT ... SELECT", "pages of ids (SQLite)"])
def test_start_cuts_the_images_in_id_order_in_one_statement_or_a_page_at_a_time(
    admin_user, settings, monkeypatch, in_database
):
    settings.VEIL_DETECTION_CHUNK_SIZE = 3
    if in_database and connection.vendor != "postgresql":
        pytest.skip("the INSERT ... SELECT is PostgreSQL's")
    monkeypatch.setattr(detection_feed, "_cut_in_database", lambda: in_database)
    monkeypatch.setattr(detection_feed, "CHUNKS_PER_INSERT", 2)  # pages of 6 ids
    dataset = DatasetFactory()
    ImageFactory.create_batch(2, dataset=DatasetFactory())  # another dataset's images are not in the run
    images = ImageFactory.create_batch(14, dataset=dataset)

    with CaptureQueriesContext(connection) as captured:
        run = detection_run_start(dataset=dataset, detector="centerface", settings={}, user=admin_user, enqueue=False)

    ids = [i.pk for i in images]
    assert [c.image_ids for c in run.chunks.order_by("index")] == [ids[i : i + 3] for i in range(0, 14, 3)]
    assert (run.chunks_total, run.images_total) == (5, 14)
    writes = [q["sql"] for q in captured.captured_queries if "INSERT INTO reviewer_detectionchunk" in q["sql"]]
    inserts = [
        q["sql"] for q in captured.captured_queries if q["sql"].startswith('INSERT INTO "reviewer_detectionchunk"')
    ]
    # One statement in the database, or one INSERT per page of 2 chunks: never one per chunk.
    assert (len(writes), len(inserts)) == ((1, 0) if in_database else (0, 3))
    assert not run.chunks.filter(queued_at__isnull=False).exists()  # enqueue=False sends nothing


def test_a_finished_chunk_sends_the_next_waiting_one_in_index_order(run_of_ten, django_capture_on_commit_callbacks):
    run, _ = run_of_ten
    first = run.chunks.get(index=0)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        detection_chunk_process(chunk_id=first.pk, detector=NoFaces())

    assert sent_ids(callbacks) == [run.chunks.get(index=3).pk]
    assert in_flight(run) == [1, 2, 3]
    run.refresh_from_db()
    assert (run.chunks_done, run.status) == (1, DetectionRun.Status.RUNNING)


def test_a_chunk_processed_twice_counts_once_and_sends_nothing_more(run_of_ten, django_capture_on_commit_callbacks):
    run, _ = run_of_ten
    first = run.chunks.get(index=0)
    with django_capture_on_commit_callbacks(execute=False):
        detection_chunk_process(chunk_id=first.pk, detector=NoFaces())
        # Another delivery of the same message (redelivered after a lost ack), and the feeder asked again.
        detection_chunk_process(chunk_id=first.pk, detector=NoFaces())
        assert detection_feed.detection_run_feed(run_id=run.pk) == []

    run.refresh_from_db()
    assert run.chunks_done == 1
    assert in_flight(run) == [1, 2, 3]


def test_the_last_chunks_finish_the_run_and_nothing_is_left_waiting(run_of_ten, django_capture_on_commit_callbacks):
    run, _ = run_of_ten
    with django_capture_on_commit_callbacks(execute=False):
        while chunk := run.chunks.filter(status="queued", queued_at__isnull=False).order_by("index").first():
            detection_chunk_process(chunk_id=chunk.pk, detector=NoFaces())
            assert len(in_flight(run)) <= 3

    run.refresh_from_db()
    assert run.status == DetectionRun.Status.DONE
    assert (run.chunks_total, run.chunks_done, run.chunks_failed, run.results_done) == (10, 10, 0, 10)


@pytest.mark.django_db(transaction=True)
def test_the_broker_down_when_a_chunk_finishes_leaves_the_next_ones_waiting_for_reconcile(
    admin_user, settings, monkeypatch
):
    """Committed for real (the worker's case): the messages go at each commit, through a stand-in for the broker."""
    settings.VEIL_DETECTION_CHUNK_SIZE = 1
    settings.VEIL_DETECTION_IN_FLIGHT = 3
    sent = []
    monkeypatch.setattr(jobs, "send", lambda name, *args: sent.append(args[0]))
    dataset = DatasetFactory()
    ImageFactory.create_batch(10, dataset=dataset)
    run = detection_run_start(dataset=dataset, detector="centerface", settings={}, user=admin_user)
    assert len(sent) == 3

    def down(name, *args):
        raise KombuOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(jobs, "send", down)
    chunk = detection_chunk_process(chunk_id=run.chunks.get(index=0).pk, detector=NoFaces())  # raises nothing

    assert chunk.status == DetectionChunk.Status.DONE
    assert run.chunks.get(index=3).queued_at is None  # marked as not sent again: it waits
    assert in_flight(run) == [1, 2]

    monkeypatch.setattr(jobs, "send", lambda name, *args: sent.append(args[0]))
    report = detection_reconcile()
    assert report.requeued == [run.chunks.get(index=3).pk] == sent[3:]
    assert in_flight(run) == [1, 2, 3]


def test_reconcile_tops_a_run_up_to_the_limit_and_sends_lost_chunks_first(
    run_of_ten, django_capture_on_commit_callbacks
):
    run, _ = run_of_ten
    long_ago = timezone.now() - timedelta(hours=1)
    # Chunk 0's worker was killed; 1 and 2 were done by a worker whose feeding failed (nothing sent after them).
    run.chunks.filter(index=0).update(status="running", started_at=long_ago, heartbeat_at=long_ago, attempts=1)
    run.chunks.filter(index__in=[1, 2]).update(status="done")
    DetectionRun.objects.filter(pk=run.pk).update(status="running", chunks_done=2)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = detection_reconcile()

    chunk = {c.index: c.pk for c in run.chunks.all()}
    assert report.requeued == [chunk[0], chunk[3], chunk[4]]  # the lost one again, then room for two more
    assert sent_ids(callbacks) == report.requeued
    assert in_flight(run) == [0, 3, 4]
    with django_capture_on_commit_callbacks(execute=False):
        assert detection_reconcile().requeued == []  # full: the next pass sends nothing


def test_reconcile_reads_a_fixed_number_of_queries_whatever_the_number_of_chunks(
    admin_user, settings, django_capture_on_commit_callbacks
):
    """One run with a lost chunk and room for one more, at 12 then at 60 chunks: the same queries."""
    settings.VEIL_DETECTION_CHUNK_SIZE = 1
    settings.VEIL_DETECTION_IN_FLIGHT = 3
    counts = []
    for images in (12, 60):
        DetectionRun.objects.update(status="done")  # the earlier run is out of the way
        dataset = DatasetFactory()
        ImageFactory.create_batch(images, dataset=dataset)
        with django_capture_on_commit_callbacks(execute=False):
            run = detection_run_start(dataset=dataset, detector="centerface", settings={}, user=admin_user)
        long_ago = timezone.now() - timedelta(hours=1)
        run.chunks.filter(index=0).update(status="running", started_at=long_ago, heartbeat_at=long_ago, attempts=1)
        run.chunks.filter(index=1).update(status="done")
        DetectionRun.objects.filter(pk=run.pk).update(status="running", chunks_done=1)
        with django_capture_on_commit_callbacks(execute=False), CaptureQueriesContext(connection) as captured:
            report = detection_reconcile()
        assert len(report.requeued) == 2
        counts.append(len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]))
    # The active runs; per run: its lost chunks, the lost one locked and updated; the feeder's run lock, count of
    # chunks in flight, waiting ones and their update; the completion check (the run locked, any open chunk).
    assert counts == [10, 10]


@pytest.mark.parametrize("in_database", [True, False], ids=["one INSERT ... SELECT", "pages of ids (SQLite)"])
def test_retry_sends_the_failed_images_again_as_new_chunks_a_bounded_number_at_a_time(
    admin_user, settings, django_capture_on_commit_callbacks, monkeypatch, in_database
):
    if in_database and connection.vendor != "postgresql":
        pytest.skip("the INSERT ... SELECT is PostgreSQL's")
    monkeypatch.setattr(detection_feed, "_cut_in_database", lambda: in_database)
    settings.VEIL_DETECTION_CHUNK_SIZE = 1
    settings.VEIL_DETECTION_IN_FLIGHT = 2
    dataset = DatasetFactory()
    images = ImageFactory.create_batch(4, dataset=dataset)
    with django_capture_on_commit_callbacks(execute=False):
        run = detection_run_start(dataset=dataset, detector="centerface", settings={}, user=admin_user)
        while chunk := run.chunks.filter(status="queued", queued_at__isnull=False).first():
            detection_chunk_process(chunk_id=chunk.pk, detector=Broken())
    run.refresh_from_db()
    assert (run.status, run.results_failed) == (DetectionRun.Status.FAILED, 4)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert detection_run_retry_failed(run=run, user=admin_user) == 4

    retry = list(run.chunks.filter(index__gte=4).order_by("index"))
    assert [c.image_ids for c in retry] == [[i.pk] for i in images]
    assert sent_ids(callbacks) == [retry[0].pk, retry[1].pk]
    run.refresh_from_db()
    assert (run.chunks_total, run.results_failed, run.status) == (8, 0, DetectionRun.Status.RUNNING)
