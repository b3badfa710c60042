"""Export layouts that ML loaders read, beside one zip or tar: WebDataset shards, a plain folder, and a Hugging
Face `datasets` imagefolder. Pure code: paths and bytes in, files out.

Every writer has the ArchiveWriter's interface (`add`, `add_json`, `add_sample`, `close`, `abort`, a context
manager) and its promise: nothing appears under the final name until the whole output is complete. A folder
output is written as `.<name>.partial-<random>/` beside its final path and renamed into place at the end; a crash
leaves at worst that hidden folder. Records are streamed to disk as they come (one JSON line per image), so a
writer's memory does not grow with the dataset.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import posixpath
import secrets
import shutil
import tarfile
from pathlib import Path
from typing import Any

from reviewer.imaging.archive import (
    PARTIAL_MARK,
    ArchiveWriter,
    PublishedByRename,
    json_bytes,
    safe_member_name,
    tar_add,
)

LAYOUTS = ("zip", "tar", "webdataset", "folder", "hf")
FOLDER_LAYOUTS = ("webdataset", "folder", "hf")
DEFAULT_SHARD_SIZE = 1000
HF_SPLIT_DIR = "data/train"


class FolderWriter(PublishedByRename):
    """A tree of files under the folder `final_path`: each sample at its name, extras (annotations, manifest)
    beside them. Published by one rename once complete; `abort()` removes everything written."""

    def __init__(self, final_path: str | Path, *, track_names: bool = True):
        self.final_path = Path(final_path)
        self._track_names = track_names  # False: the caller keeps names unique (see ArchiveWriter)
        if self.final_path.exists():
            raise FileExistsError(f"{self.final_path} already exists; an export never writes over another")
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        self.temp_path = self.final_path.with_name(f".{self.final_path.name}{PARTIAL_MARK}{secrets.token_hex(6)}")
        self.temp_path.mkdir()
        self._names: set[str] = set()
        self._closed = False
        self.samples = 0

    def _path(self, name: str) -> tuple[str, Path]:
        name = self._claim(name, self._names, "files")
        path = self.temp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return name, path

    def add(self, name: str, data: bytes, *, compress: bool = False) -> str:
        name, path = self._path(name)
        path.write_bytes(data)
        return name

    def add_json(self, name: str, value: Any) -> str:
        return self.add(name, json_bytes(value))

    def add_file(self, name: str, path: str | Path, *, compress: bool = False) -> str:
        """Copy the file at `path` in as `name` (an annotation file, the manifest)."""
        name, target = self._path(name)
        shutil.copyfile(path, target)
        return name

    def add_sample(self, name: str, data: bytes, record: dict) -> str:
        """One exported image under `name`; its `record` (boxes, hashes) is in the annotations and manifest."""
        self.samples += 1
        return self.add(name, data)

    def _complete(self) -> None:
        """Subclasses close what they stream before the folder is published."""

    def _finish(self) -> None:
        self._complete()
        _fsync_tree(self.temp_path)

    def abort(self) -> None:
        self._closed = True
        shutil.rmtree(self.temp_path, ignore_errors=True)


class HuggingFaceWriter(FolderWriter):
    """Hugging Face `datasets`' imagefolder layout: images under `data/train/` at their names, and
    `data/train/metadata.jsonl` with one line per image (`file_name` plus its record: faces as `[x0, y0, x1, y1]`
    lists, sha256s). `datasets.load_dataset("imagefolder", data_dir=FOLDER)` reads it; extras sit at the top."""

    def __init__(self, final_path: str | Path, *, track_names: bool = True):
        super().__init__(final_path, track_names=track_names)
        (self.temp_path / HF_SPLIT_DIR).mkdir(parents=True)
        self._metadata = open(self.temp_path / HF_SPLIT_DIR / "metadata.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        self._names.add(f"{HF_SPLIT_DIR}/metadata.jsonl")

    def add_sample(self, name: str, data: bytes, record: dict) -> str:
        stored = self.add(f"{HF_SPLIT_DIR}/{safe_member_name(name)}", data)
        self.samples += 1
        line = {"file_name": posixpath.relpath(stored, HF_SPLIT_DIR), **record}
        self._metadata.write(json.dumps(line, ensure_ascii=False) + "\n")
        return stored

    def _complete(self) -> None:
        self._metadata.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._metadata.close()
        super().abort()


class ShardWriter(FolderWriter):
    """WebDataset shards in the folder `final_path`: `<stem>-000000.tar`, `<stem>-000001.tar`, ... of at most
    `shard_size` samples each. A sample is `<key>.<ext>` (the image) and `<key>.json` (its record, with its path
    in the dataset). Keys are the sample's ordinal, zero-padded: WebDataset splits a member's name at the first
    dot of its base name, so a path like `a/img.v2.jpg` cannot be a key. Extras (annotations, manifest) sit beside
    the shards."""

    def __init__(
        self, final_path: str | Path, *, shard_size: int = DEFAULT_SHARD_SIZE, stem: str = "shard",
        track_names: bool = True,
    ):  # fmt: skip
        if shard_size < 1:
            raise ValueError("a shard holds at least one sample")
        super().__init__(final_path, track_names=track_names)
        self.shard_size = shard_size
        self.stem = stem
        self.shards: list[str] = []
        self._tar: tarfile.TarFile | None = None
        self._in_shard = 0
        self._paths: set[str] = set()  # the samples' paths in the dataset (their keys are ordinals)

    def add_sample(self, name: str, data: bytes, record: dict) -> str:
        name = self._claim(name, self._paths, "samples")
        if self._tar is None or self._in_shard >= self.shard_size:
            self._next_shard()
        key = f"{self.samples:09d}"
        ext = posixpath.splitext(name)[1].lstrip(".").lower() or "bin"
        self._add_member(f"{key}.{ext}", data)
        self._add_member(f"{key}.json", json_bytes({"path": name, **record}))
        self.samples += 1
        self._in_shard += 1
        return f"{self.shards[-1]}:{key}.{ext}"

    def _add_member(self, name: str, data: bytes) -> None:
        tar_add(self._tar, name, io.BytesIO(data), len(data))

    def _next_shard(self) -> None:
        self._close_shard()
        name = f"{self.stem}-{len(self.shards):06d}.tar"
        _, path = self._path(name)
        self._tar = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self.shards.append(name)
        self._in_shard = 0

    def _close_shard(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._tar = None

    def _complete(self) -> None:
        self._close_shard()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._close_shard()
        super().abort()


def open_writer(
    layout: str, final_path: str | Path, *, shard_size: int = DEFAULT_SHARD_SIZE, stem: str = "shard",
    track_names: bool = True,
):  # fmt: skip
    """The writer of `layout` (one of LAYOUTS) publishing at `final_path`: a file for zip and tar, a folder
    for the others. `track_names=False`: the caller guarantees unique sample names (memory stays flat)."""
    if layout in ("zip", "tar"):
        return ArchiveWriter(final_path, kind=layout, track_names=track_names)
    if layout == "webdataset":
        return ShardWriter(final_path, shard_size=shard_size, stem=stem, track_names=track_names)
    if layout == "folder":
        return FolderWriter(final_path, track_names=track_names)
    if layout == "hf":
        return HuggingFaceWriter(final_path, track_names=track_names)
    raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")


def _fsync_tree(root: Path) -> None:
    """Flush every file written under `root` to disk before the rename that publishes it."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as fh:
                os.fsync(fh.fileno())
