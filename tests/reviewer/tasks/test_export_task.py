"""Exports through a real Celery worker process on the configured broker (Redis in CI, files elsewhere)."""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from skimage import data

from reviewer import jobs
from reviewer.imaging.archive import partial_paths, read_member, verify_manifest
from reviewer.imaging.loading import load_pixels
from reviewer.models import Export, ExportItem, Image
from reviewer.services.export import export_archive_path, export_reconcile, export_start
from tests.factories import AdminFactory, ApprovalFactory, ApprovedBoxFactory, DatasetFactory, ImageFactory
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
    dataset = DatasetFactory(name="crew")
    approved_astronauts(dataset, 2)
    export = export_start(dataset=dataset, options={}, user=admin)  # queued on commit, to the real worker

    def finished():
        export.refresh_from_db()
        return export.status in (Export.Status.DONE, Export.Status.FAILED)

    wait_for(finished, 120, celery_worker, "the export to finish")
    assert export.status == Export.Status.DONE, export.error
    archive = export_archive_path(export)
    assert verify_manifest(archive) == []
    assert export.residual_count == 0  # the leak check found no face left by the default blur
    manifest = json.loads(read_member(archive, "manifest.json"))
    assert manifest["leak_check"]["detector"]["name"] == "centerface"
    out = load_pixels(io.BytesIO(read_member(archive, "a/000.jpg")))
    clean = data.astronaut()
    face, sky = (slice(60, 178), slice(178, 268)), (slice(400, 500), slice(20, 120))
    assert (
        np.abs(np.diff(out[face].astype(int), axis=1)).mean()
        < 0.3 * np.abs(np.diff(clean[face].astype(int), axis=1)).mean()
    )
    assert np.abs(out[sky].astype(int) - clean[sky].astype(int)).mean() < 3  # the rest as before, up to JPEG


def test_a_killed_export_leaves_no_archive_under_the_final_name(celery_worker):
    admin = AdminFactory()
    dataset = DatasetFactory(name="crew")
    approved_astronauts(dataset, 16, size=640)
    export = export_start(dataset=dataset, options={}, user=admin)

    def under_way():
        export.refresh_from_db()
        return export.status == Export.Status.RUNNING and export.images_done >= 2

    wait_for(under_way, 120, celery_worker, "the export to be under way")
    celery_worker.kill()
    export.refresh_from_db()
    final = export_archive_path(export)
    assert export.status == Export.Status.RUNNING  # nobody finished it
    assert export.images_done < export.images_total
    assert not final.exists()
    assert len(partial_paths(final)) == 1  # only the temporary file, never the final name

    # Once no worker can still be on it (past the task's hard time limit), the reconcile step queues it again
    # and a new worker starts it over and publishes a whole archive.
    later = timezone.now() + timedelta(seconds=jobs.JOBS[jobs.RENDER_EXPORT].time_limit + 120)
    assert export_reconcile(now=later) == [export.pk]
    celery_worker.start()

    def finished():
        export.refresh_from_db()
        return export.status in (Export.Status.DONE, Export.Status.FAILED)

    wait_for(finished, 180, celery_worker, "the export to finish after the restart")
    assert export.status == Export.Status.DONE, export.error
    assert partial_paths(final) == []
    assert verify_manifest(final) == []
    assert ExportItem.objects.filter(export=export).count() == 16
    celery_worker.kill()  # the work is checked; a restarted worker's warm shutdown can take the fixture's 30 s
