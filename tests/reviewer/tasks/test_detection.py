"""Detection through a real Celery worker process on the configured broker (Redis in CI, files elsewhere)."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pytest
from django.db.models import Count
from django.utils import timezone
from skimage import data

from reviewer.imaging.geometry import Box, iou
from reviewer.models import DetectionChunk, DetectionResult, DetectionRun, Image, Proposal
from reviewer.services.detection import detection_run_start
from reviewer.services.reconcile import detection_reconcile
from reviewer.tasks.detection import opencv_threads
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


def test_a_worker_killed_mid_chunk_loses_no_work_and_duplicates_nothing(celery_worker, settings):
    settings.VEIL_DETECTION_CHUNK_SIZE = 8
    admin = AdminFactory()
    dataset = DatasetFactory()
    photos = _astronauts(dataset, 16)
    run = detection_run_start(dataset=dataset, detector="centerface", settings={"thorough": True}, user=admin)

    # Kill the worker (SIGKILL, as the OOM killer would) once its first chunk is part-way through.
    _wait(lambda: DetectionResult.objects.filter(run=run).count() >= 2, 120, celery_worker, "the first results")
    celery_worker.kill()
    done_before = DetectionResult.objects.filter(run=run).count()
    assert done_before < len(photos)
    assert run.chunks.filter(status=DetectionChunk.Status.RUNNING).exists()

    # A new worker starts; reconcile (run by beat every minute) finds the chunk stuck in "running" and queues
    # it again. The chunks still waiting on the queue are queued a second time too: duplicates on purpose.
    celery_worker.start()
    report = detection_reconcile(after_seconds=0, now=timezone.now() + timedelta(seconds=1))
    assert report.requeued
    _wait(lambda: _finished(run), 240, celery_worker, "the run to finish after the kill")

    assert run.status == DetectionRun.Status.DONE
    assert DetectionResult.objects.filter(run=run).count() == len(photos)
    per_image = Proposal.objects.filter(run=run).values("image_id", "ordinal").annotate(n=Count("id"))
    assert all(row["n"] == 1 for row in per_image)
    for photo in photos:
        result = DetectionResult.objects.get(run=run, image=photo)
        assert result.face_count == photo.proposals.filter(run=run).count()
        assert iou(photo.proposals.filter(run=run).order_by("-score").first().box, FACE) > 0.6
    celery_worker.kill()
