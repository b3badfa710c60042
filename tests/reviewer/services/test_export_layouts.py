"""Exports in the layouts ML loaders read (WebDataset shards, a folder, a Hugging Face imagefolder), end to end:
rendered in chunks, assembled, published to the exports storage, copied out, and read back with the real library.
Also: the export's reads are pages, never the whole dataset at once (its memory does not grow with it)."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image as PILImage

from reviewer.imaging.annotations import read as read_annotations
from reviewer.models import Export, ExportChunk
from reviewer.services import export as export_service
from reviewer.services.export import export_plan, export_render
from reviewer.services.export_files import export_copy_to
from tests.factories import ANY_LEAK_RATE, DatasetFactory
from tests.reviewer.services.test_export import FACE, FakeDetector, approved_image, start

pytestmark = pytest.mark.django_db

PATHS = ["a/1.png", "a/2.png", "b/3.png", "b/4.png", "c/5.png"]


@pytest.fixture
def dataset(admin_user):
    return DatasetFactory(release_bound=ANY_LEAK_RATE, name="street photos", created_by=admin_user)


@pytest.fixture
def five(dataset, settings):
    settings.VEIL_EXPORT_CHUNK_SIZE = 2  # three chunks
    return [approved_image(dataset, p, [FACE] if i % 2 == 0 else [], seed=30 + i) for i, p in enumerate(PATHS)]


def _export(dataset, user, tmp_path, **options):
    export = export_render(export_id=start(dataset, user, **options).pk, detector=FakeDetector())
    assert export.status == Export.Status.DONE, export.error
    assert export.chunks_total == 3
    return export, export_copy_to(export=export, destination=tmp_path / "out")


def _manifest_lines(folder):
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_webdataset_export_reads_back_with_webdataset(dataset, admin_user, five, tmp_path):
    wds = pytest.importorskip("webdataset")
    export, out = _export(dataset, admin_user, tmp_path, archive="webdataset", shard_size=2)
    shards = sorted(p.name for p in out.glob("*.tar"))
    stem = f"street-photos-export-{export.pk}"
    assert shards == [f"{stem}-000000.tar", f"{stem}-000001.tar", f"{stem}-000002.tar"]
    assert json.loads((out / "manifest.json").read_text())["shards"] == shards
    listed = {f["name"] for f in export.files}
    assert set(shards) | {"manifest.json", "manifest.jsonl", "annotations/coco.json"} <= listed
    samples = list(wds.WebDataset([str(out / s) for s in shards], shardshuffle=False, empty_check=False))
    lines = _manifest_lines(out)
    assert [s["__key__"].rsplit("/", 1)[-1] for s in samples] == [f"{n:09d}" for n in range(5)]
    for sample, line in zip(samples, lines, strict=True):
        meta = json.loads(sample["json"])
        assert meta["path"] == line["output_path"]
        assert meta["boxes"] == line["boxes"]
        assert hashlib.sha256(sample["png"]).hexdigest() == meta["output_sha256"] == line["output_sha256"]
    assert [line["output_path"] for line in lines] == PATHS
    assert lines[0]["boxes"] == [[40.0, 30.0, 80.0, 80.0]]
    assert lines[1]["boxes"] == []


def test_folder_export_keeps_the_tree_with_the_manifest_beside_it(dataset, admin_user, five, tmp_path):
    export, out = _export(dataset, admin_user, tmp_path, archive="folder")
    for line in _manifest_lines(out):
        data = (out / line["output_path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == line["output_sha256"]
    summary = json.loads((out / "manifest.json").read_text())
    assert summary["images_count"] == 5
    assert summary["images_sha256"] == hashlib.sha256((out / "manifest.jsonl").read_bytes()).hexdigest()
    entries, problems = read_annotations((out / "annotations" / "coco.json").read_bytes())
    assert problems == []
    assert [e.key for e in entries] == PATHS
    assert export.file_sha256 == summary["images_sha256"]


def test_hf_export_reads_back_with_datasets(dataset, admin_user, five, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    datasets = pytest.importorskip("datasets")
    _export_row, out = _export(dataset, admin_user, tmp_path, archive="hf")
    loaded = datasets.load_dataset(
        "imagefolder", data_dir=str(out / "data" / "train"), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert len(loaded) == 5
    by_sha = {line["output_sha256"]: line for line in _manifest_lines(out)}
    for row in loaded:
        line = by_sha[row["output_sha256"]]
        assert row["boxes"] == line["boxes"]
        stored = (out / "data" / "train" / line["output_path"]).read_bytes()
        expected = PILImage.open(io.BytesIO(stored)).convert("RGB")
        assert np.array_equal(np.asarray(row["image"].convert("RGB")), np.asarray(expected))


def test_the_plan_reads_approved_images_in_pages_never_all_at_once(dataset, admin_user, five, monkeypatch):
    """Query shape pins the constant memory: every read of images while cutting chunks is a LIMITed page."""
    monkeypatch.setattr(export_service, "PLAN_PAGE_IMAGES", 2)
    export = start(dataset, admin_user)
    with CaptureQueriesContext(connection) as queries:
        export_plan(export_id=export.pk, enqueue=False)
    reads = [q["sql"] for q in queries if q["sql"].startswith('SELECT "reviewer_image"')]
    assert len(reads) == 4  # pages of 2, 2, 1, then an empty one
    assert all("LIMIT 2" in sql for sql in reads)
    assert list(ExportChunk.objects.filter(export=export).values_list("image_ids", flat=True).order_by("index")) == [
        [five[0].pk, five[1].pk], [five[2].pk, five[3].pk], [five[4].pk],
    ]  # fmt: skip
