"""Exports through a real Celery worker process on the configured broker (Redis in CI, files elsewhere)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.utils import timezone
from skimage import data

from reviewer.imaging.archive import read_manifest, read_member, verify_manifest
from reviewer.imaging.loading import load_pixels
from reviewer.models import Export, ExportChunk, ExportItem, Image
from reviewer.services.export import export_reconcile, export_retry, export_start
from reviewer.services.export_files import export_archive_name, export_storage
from tests.conftest import WorkerProcess, purge_broker
from tests.factories import (
    ANY_LEAK_RATE,
    AdminFactory,
    ApprovalFactory,
    ApprovedBoxFactory,
    DatasetFactory,
    ImageFactory,
)
from tests.images import encode

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FACE = (178, 60, 268, 178)  # the astronaut's face in skimage's 512x512 photograph


def approved_astronauts(dataset, count: int, size: int = 512) -> list[Image]:
    """Distinct files of the same photograph (a corner block differs), each approved with its face box."""
    images = []
    scale = size / 512
    for i in range(count):
        pixels = data.astronaut().copy()
        pixels[-16:, -16:] = ((i * 37) % 256, (i * 91) % 256, 255 - i)
        if size != 512:
            from PIL import Image as PILImage

            pixels = np.asarray(PILImage.fromarray(pixels).resize((size, size)))
        image = ImageFactory(
            dataset=dataset, content=encode(pixels, "JPEG"), relative_path=f"a/{i:03d}.jpg", status="approved"
        )
        x0, y0, x1, y1 = (v * scale for v in FACE)
        ApprovedBoxFactory(approval=ApprovalFactory(image=image), x0=x0, y0=y0, x1=x1, y1=y1)
        images.append(image)
    return images


def wait_for(predicate, timeout: float, worker, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.log()[-4000:]}")


def test_a_worker_renders_an_export_end_to_end(celery_worker):
    admin = AdminFactory()
    dataset = DatasetFactory(release_bound=ANY_LEAK_RATE, name="crew")
    approved_astronauts(dataset, 2)
    export = export_start(dataset=dataset, options={}, user=admin)  # queued on commit, to the real worker

    def finished():
        export.refresh_from_db()
        return export.status in (Export.Status.DONE, Export.Status.FAILED)

    wait_for(finished, 120, celery_worker, "the export to finish")
    assert export.status == Export.Status.DONE, export.error
    archive = Path(export_storage().path(export.file_name))
    assert verify_manifest(archive) == []
    assert export.residual_count == 0  # the leak check found no face left by the default blur
    manifest = read_manifest(archive)
    assert manifest["leak_check"]["detector"]["name"] == "centerface"
    out = load_pixels(io.BytesIO(read_member(archive, "a/000.jpg")))
    clean = data.astronaut()
    face, sky = (slice(60, 178), slice(178, 268)), (slice(400, 500), slice(20, 120))
    assert (
        np.abs(np.diff(out[face].astype(int), axis=1)).mean()
        < 0.3 * np.abs(np.diff(clean[face].astype(int), axis=1)).mean()
    )
    assert np.abs(out[sky].astype(int) - clean[sky].astype(int)).mean() < 3  # the rest as before, up to JPEG


@pytest.fixture
def quick_heartbeat_worker(transactional_db, settings, tmp_path):
    """A worker whose renderers beat every second and count as lost after 8 s (the test process agrees), on
    chunks of 3 images."""
    env = {"VEIL_EXPORT_HEARTBEAT_SECONDS": "1", "VEIL_EXPORT_STALE_SECONDS": "8", "VEIL_EXPORT_CHUNK_SIZE": "3"}
    settings.VEIL_EXPORT_HEARTBEAT_SECONDS = 1
    settings.VEIL_EXPORT_STALE_SECONDS = 8
    settings.VEIL_EXPORT_CHUNK_SIZE = 3
    with contextlib.suppress(Exception):
        purge_broker()
    worker = WorkerProcess(tmp_path, Path(settings.MEDIA_ROOT), Path(settings.VEIL_EXPORT_DIR), env=env)
    worker.start()
    yield worker
    worker.kill()  # the work is checked; a warm shutdown of a busy worker can take the fixture's 30 s


def is_stale(chunk) -> bool:
    stale = timezone.now() - timedelta(seconds=settings.VEIL_EXPORT_STALE_SECONDS + 0.5)
    return ExportChunk.objects.get(pk=chunk.pk).heartbeat_at < stale


def finished(export):
    def check():
        export.refresh_from_db()
        return export.status in (Export.Status.DONE, Export.Status.FAILED)

    return check


def running_chunk(export):
    """A chunk under way once at least one other is done, or None."""
    export.refresh_from_db()
    if export.chunks_done < 1:
        return None
    return ExportChunk.objects.filter(export=export, status=ExportChunk.Status.RUNNING).first()


def assert_done_with_one_chunk_redone(export, chunk, killed_at):
    assert export.status == Export.Status.DONE, export.error
    assert time.monotonic() - killed_at < 180  # redone within minutes
    attempts = dict(ExportChunk.objects.filter(export=export).values_list("pk", "attempt"))
    assert attempts.pop(chunk.pk) == 2  # the killed chunk, started over once
    assert set(attempts.values()) == {1}  # every other chunk rendered once: only the lost chunk was redone
    assert ExportItem.objects.filter(export=export).count() == 12
    with export_storage().open(export.file_name) as fh:
        assert verify_manifest(Path(fh.name)) == []
    assert not export_storage().exists(f"parts/export-{export.pk}")  # the parts went once it was published


def test_a_killed_pool_child_loses_only_its_chunk_which_reconcile_sends_again(quick_heartbeat_worker):
    worker = quick_heartbeat_worker
    dataset = DatasetFactory(release_bound=ANY_LEAK_RATE, name="crew")
    approved_astronauts(dataset, 12, size=640)
    export = export_start(dataset=dataset, options={}, user=AdminFactory())
    chunk = wait_for(lambda: running_chunk(export), 180, worker, "a chunk under way after a first one is done")
    [child] = worker.pool_children()
    os.kill(child, signal.SIGKILL)  # only the pool child dies, as an OOM kill would do it
    killed_at = time.monotonic()
    # The worker hands the message back and a new child gets it at once; the chunk's heartbeat is still fresh, so
    # it leaves the chunk alone. Once the heartbeat is stale, reconcile sends the chunk again.
    wait_for(
        lambda: "heartbeat is fresh" in worker.log() or "takes it over" in worker.log(), 60, worker, "the redelivery"
    )
    wait_for(lambda: is_stale(chunk) or finished(export)(), 60, worker, "the chunk's heartbeat to go stale")
    export.refresh_from_db()
    if export.status == Export.Status.RUNNING:
        assert export_reconcile() in ([export.pk], [])  # [] when a late redelivery already took it over
    wait_for(finished(export), 240, worker, "the export to finish after the child was killed")
    assert_done_with_one_chunk_redone(export, chunk, killed_at)


def test_a_killed_worker_leaves_no_archive_and_only_its_chunk_is_redone(quick_heartbeat_worker):
    worker = quick_heartbeat_worker
    dataset = DatasetFactory(release_bound=ANY_LEAK_RATE, name="crew")
    approved_astronauts(dataset, 12, size=640)
    export = export_start(dataset=dataset, options={}, user=AdminFactory())
    chunk = wait_for(lambda: running_chunk(export), 180, worker, "a chunk under way after a first one is done")
    worker.kill()  # the whole worker, main process and pool
    killed_at = time.monotonic()
    export.refresh_from_db()
    assert export.status == Export.Status.RUNNING  # nobody finished it
    assert not export_storage().exists(export_archive_name(export))  # nothing under the final name
    assert export_reconcile() in ([], [export.pk])  # its chunk's heartbeat is fresh: a live renderer could be on it
    assert ExportChunk.objects.get(pk=chunk.pk).status == ExportChunk.Status.RUNNING
    wait_for(lambda: is_stale(chunk), 60, worker, "the chunk's heartbeat to go stale")
    assert export_reconcile() == [export.pk]
    worker.start()
    wait_for(finished(export), 240, worker, "the export to finish after the restart")
    assert_done_with_one_chunk_redone(export, chunk, killed_at)


def test_an_export_is_split_over_two_workers_and_outlasts_one_chunks_time_limit(transactional_db, settings, tmp_path):
    """Two workers, each one process (two machines): both render chunks; the export's rendering as a whole takes
    longer than one chunk's time limit (6 s here), which one task could not have done, and it finishes. At most 3
    of its 20 chunks are ever in flight: each chunk's end sends the next."""
    settings.VEIL_EXPORT_CHUNK_SIZE = 2
    settings.VEIL_EXPORT_IN_FLIGHT = 3
    env = {"VEIL_EXPORT_CHUNK_SIZE": "2", "VEIL_EXPORT_CHUNK_TIME_LIMIT": "6", "VEIL_EXPORT_IN_FLIGHT": "3"}
    with contextlib.suppress(Exception):
        purge_broker()
    workers = [
        WorkerProcess(tmp_path / f"w{i}", Path(settings.MEDIA_ROOT), Path(settings.VEIL_EXPORT_DIR), env=env)
        for i in range(2)
    ]
    for i, worker in enumerate(workers):
        (tmp_path / f"w{i}").mkdir()
        worker.start()
    try:
        dataset = DatasetFactory(release_bound=ANY_LEAK_RATE, name="crew")
        approved_astronauts(dataset, 40, size=640)
        export = export_start(dataset=dataset, options={}, user=AdminFactory())
        is_finished, most_in_flight = finished(export), []

        def finished_counting_in_flight():
            most_in_flight.append(ExportChunk.objects.filter(ExportChunk.IN_FLIGHT, export=export).count())
            return is_finished()

        wait_for(finished_counting_in_flight, 600, workers[0], "the export to finish on two workers")
        assert export.status == Export.Status.DONE, export.error
        assert export.chunks_total == 20
        assert max(most_in_flight) <= 3
        done_by = [w.log().count("render_export_chunk[") for w in workers]
        assert all(n > 0 for n in done_by), done_by  # both workers rendered chunks
        spans = [c.finished_at - c.started_at for c in ExportChunk.objects.filter(export=export)]
        assert sum(s.total_seconds() for s in spans) > 6  # more rendering than one chunk's limit allows
        with export_storage().open(export.file_name) as fh:
            assert verify_manifest(Path(fh.name)) == []
        assert ExportItem.objects.filter(export=export).count() == 40
    finally:
        for worker in workers:
            worker.kill()


def test_a_chunk_failing_for_a_bad_image_is_reported_and_retried_alone(quick_heartbeat_worker):
    worker = quick_heartbeat_worker
    dataset = DatasetFactory(release_bound=ANY_LEAK_RATE, name="crew")
    images = approved_astronauts(dataset, 9)
    bad = images[4]  # in the second chunk of three
    with open(bad.file.path, "rb") as fh:
        original = fh.read()
    with open(bad.file.path, "ab") as fh:
        fh.write(b"changed on disk")
    admin = AdminFactory()
    export = export_start(dataset=dataset, options={}, user=admin)
    wait_for(finished(export), 180, worker, "the export to stop on the bad image")
    assert export.status == Export.Status.FAILED
    assert "1 of 3 chunk(s) failed; the first, chunk 1: a/004.jpg: the stored original changed" in export.error
    states = dict(ExportChunk.objects.filter(export=export).values_list("index", "status"))
    assert states == {0: "done", 1: "failed", 2: "done"}
    with open(bad.file.path, "wb") as fh:
        fh.write(original)
    export_retry(export=export, user=admin)
    wait_for(finished(export), 180, worker, "the export to finish after the retry")
    assert export.status == Export.Status.DONE, export.error
    attempts = dict(ExportChunk.objects.filter(export=export).values_list("index", "attempt"))
    assert attempts == {0: 1, 1: 2, 2: 1}  # only the failed chunk was rendered again
    with export_storage().open(export.file_name) as fh:
        assert verify_manifest(Path(fh.name)) == []
