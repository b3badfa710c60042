"""reviewer/imaging/layouts.py: each layout read back by the library an ML team would read it with (webdataset,
Hugging Face datasets), images, boxes and hashes round-tripping; nothing under the final name until complete."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from reviewer.imaging.layouts import HF_SPLIT_DIR, open_writer
from tests.images import encode, pixels


def _samples(n: int) -> list[tuple[str, bytes, dict]]:
    samples = []
    for i in range(n):
        data = encode(pixels(40 + i, 30, seed=i), "PNG" if i % 3 == 0 else "JPEG")
        name = f"photos/set.{i % 2}/img.v{i}.{'png' if i % 3 == 0 else 'jpg'}"  # dots a WebDataset key cannot hold
        record = {"faces": [[1, 2, 10 + i, 20]], "output_sha256": hashlib.sha256(data).hexdigest()}
        samples.append((name, data, record))
    return samples


def _write(layout: str, path, samples, **kwargs):
    with open_writer(layout, path, **kwargs) as writer:
        for name, data, record in samples:
            writer.add_sample(name, data, record)
        writer.add_json("manifest.json", {"images": len(samples)})
    return writer


def test_webdataset_shards_read_back_with_webdataset(tmp_path):
    wds = pytest.importorskip("webdataset")
    samples = _samples(7)
    writer = _write("webdataset", tmp_path / "out", samples, shard_size=3, stem="faces")

    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "faces-000000.tar", "faces-000001.tar", "faces-000002.tar", "manifest.json"
    ]  # fmt: skip
    assert writer.shards == ["faces-000000.tar", "faces-000001.tar", "faces-000002.tar"]
    urls = [str(out / name) for name in writer.shards]
    read = list(wds.WebDataset(urls, shardshuffle=False, empty_check=False))
    assert len(read) == 7
    for (name, data, record), sample in zip(samples, read, strict=True):
        ext = name.rsplit(".", 1)[1]
        meta = json.loads(sample["json"])
        assert meta == {"path": name, **record}
        assert sample[ext] == data
        assert hashlib.sha256(sample[ext]).hexdigest() == meta["output_sha256"]


def test_huggingface_layout_reads_back_with_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    datasets = pytest.importorskip("datasets")
    samples = _samples(5)
    _write("hf", tmp_path / "out", samples)

    loaded = datasets.load_dataset(
        "imagefolder", data_dir=str(tmp_path / "out" / HF_SPLIT_DIR), split="train", cache_dir=str(tmp_path / "c")
    )
    assert len(loaded) == 5
    by_sha = {row["output_sha256"]: row for row in loaded}
    for _name, data, record in samples:
        row = by_sha[record["output_sha256"]]
        assert row["faces"] == record["faces"]
        expected = Image.open(io.BytesIO(data))
        assert row["image"].size == expected.size
        assert np.array_equal(np.asarray(row["image"].convert("RGB")), np.asarray(expected.convert("RGB")))
    assert (tmp_path / "out" / "manifest.json").exists()


def test_folder_layout_keeps_the_datasets_tree(tmp_path):
    samples = _samples(3)
    _write("folder", tmp_path / "out", samples)
    for name, data, _record in samples:
        assert (tmp_path / "out" / name).read_bytes() == data
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == {"images": 3}


@pytest.mark.parametrize("layout", ["webdataset", "folder", "hf"])
def test_nothing_appears_under_the_final_name_until_the_output_is_complete(tmp_path, layout):
    final = tmp_path / "out"
    writer = open_writer(layout, final)
    writer.add_sample("a.jpg", b"x", {"faces": []})
    assert not final.exists()

    def fail_inside():
        with writer:
            raise RuntimeError("render failed")

    with pytest.raises(RuntimeError, match="render failed"):
        fail_inside()
    assert list(tmp_path.iterdir()) == []  # no final folder, no partial one left


@pytest.mark.parametrize("layout", ["webdataset", "folder", "hf"])
def test_unsafe_and_duplicate_names_are_refused(tmp_path, layout):
    with open_writer(layout, tmp_path / "out") as writer:
        writer.add_sample("a.jpg", b"x", {})
        with pytest.raises(ValueError, match="unsafe path"):
            writer.add_sample("../escape.jpg", b"x", {})
        writer.add("manifest.json", b"{}")
        with pytest.raises(ValueError, match="two"):
            writer.add("manifest.json", b"{}")


def test_an_existing_output_folder_is_never_written_over(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError, match="never writes over"):
        open_writer("folder", tmp_path / "out")


def test_an_unknown_layout_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown layout 'parquet'"):
        open_writer("parquet", tmp_path / "out")
