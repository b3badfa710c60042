"""Detection through a real Celery worker process on the configured broker (Redis in CI, files elsewhere)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np
import pytest
from django.db.models import Count
from skimage import data

from reviewer import jobs
from reviewer.imaging.geometry import Box, iou
from reviewer.models import DetectionChunk, DetectionResult, DetectionRun, Image, Proposal
from reviewer.services.detection import detection_run_start
from reviewer.services.reconcile import detection_reconcile
from reviewer.tasks.detection import opencv_threads
from tests.conftest import WorkerProcess, purge_broker
from tests.factories import AdminFactory, DatasetFactory, ImageFactory
from tests.images import encode

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FACE = Box(178, 60, 268, 178)  # the astronaut's face in skimage's 512x512 photograph


def _astronauts(dataset, count: int) -> list[Image]:
    """Distinct files (a corner block differs) of the same photograph, so each image's box is known."""
    images = []
    for i in range(count):
        pixels = data.astronaut().copy()
        pixels[-16:, -16:] = ((i * 37) % 256, (i * 91) % 256, 255 - i)
        images.append(ImageFactory(dataset=dataset, content=encode(pixels, "JPEG"), relative_path=f"a/{i:03d}.jpg"))
    return images


def _wait(predicate, timeout: float, worker, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.log()[-4000:]}")


def _finished(run: DetectionRun) -> bool:
    run.refresh_from_db()
    return run.status in (DetectionRun.Status.DONE, DetectionRun.Status.FAILED)


def test_a_worker_runs_detection_end_to_end(celery_worker, settings):
    settings.VEIL_DETECTION_CHUNK_SIZE = 2
    admin = AdminFactory()
    dataset = DatasetFactory()
    photos = _astronauts(dataset, 3)
    blank = ImageFactory(dataset=dataset, content=encode(np.full((90, 120, 3), 230, np.uint8)))

    run = detection_run_start(dataset=dataset, detector="centerface", settings={}, user=admin)
    _wait(lambda: _finished(run), 120, celery_worker, "the run to finish")

    assert run.status == DetectionRun.Status.DONE
    assert set(run.chunks.values_list("status", flat=True)) == {DetectionChunk.Status.DONE}
    for photo in photos:
        best = photo.proposals.filter(run=run).order_by("-score").first()
        assert best is not None
        assert iou(best.box, FACE) > 0.6
    assert not blank.proposals.exists()
    dataset.refresh_from_db()
    assert dataset.current_detection_run == run
    assert set(dataset.images.values_list("status", flat=True)) == {Image.Status.DETECTED}
    assert f"OpenCV uses {opencv_threads(1)} thread(s) in worker process" in celery_worker.log()  # concurrency 1
    celery_worker.kill()  # all is committed; a warm shutdown after OpenCV work takes 30 s in the fixture


def test_a_worker_killed_mid_chunk_has_its_chunk_redone_once_its_heartbeat_stops(settings, tmp_path):
    """The whole worker SIGKILLed mid-chunk (as the OOM killer would): reconcile, run as beat runs it and with the
    reconcile age at its default (900 s), sends the chunk again as soon as its heartbeat is stale, not after the
    reconcile age; a new worker finishes it, and nothing is written twice."""
    settings.VEIL_DETECTION_CHUNK_SIZE = 8
    settings.VEIL_WORKER_STALE_SECONDS = 5
    assert settings.VEIL_RECONCILE_AFTER_SECONDS == 900
    with contextlib.suppress(Exception):  # a queue that does not exist yet has nothing to purge
        purge_broker()
    worker = WorkerProcess(
        tmp_path,
        Path(settings.MEDIA_ROOT),
        Path(settings.VEIL_EXPORT_DIR),
        env={"VEIL_WORKER_HEARTBEAT_SECONDS": "1", "VEIL_WORKER_STALE_SECONDS": "5"},
    ).start()
    try:
        admin = AdminFactory()
        dataset = DatasetFactory()
        photos = _astronauts(dataset, 16)
        run = detection_run_start(dataset=dataset, detector="centerface", settings={"thorough": True}, user=admin)
        _wait(lambda: DetectionResult.objects.filter(run=run).count() >= 2, 120, worker, "the first results")
        worker.kill()
        killed_at = time.monotonic()
        dead = run.chunks.get(status=DetectionChunk.Status.RUNNING)
        assert DetectionResult.objects.filter(run=run).count() < len(photos)

        # Its heartbeat is still fresh: a killed worker is not told from a slow one before the stale age.
        assert dead.pk not in detection_reconcile().requeued

        worker.start()
        requeued_after = None
        deadline = time.monotonic() + 240
        while not _finished(run):
            assert time.monotonic() < deadline, f"the run did not finish; worker log:\n{worker.log()[-4000:]}"
            if dead.pk in detection_reconcile().requeued:  # beat sends reconcile; here every second
                requeued_after = requeued_after or time.monotonic() - killed_at
            time.sleep(1)
        recovered_after = time.monotonic() - killed_at

        assert requeued_after is not None
        assert 4 <= requeued_after < 60  # the stale age (5 s) and a little, never the reconcile age (900 s)
        assert run.status == DetectionRun.Status.DONE
        dead.refresh_from_db()
        assert (dead.status, dead.attempts) == (DetectionChunk.Status.DONE, 2)
        assert DetectionResult.objects.filter(run=run).count() == len(photos)
        per_image = Proposal.objects.filter(run=run).values("image_id", "ordinal").annotate(n=Count("id"))
        assert all(row["n"] == 1 for row in per_image)
        for photo in photos:
            result = DetectionResult.objects.get(run=run, image=photo)
            assert result.face_count == photo.proposals.filter(run=run).count()
            assert iou(photo.proposals.filter(run=run).order_by("-score").first().box, FACE) > 0.6
        print(f"killed chunk sent again after {requeued_after:.1f} s, run done {recovered_after:.1f} s after the kill")
    finally:
        worker.kill()


def test_a_run_larger_than_the_in_flight_limit_is_fed_by_its_workers_with_never_more_out(settings, tmp_path):
    """Eight chunks, at most two out: the start sends two, each chunk a worker finishes sends the next, and the run
    finishes with no reconcile pass; the broker never holds more than two of the run's messages."""
    settings.VEIL_DETECTION_CHUNK_SIZE = 1
    settings.VEIL_DETECTION_IN_FLIGHT = 2
    with contextlib.suppress(Exception):  # a queue that does not exist yet has nothing to purge
        purge_broker()
    worker = WorkerProcess(
        tmp_path,
        Path(settings.MEDIA_ROOT),
        Path(settings.VEIL_EXPORT_DIR),
        concurrency=2,
        env={"VEIL_DETECTION_IN_FLIGHT": "2", "VEIL_DETECTION_CHUNK_SIZE": "1"},
    ).start()
    try:
        admin = AdminFactory()
        dataset = DatasetFactory()
        photos = _astronauts(dataset, 8)
        run = detection_run_start(dataset=dataset, detector="centerface", settings={}, user=admin)
        out, messages = [], []
        deadline = time.monotonic() + 180
        while not _finished(run):
            assert time.monotonic() < deadline, f"the run did not finish; worker log:\n{worker.log()[-4000:]}"
            out.append(run.chunks.filter(status__in=["queued", "running"], queued_at__isnull=False).count())
            messages.append(_messages_waiting())
            time.sleep(0.05)

        assert run.status == DetectionRun.Status.DONE
        assert (run.chunks_total, run.chunks_done) == (8, 8)
        assert max(out) <= 2
        assert max(messages) <= 2
        assert DetectionResult.objects.filter(run=run).count() == len(photos)
        for photo in photos:
            assert iou(photo.proposals.filter(run=run).order_by("-score").first().box, FACE) > 0.6
    finally:
        worker.kill()


def _messages_waiting() -> int:
    """Messages on the work queue of the broker (Redis: a list per priority step; other brokers: not counted)."""
    from config.celery import app

    with app.connection_for_write() as conn:
        try:
            return conn.default_channel.client.llen(jobs.WORK_QUEUE)
        except AttributeError:  # not Redis
            return 0
