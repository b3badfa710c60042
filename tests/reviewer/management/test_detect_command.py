"""`manage.py detect`: queue a run, or run it in-process with --sync."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from skimage import data

from reviewer.imaging.geometry import Box, iou
from reviewer.models import DetectionRun
from tests.factories import DatasetFactory, ImageFactory
from tests.images import encode, truncated_jpeg_bytes

FACE = Box(178, 60, 268, 178)  # the astronaut's face in skimage's 512x512 photograph

pytestmark = pytest.mark.django_db


def _detect(*args) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command("detect", *args, "--no-progress", stdout=out)
    except SystemExit as exc:
        return out.getvalue(), exc.code
    return out.getvalue(), 0


def test_sync_runs_in_process_and_reports_failures():
    dataset = DatasetFactory(name="crew")
    photo = ImageFactory(dataset=dataset, content=encode(data.astronaut()), relative_path="astronaut.jpg")
    broken = ImageFactory(dataset=dataset, relative_path="bad/broken.jpg")
    Path(broken.file.path).write_bytes(truncated_jpeg_bytes())

    output, status = _detect("--dataset", "crew", "--sync", "--threshold", "0.3", "--long-side", "640")

    run = DetectionRun.objects.get(dataset=dataset)
    assert status == 1  # an image failed
    assert run.status == DetectionRun.Status.FAILED
    assert run.settings["threshold"] == 0.3
    assert run.settings["long_side"] == 640
    assert iou(photo.proposals.get(run=run, ordinal=0).box, FACE) > 0.6
    assert "failed: bad/broken.jpg: image data is truncated or corrupt" in output
    assert f"Run {run.pk} done with failures: 1 images done, 1 failed" in output
    assert run.chunks.filter(status="done").count() == run.chunks.count()


def test_a_second_sync_run_becomes_the_current_run():
    dataset = DatasetFactory(name="crew")
    ImageFactory(dataset=dataset)
    _detect("--dataset", "crew", "--sync")
    first = DetectionRun.objects.get()

    output, status = _detect("--dataset", "crew", "--sync", "--thorough")

    assert status == 0
    second = DetectionRun.objects.exclude(pk=first.pk).get()
    assert second.settings["thorough"] is True
    assert f"Run {second.pk} is the current run: reviewers see its proposals." in output
    dataset.refresh_from_db()
    assert dataset.current_detection_run == second


def test_no_wait_queues_the_run_for_the_workers():
    dataset = DatasetFactory(name="crew")
    ImageFactory.create_batch(2, dataset=dataset)

    output, status = _detect("--dataset", "crew", "--no-wait")

    run = DetectionRun.objects.get()
    assert status == 0
    assert run.status == DetectionRun.Status.QUEUED
    assert run.chunks.count() == 1
    assert f"/detection/runs/{run.pk}/" in output


def test_unknown_dataset_and_bad_settings_are_refused_with_a_reason():
    DatasetFactory(name="empty")
    with pytest.raises(CommandError, match="No dataset called 'nope'"):
        _detect("--dataset", "nope", "--sync")
    with pytest.raises(CommandError, match="has no images"):
        _detect("--dataset", "empty", "--sync")
    ImageFactory(dataset=DatasetFactory(name="crew"))
    with pytest.raises(CommandError, match="threshold must lie between 0 and 1"):
        _detect("--dataset", "crew", "--sync", "--threshold", "1.5")
    assert not DetectionRun.objects.exists()
