"""Detection runs: chunks, results, proposals, current run, retries and reconcile, with the real CenterFace."""

from __future__ import annotations

import io
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from PIL import Image as PILImage
from skimage import data

from reviewer.errors import Conflict, Forbidden, ServiceError
from reviewer.imaging.geometry import Box, iou
from reviewer.models import DetectionChunk, DetectionResult, DetectionRun, Export, Image, Proposal
from reviewer.services.detection import (
    detection_chunk_process,
    detection_run_make_current,
    detection_run_process_sync,
    detection_run_retry_failed,
    detection_run_start,
)
from reviewer.services.reconcile import MAX_CHUNK_ATTEMPTS, detection_reconcile, reconcile
from reviewer.tasks.detection import opencv_threads
from tests.factories import DatasetFactory, ImageFactory
from tests.images import encode, truncated_jpeg_bytes

FACE = Box(178, 60, 268, 178)  # the astronaut's face in skimage's 512x512 photograph

pytestmark = pytest.mark.django_db


@pytest.fixture
def astronaut_jpeg() -> bytes:
    return encode(data.astronaut(), "JPEG")


def _break_file(image: Image) -> None:
    """The stored original goes bad after import (disk damage): detection must report it, not crash."""
    Path(image.file.path).write_bytes(truncated_jpeg_bytes())


def _start(dataset, user, *, settings_=None, enqueue=False):
    return detection_run_start(dataset=dataset, detector="centerface", settings=settings_, user=user, enqueue=enqueue)


def test_start_cuts_the_images_into_chunks_and_records_the_detector(
    admin_user, settings, django_capture_on_commit_callbacks
):
    settings.VEIL_DETECTION_CHUNK_SIZE = 2
    dataset = DatasetFactory()
    images = ImageFactory.create_batch(5, dataset=dataset)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = detection_run_start(
            dataset=dataset, detector="centerface", settings={"threshold": 0.3, "long_side": 640}, user=admin_user
        )

    assert len(callbacks) == 1  # the chunks are sent only once the run is committed
    assert [c.image_ids for c in run.chunks.order_by("index")] == [
        [images[0].pk, images[1].pk],
        [images[2].pk, images[3].pk],
        [images[4].pk],
    ]
    assert run.status == DetectionRun.Status.QUEUED
    assert run.images_total == 5
    assert run.detector == "centerface"
    assert "opencv 5." in run.detector_version
    assert len(run.weights_sha256) == 64
    assert run.settings["threshold"] == 0.3
    assert run.settings["long_side"] == 640
    assert run.settings["thorough"] is False
    assert run.created_by == admin_user


def test_defaults_come_from_the_settings(admin_user, settings):
    settings.VEIL_DETECTION_THRESHOLD = 0.25
    settings.VEIL_DETECTION_LONG_SIDE = 700
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)

    run = _start(dataset, admin_user, settings_={"threshold": "", "long_side": None})

    assert run.settings["threshold"] == 0.25
    assert run.settings["long_side"] == 700


@pytest.mark.parametrize(
    ("detector", "options", "message"),
    [
        ("magic", {}, "Unknown detector 'magic'"),
        ("centerface", {"threshold": 2}, "threshold must lie between 0 and 1"),
        ("centerface", {"long_side": "big"}, "long_side must be a whole number"),
        ("yunet", {}, "YuNet needs model_path"),
    ],
)
def test_start_refuses_bad_detectors_and_settings(admin_user, detector, options, message):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)

    with pytest.raises(ServiceError, match=message):
        detection_run_start(dataset=dataset, detector=detector, settings=options, user=admin_user)
    assert not DetectionRun.objects.exists()


def test_start_refuses_an_empty_dataset(admin_user):
    with pytest.raises(ServiceError, match="has no images"):
        _start(DatasetFactory(name="empty"), admin_user)


def test_start_refuses_reviewers(reviewer_user):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)

    with pytest.raises(Forbidden):
        _start(dataset, reviewer_user)
    assert not DetectionRun.objects.exists()


def test_a_run_puts_the_box_on_the_face_and_reports_a_broken_file(admin_user, astronaut_jpeg):
    dataset = DatasetFactory()
    photo = ImageFactory(dataset=dataset, content=astronaut_jpeg, relative_path="astronaut.jpg")
    broken = ImageFactory(dataset=dataset, relative_path="broken.jpg")
    _break_file(broken)

    run = detection_run_process_sync(run=_start(dataset, admin_user))

    assert run.status == DetectionRun.Status.FAILED  # "done with failures"
    assert run.finished_at is not None
    done = DetectionResult.objects.get(run=run, image=photo)
    assert (done.status, done.face_count) == (DetectionResult.Status.DONE, len(photo.proposals.all()))
    best = photo.proposals.order_by("-score").first()
    assert iou(best.box, FACE) > 0.6
    failed = DetectionResult.objects.get(run=run, image=broken)
    assert failed.status == DetectionResult.Status.FAILED
    assert "truncated or corrupt" in failed.error
    assert not broken.proposals.exists()
    # The first run of a dataset becomes its current run; images with results become "detected".
    dataset.refresh_from_db()
    assert dataset.current_detection_run == run
    photo.refresh_from_db()
    broken.refresh_from_db()
    assert photo.status == Image.Status.DETECTED
    assert broken.status == Image.Status.NEW


def test_a_redelivered_chunk_adds_nothing(admin_user, astronaut_jpeg):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset, content=astronaut_jpeg)
    ImageFactory(dataset=dataset)
    run = _start(dataset, admin_user)
    chunk = run.chunks.get()
    detection_chunk_process(chunk_id=chunk.pk)
    proposals = sorted(Proposal.objects.filter(run=run).values_list("image_id", "ordinal", "x0", "y0", "x1", "y1"))

    # The broker hands the same message out again after the chunk's worker died before acknowledging it.
    DetectionChunk.objects.filter(pk=chunk.pk).update(status=DetectionChunk.Status.RUNNING)
    detection_chunk_process(chunk_id=chunk.pk)

    assert (
        sorted(Proposal.objects.filter(run=run).values_list("image_id", "ordinal", "x0", "y0", "x1", "y1")) == proposals
    )
    assert DetectionResult.objects.filter(run=run).count() == 2
    assert DetectionChunk.objects.get(pk=chunk.pk).attempts == 2


def test_the_database_refuses_a_second_result_or_proposal_for_the_same_image(admin_user):
    dataset = DatasetFactory()
    image = ImageFactory(dataset=dataset)
    run = detection_run_process_sync(run=_start(dataset, admin_user))
    Proposal.objects.create(run=run, image=image, ordinal=0, score=0.5, x0=1, y0=1, x1=5, y1=5)

    with pytest.raises(IntegrityError), transaction.atomic():
        DetectionResult.objects.create(run=run, image=image, status=DetectionResult.Status.DONE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Proposal.objects.create(run=run, image=image, ordinal=0, score=0.5, x0=1, y0=1, x1=5, y1=5)


def test_a_chunk_of_a_deleted_run_is_ignored():
    assert detection_chunk_process(chunk_id=987654) is None


def test_a_later_run_becomes_current_when_it_finishes_and_make_current_goes_back(admin_user, astronaut_jpeg):
    dataset = DatasetFactory()
    photo = ImageFactory(dataset=dataset, content=astronaut_jpeg)
    first = detection_run_process_sync(run=_start(dataset, admin_user))
    first_boxes = list(Proposal.objects.filter(run=first).values_list("x0", "y0", "x1", "y1", "score"))

    second = detection_run_process_sync(run=_start(dataset, admin_user, settings_={"thorough": True}))

    dataset.refresh_from_db()
    assert second.status == DetectionRun.Status.DONE
    assert dataset.current_detection_run == second  # the admin started it: reviewers see its proposals
    assert photo.proposals.filter(run=second).exists()

    detection_run_make_current(run=first, user=admin_user)

    dataset.refresh_from_db()
    assert dataset.current_detection_run == first
    # Nothing is overwritten: the first run's proposals are all still there, unchanged.
    assert list(Proposal.objects.filter(run=first).values_list("x0", "y0", "x1", "y1", "score")) == first_boxes


def test_images_imported_after_the_first_run_get_proposals_from_the_next(admin_user, astronaut_jpeg):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset, content=astronaut_jpeg)
    detection_run_process_sync(run=_start(dataset, admin_user))
    late = ImageFactory(dataset=dataset, content=encode(np.fliplr(data.astronaut()), "JPEG"))  # imported later

    second = detection_run_process_sync(run=_start(dataset, admin_user, settings_={"recall": True}))

    late.refresh_from_db()
    dataset.refresh_from_db()
    assert dataset.current_detection_run == second
    assert late.status == Image.Status.DETECTED  # no longer "imported" with no proposals
    assert late.proposals.filter(run=second).exists()


def test_an_older_run_finishing_late_does_not_replace_a_later_current_run(admin_user):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    older = _start(dataset, admin_user)
    newer = detection_run_process_sync(run=_start(dataset, admin_user, settings_={"thorough": True}))
    detection_run_process_sync(run=older)  # its retry finishes after the newer run

    dataset.refresh_from_db()
    assert dataset.current_detection_run == newer


def test_make_current_refuses_a_run_in_progress_and_reviewers(admin_user, reviewer_user):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    run = _start(dataset, admin_user)

    with pytest.raises(Conflict, match="only a finished run can be current"):
        detection_run_make_current(run=run, user=admin_user)
    detection_run_process_sync(run=run)
    with pytest.raises(Forbidden):
        detection_run_make_current(run=run, user=reviewer_user)


def test_retry_failed_runs_the_failed_images_again(admin_user, astronaut_jpeg):
    dataset = DatasetFactory()
    image = ImageFactory(dataset=dataset, content=astronaut_jpeg)
    original = Path(image.file.path).read_bytes()
    _break_file(image)
    run = detection_run_process_sync(run=_start(dataset, admin_user))
    assert run.status == DetectionRun.Status.FAILED

    Path(image.file.path).write_bytes(original)  # the admin restored the file
    assert detection_run_retry_failed(run=run, user=admin_user) == 1
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.RUNNING
    run = detection_run_process_sync(run=run)

    assert run.status == DetectionRun.Status.DONE
    result = DetectionResult.objects.get(run=run, image=image)
    assert result.status == DetectionResult.Status.DONE
    assert iou(image.proposals.get(run=run, ordinal=0).box, FACE) > 0.6
    image.refresh_from_db()
    assert image.status == Image.Status.DETECTED


def test_retry_refuses_a_run_without_failures_or_in_progress(admin_user, reviewer_user):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    run = _start(dataset, admin_user)

    with pytest.raises(Conflict, match="wait for it to finish"):
        detection_run_retry_failed(run=run, user=admin_user)
    detection_run_process_sync(run=run)
    with pytest.raises(Conflict, match="no failed images"):
        detection_run_retry_failed(run=run, user=admin_user)
    with pytest.raises(Forbidden):
        detection_run_retry_failed(run=run, user=reviewer_user)


def test_reconcile_requeues_stale_chunks_only(admin_user, settings, django_capture_on_commit_callbacks):
    settings.VEIL_DETECTION_CHUNK_SIZE = 1
    dataset = DatasetFactory()
    ImageFactory.create_batch(3, dataset=dataset)
    with django_capture_on_commit_callbacks(execute=False):
        run = _start(dataset, admin_user, enqueue=True)  # all three sent
    lost, dead, fresh = run.chunks.order_by("index")
    long_ago = timezone.now() - timedelta(hours=1)
    DetectionChunk.objects.filter(pk=lost.pk).update(queued_at=long_ago)  # its message was dropped by the broker
    DetectionChunk.objects.filter(pk=dead.pk).update(status="running", started_at=long_ago, attempts=1)  # worker killed

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = detection_reconcile(after_seconds=600)

    assert sorted(report.requeued) == sorted([lost.pk, dead.pk])
    assert len(callbacks) == 2
    dead.refresh_from_db()
    assert dead.status == DetectionChunk.Status.QUEUED
    assert dead.queued_at > long_ago
    fresh.refresh_from_db()
    assert fresh.status == DetectionChunk.Status.QUEUED


def test_reconcile_leaves_queued_chunks_of_a_run_in_progress_waiting_their_turn(
    admin_user, settings, django_capture_on_commit_callbacks
):
    settings.VEIL_DETECTION_CHUNK_SIZE = 1
    dataset = DatasetFactory()
    ImageFactory.create_batch(3, dataset=dataset)
    run = _start(dataset, admin_user)
    done, dead, waiting = run.chunks.order_by("index")
    long_ago = timezone.now() - timedelta(hours=1)
    detection_chunk_process(chunk_id=done.pk)  # a worker is busy with this run: a result was written just now
    DetectionChunk.objects.filter(pk=dead.pk).update(status="running", started_at=long_ago, attempts=1)
    DetectionChunk.objects.filter(pk=waiting.pk).update(queued_at=long_ago)

    with django_capture_on_commit_callbacks(execute=False):
        report = detection_reconcile(after_seconds=600)

    assert report.requeued == [dead.pk]  # its worker died; the waiting one is only behind others on the queue
    waiting.refresh_from_db()
    assert waiting.queued_at == long_ago


def test_reconcile_sends_again_a_running_chunk_whose_heartbeat_stopped_and_leaves_a_beating_one(
    admin_user, settings, django_capture_on_commit_callbacks
):
    settings.VEIL_DETECTION_CHUNK_SIZE = 1
    settings.VEIL_WORKER_STALE_SECONDS = 45
    dataset = DatasetFactory()
    ImageFactory.create_batch(2, dataset=dataset)
    with django_capture_on_commit_callbacks(execute=False):
        run = _start(dataset, admin_user, enqueue=True)  # both sent: a running chunk was sent
    dead, slow = run.chunks.order_by("index")
    now = timezone.now()
    # Killed a minute ago: far inside the reconcile age (900 s), but its heartbeat stopped 60 s ago.
    DetectionChunk.objects.filter(pk=dead.pk).update(
        status="running", started_at=now - timedelta(seconds=70), heartbeat_at=now - timedelta(seconds=60), attempts=1
    )
    # On a huge image for an hour, and alive: it beat 3 s ago.
    DetectionChunk.objects.filter(pk=slow.pk).update(
        status="running", started_at=now - timedelta(hours=1), heartbeat_at=now - timedelta(seconds=3), attempts=1
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = detection_reconcile(now=now)

    assert report.requeued == [dead.pk]
    assert len(callbacks) == 1
    dead.refresh_from_db()
    slow.refresh_from_db()
    assert (dead.status, slow.status) == (DetectionChunk.Status.QUEUED, DetectionChunk.Status.RUNNING)


@pytest.mark.django_db(transaction=True)
def test_a_chunk_beats_its_heartbeat_while_a_slow_image_is_detected(admin_user, settings):
    settings.VEIL_WORKER_HEARTBEAT_SECONDS = 0.2
    settings.VEIL_WORKER_STALE_SECONDS = 1
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    run = _start(dataset, admin_user)
    chunk = run.chunks.get()
    seen = {}

    class SlowDetector:
        def detect(self, pixels):
            started = timezone.now()
            time.sleep(2.5)  # longer than the stale age: only the heartbeat thread keeps the chunk alive
            row = DetectionChunk.objects.get(pk=chunk.pk)
            seen["beat_after_start"] = row.heartbeat_at > started
            seen["requeued"] = detection_reconcile(stale_seconds=1).requeued
            return []

    detection_chunk_process(chunk_id=chunk.pk, detector=SlowDetector())

    assert seen == {"beat_after_start": True, "requeued": []}
    chunk.refresh_from_db()
    assert (chunk.status, chunk.attempts) == (DetectionChunk.Status.DONE, 1)


def test_reconcile_gives_up_on_a_chunk_that_keeps_killing_its_worker(admin_user, django_capture_on_commit_callbacks):
    dataset = DatasetFactory()
    images = ImageFactory.create_batch(2, dataset=dataset)
    with django_capture_on_commit_callbacks(execute=False):
        run = _start(dataset, admin_user, enqueue=True)
    chunk = run.chunks.get()
    DetectionChunk.objects.filter(pk=chunk.pk).update(
        status="running", started_at=timezone.now() - timedelta(hours=1), attempts=MAX_CHUNK_ATTEMPTS
    )

    report = detection_reconcile(after_seconds=600)

    assert report.given_up == [chunk.pk]
    assert report.finished_runs == [run.pk]
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.FAILED
    reasons = set(DetectionResult.objects.filter(run=run).values_list("image_id", "error"))
    assert {image_id for image_id, _ in reasons} == {i.pk for i in images}
    assert all("gave up after 5 attempts" in error for _, error in reasons)


def test_reconcile_finishes_a_run_whose_chunks_are_all_done(admin_user):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    run = _start(dataset, admin_user)
    detection_chunk_process(chunk_id=run.chunks.get().pk)
    DetectionRun.objects.filter(pk=run.pk).update(status="running", finished_at=None)  # the worker died just before

    assert detection_reconcile().finished_runs == [run.pk]
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.DONE


@pytest.mark.parametrize(("concurrency", "cores", "threads"), [(1, 2, 2), (2, 2, 1), (4, 2, 1), (2, 8, 4), (0, 2, 2)])
def test_opencv_threads_match_the_workers_share_of_cores(concurrency, cores, threads):
    assert opencv_threads(concurrency, cores) == threads


def test_a_blank_photo_is_detected_with_no_faces(admin_user):
    dataset = DatasetFactory()
    image = ImageFactory(dataset=dataset, content=encode(np.full((120, 160, 3), 200, np.uint8)))

    run = detection_run_process_sync(run=_start(dataset, admin_user))

    assert run.status == DetectionRun.Status.DONE
    assert DetectionResult.objects.get(run=run, image=image).face_count == 0
    image.refresh_from_db()
    assert image.status == Image.Status.DETECTED


class _Flaky:
    """A detector that breaks on one photo (as OpenCV might on odd pixels) and works on the others."""

    def __init__(self, error: Exception, fail_on_width: int):
        self.error, self.fail_on_width = error, fail_on_width

    def detect(self, pixels):
        if pixels.shape[1] == self.fail_on_width:
            raise self.error
        return []


def test_an_unexpected_error_on_one_image_fails_that_image_not_the_chunk(admin_user):
    dataset = DatasetFactory()
    odd = ImageFactory(dataset=dataset, content=encode(np.zeros((50, 77, 3), np.uint8)))
    fine = ImageFactory(dataset=dataset)
    run = _start(dataset, admin_user)

    chunk = detection_chunk_process(chunk_id=run.chunks.get().pk, detector=_Flaky(RuntimeError("bad blob"), 77))

    assert chunk.status == DetectionChunk.Status.DONE
    failed = DetectionResult.objects.get(run=run, image=odd)
    assert failed.status == DetectionResult.Status.FAILED
    assert failed.error == "unexpected error: RuntimeError: bad blob"
    assert DetectionResult.objects.get(run=run, image=fine).status == DetectionResult.Status.DONE


def test_a_database_error_ends_the_chunk_for_a_retry_keeping_what_is_done(admin_user):
    dataset = DatasetFactory()
    first = ImageFactory(dataset=dataset)
    ImageFactory(dataset=dataset, content=encode(np.zeros((50, 77, 3), np.uint8)))
    run = _start(dataset, admin_user)
    chunk = run.chunks.get()

    with pytest.raises(OperationalError):
        detection_chunk_process(chunk_id=chunk.pk, detector=_Flaky(OperationalError("database is locked"), 77))

    chunk.refresh_from_db()
    # The task retries it; meanwhile it waits as queued, so reconcile judges it by its queued age and does not
    # take it for a chunk whose worker died.
    assert (chunk.status, chunk.attempts) == (DetectionChunk.Status.QUEUED, 1)
    assert detection_reconcile().requeued == []
    assert list(DetectionResult.objects.filter(run=run).values_list("image_id", flat=True)) == [first.pk]


def test_the_beat_task_reconciles_detection_and_exports(admin_user, django_capture_on_commit_callbacks):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    run = _start(dataset, admin_user)
    chunk = run.chunks.get()
    long_ago = timezone.now() - timedelta(hours=2)
    DetectionChunk.objects.filter(pk=chunk.pk).update(queued_at=long_ago)  # both messages lost in a broker restart
    export = Export.objects.create(dataset=dataset, created_by=admin_user)
    Export.objects.filter(pk=export.pk).update(created_at=long_ago)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = reconcile()

    assert report["detection_requeued"] == [chunk.pk]
    assert report["exports_requeued"] == [export.pk]
    assert len(callbacks) == 2


def test_detection_writes_each_image_thumbnail_so_pages_do_not_decode_originals(admin_user, astronaut_jpeg, client):
    dataset = DatasetFactory()
    image = ImageFactory(dataset=dataset, content=astronaut_jpeg)
    detection_run_process_sync(run=_start(dataset, admin_user))
    Path(image.file.path).unlink()  # the thumbnail must not need the original any more

    client.force_login(admin_user)
    response = client.get(f"/images/{image.pk}/thumbnail")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    thumb = PILImage.open(io.BytesIO(b"".join(response.streaming_content)))
    assert thumb.size == (256, 256)  # the 512x512 photograph, shrunk
