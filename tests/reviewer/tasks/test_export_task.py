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
from reviewer.models import Export, ExportItem, Image
from reviewer.services.export import export_reconcile, export_start
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
    """A worker whose renderers beat every second and count as lost after 8 s (the test process agrees)."""
    settings.VEIL_EXPORT_HEARTBEAT_SECONDS = 1
    settings.VEIL_EXPORT_STALE_SECONDS = 8
    with contextlib.suppress(Exception):
        purge_broker()
    worker = WorkerProcess(
        tmp_path,
        Path(settings.MEDIA_ROOT),
        Path(settings.VEIL_EXPORT_DIR),
        env={"VEIL_EXPORT_HEARTBEAT_SECONDS": "1", "VEIL_EXPORT_STALE_SECONDS": "8"},
    )
    worker.start()
    yield worker
    worker.kill()  # the work is checked; a warm shutdown of a busy worker can take the fixture's 30 s


def work_dir(export) -> Path:
    return Path(settings.VEIL_DATA_DIR) / "tmp" / "exports" / f"export-{export.pk}"


def is_stale(export) -> bool:
    stale = timezone.now() - timedelta(seconds=settings.VEIL_EXPORT_STALE_SECONDS + 0.5)
    return Export.objects.get(pk=export.pk).heartbeat_at < stale


def finished(export):
    def check():
        export.refresh_from_db()
        return export.status in (Export.Status.DONE, Export.Status.FAILED)

    return check


def test_a_killed_pool_child_is_redone_by_reconcile_once_its_heartbeat_is_stale(quick_heartbeat_worker):
    worker = quick_heartbeat_worker
    dataset = DatasetFactory(release_bound=ANY_LEAK_RATE, name="crew")
    approved_astronauts(dataset, 12, size=640)
    export = export_start(dataset=dataset, options={}, user=AdminFactory())

    def under_way():
        export.refresh_from_db()
        return export.status == Export.Status.RUNNING and export.images_done >= 2

    wait_for(under_way, 120, worker, "the export to be under way")
    [child] = worker.pool_children()
    os.kill(child, signal.SIGKILL)  # only the pool child dies, as an OOM kill would do it
    killed_at = time.monotonic()
    # The worker hands the message back and a new child gets it at once; the heartbeat is still fresh, so it
    # leaves the export alone (a live renderer could be on it). Once the heartbeat is stale, reconcile restarts it.
    wait_for(
        lambda: "heartbeat is fresh" in worker.log() or "takes it over" in worker.log(), 60, worker, "the redelivery"
    )
    wait_for(lambda: is_stale(export) or finished(export)(), 60, worker, "the heartbeat to go stale")
    export.refresh_from_db()
    if export.status == Export.Status.RUNNING:
        assert export_reconcile() in ([export.pk], [])  # [] when a late redelivery already took it over
    wait_for(finished(export), 180, worker, "the export to finish after the child was killed")
    assert export.status == Export.Status.DONE, export.error
    assert time.monotonic() - killed_at < 180  # redone within minutes, not after the 3 h time limit
    assert export.attempt == 2  # started over once, by one renderer
    assert ExportItem.objects.filter(export=export).count() == 12
    with export_storage().open(export.file_name) as fh:
        archive = Path(fh.name)
    assert verify_manifest(archive) == []
    assert not work_dir(export).exists()


def test_a_killed_worker_leaves_no_archive_and_is_redone_within_minutes(quick_heartbeat_worker):
    worker = quick_heartbeat_worker
    dataset = DatasetFactory(release_bound=ANY_LEAK_RATE, name="crew")
    approved_astronauts(dataset, 12, size=640)
    export = export_start(dataset=dataset, options={}, user=AdminFactory())

    def under_way():
        export.refresh_from_db()
        return export.status == Export.Status.RUNNING and export.images_done >= 2

    wait_for(under_way, 120, worker, "the export to be under way")
    worker.kill()  # the whole worker, main process and pool
    killed_at = time.monotonic()
    export.refresh_from_db()
    assert export.status == Export.Status.RUNNING  # nobody finished it
    assert export.images_done < export.images_total
    assert not export_storage().exists(export_archive_name(export))  # nothing under the final name
    assert len(list(work_dir(export).iterdir())) == 1  # only the partial file, in the worker's own folder
    assert export_reconcile() == []  # its heartbeat is still fresh: a live renderer could be on it

    wait_for(lambda: is_stale(export), 60, worker, "the heartbeat to go stale")
    assert export_reconcile() == [export.pk]
    worker.start()
    wait_for(finished(export), 180, worker, "the export to finish after the restart")
    assert export.status == Export.Status.DONE, export.error
    assert time.monotonic() - killed_at < 180
    assert export.attempt == 2
    assert ExportItem.objects.filter(export=export).count() == 12
    assert not work_dir(export).exists()
    with export_storage().open(export.file_name) as fh:
        assert verify_manifest(Path(fh.name)) == []
