"""Archive writers (zip, tar) that never leave a half archive under the final name, and the manifest.

The archive is written beside its final path under a temporary name (`.<name>.partial-<random>`) and renamed
into place only once it is complete and flushed to disk. A crash, a kill or an exception leaves at worst a
`.partial-` file, never a file under the final name that looks whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import posixpath
import secrets
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

ARCHIVE_KINDS = ("zip", "tar")
SUFFIXES = {"zip": ".zip", "tar": ".tar"}
PARTIAL_MARK = ".partial-"


class UnsafeMemberName(ValueError):
    """An archive path that could escape the folder it is extracted in."""


def safe_member_name(name: str) -> str:
    """A relative path with forward slashes, no `..`, no leading slash or drive: safe to extract anywhere."""
    cleaned = name.replace("\\", "/")
    normal = posixpath.normpath(cleaned)
    if (
        not cleaned
        or cleaned.startswith("/")
        or normal in (".", "..")
        or normal.startswith("../")
        or ":" in normal.split("/", 1)[0]
        or "\x00" in normal
    ):
        raise UnsafeMemberName(f"unsafe path inside an archive: {name!r}")
    return normal


def partial_paths(final_path: Path) -> list[Path]:
    """Temporary files an interrupted writer left for `final_path` (to clean before a new attempt)."""
    final_path = Path(final_path)
    if not final_path.parent.exists():
        return []
    prefix = f".{final_path.name}{PARTIAL_MARK}"
    return sorted(p for p in final_path.parent.iterdir() if p.name.startswith(prefix))


class PublishedByRename:
    """What every export writer shares: it writes under `temp_path` beside `final_path`, and `close()` finishes the
    output (`_finish`, which also flushes it to disk) and renames it into place, or aborts it on any failure. As a
    context manager, leaving the block normally publishes and leaving it by an exception aborts."""

    final_path: Path
    temp_path: Path
    _closed: bool
    _track_names: bool

    def _claim(self, name: str, names: set[str], kind: str) -> str:
        """`name` made safe (safe_member_name), refused once the output is closed or when `names` holds it already;
        added to `names` only with track_names (False: the caller keeps names unique, and memory stays flat)."""
        if self._closed:
            raise RuntimeError("the output is already closed")
        name = safe_member_name(name)
        if name in names:
            raise ValueError(f"two {kind} named {name!r}")
        if self._track_names:
            names.add(name)
        return name

    def _finish(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def close(self) -> Path:
        """Finish the output, flush it to disk and rename it to the final name. Returns the final path."""
        if self._closed:
            return self.final_path
        try:
            self._finish()
            os.replace(self.temp_path, self.final_path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.final_path

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class ArchiveWriter(PublishedByRename):
    """Write members to a zip or tar; `close()` publishes it under `final_path`, `abort()` throws it away.

    Use as a context manager: leaving the block normally publishes, leaving it by an exception aborts.
    """

    def __init__(self, final_path: str | Path, kind: str = "zip", *, track_names: bool = True):
        """`track_names=False` leaves the refusal of duplicate names to the caller (an export's database does it),
        so memory does not grow with the number of members (a zip's central directory still does: ~100 B each)."""
        if kind not in ARCHIVE_KINDS:
            raise ValueError(f"unknown archive kind {kind!r}; choose one of {', '.join(ARCHIVE_KINDS)}")
        self.final_path = Path(final_path)
        self.kind = kind
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        self.temp_path = self.final_path.with_name(f".{self.final_path.name}{PARTIAL_MARK}{secrets.token_hex(6)}")
        self._names: set[str] = set()
        self._track_names = track_names
        self._closed = False
        if kind == "zip":
            self._zip = zipfile.ZipFile(self.temp_path, "w", allowZip64=True)
        else:
            self._tar = tarfile.open(self.temp_path, "w", format=tarfile.PAX_FORMAT)  # noqa: SIM115

    def add(self, name: str, data: bytes, *, compress: bool = False) -> str:
        """Add one member; returns its normalised name. Refuses unsafe or duplicate names, and a closed archive."""
        name = self._claim(name, self._names, "members")
        if self.kind == "zip":
            # Images are already compressed; deflating them again costs time for nothing.
            info = zipfile.ZipInfo(name, date_time=time.gmtime()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            self._zip.writestr(info, data)
        else:
            tar_add(self._tar, name, io.BytesIO(data), len(data))
        return name

    def add_file(self, name: str, path: str | Path, *, compress: bool = False) -> str:
        """Add the file at `path` as member `name`, streamed from disk (an annotation file, the manifest)."""
        name = self._claim(name, self._names, "members")
        self._names.add(name)  # extras are few: always refuse a second one of the same name
        if self.kind == "zip":
            self._zip.write(path, arcname=name, compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
        else:
            with open(path, "rb") as fh:
                tar_add(self._tar, name, fh, Path(path).stat().st_size)
        return name

    def add_json(self, name: str, value: Any) -> str:
        return self.add(name, json_bytes(value), compress=True)

    def add_sample(self, name: str, data: bytes, record: dict) -> str:
        """One exported image (reviewer.imaging.layouts' interface); its record is in the annotations files."""
        return self.add(name, data)

    def _finish(self) -> None:
        """Complete the archive and flush it to disk (PublishedByRename.close renames it into place)."""
        self._close_inner()
        with open(self.temp_path, "rb") as fh:
            os.fsync(fh.fileno())

    def abort(self) -> None:
        """Close and delete the temporary file; nothing appears under the final name."""
        if not self._closed:
            # The file is going away; a broken close must not hide the error that brought us here.
            with contextlib.suppress(Exception):
                self._close_inner()
            self._closed = True
        self.temp_path.unlink(missing_ok=True)

    def _close_inner(self) -> None:
        if self.kind == "zip":
            self._zip.close()
        else:
            self._tar.close()


def tar_add(tar: tarfile.TarFile, name: str, fileobj: BinaryIO, size: int) -> None:
    """Write one member (`size` bytes read from `fileobj`) to a tar being written: a plain file, mode 0644, now.
    The TarFile's list of members is emptied after each: it serves reading only, and a writer's memory must not
    grow with the number of members."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o644
    tar.addfile(info, fileobj)
    tar.members.clear()


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_member(archive_path: str | Path, name: str) -> bytes:
    """One member's bytes from a zip or tar written here (used to show leak crops and in checks)."""
    archive_path = Path(archive_path)
    if zipfile.is_zipfile(archive_path):
        with zipfile.ZipFile(archive_path) as zf:
            return zf.read(name)
    with tarfile.open(archive_path) as tf:
        member = tf.extractfile(name)
        if member is None:
            raise KeyError(name)
        return member.read()


def member_names(archive_path: str | Path) -> list[str]:
    archive_path = Path(archive_path)
    if zipfile.is_zipfile(archive_path):
        with zipfile.ZipFile(archive_path) as zf:
            return zf.namelist()
    with tarfile.open(archive_path) as tf:
        return tf.getnames()


def manifest_images(archive_path: str | Path, manifest: dict) -> Iterator[dict]:
    """The manifest's per-image records: the lines of the member `manifest["images"]` names (manifest.jsonl),
    read one at a time; an older manifest's inline list as it is."""
    images = manifest.get("images", [])
    if not isinstance(images, str):
        yield from images
        return
    for line in read_member(archive_path, images).decode("utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


def read_manifest(archive_path: str | Path, manifest_name: str = "manifest.json") -> dict:
    """manifest.json with its per-image records read in as `images` (a list: for checks and small exports)."""
    manifest = json.loads(read_member(archive_path, manifest_name))
    manifest["images"] = list(manifest_images(archive_path, manifest))
    return manifest


def verify_manifest(archive_path: str | Path, manifest_name: str = "manifest.json") -> list[str]:
    """Problems found checking every image's output sha256 in the manifest against the archive (and the image
    list's own sha256): [] when sound."""
    manifest = json.loads(read_member(archive_path, manifest_name))
    problems = []
    names = set(member_names(archive_path))
    lines = manifest.get("images")
    if isinstance(lines, str) and manifest.get("images_sha256"):
        actual = sha256_bytes(read_member(archive_path, lines))
        if actual != manifest["images_sha256"]:
            problems.append(f"{lines}: sha256 {actual} differs from the manifest's {manifest['images_sha256']}")
    for item in manifest_images(archive_path, manifest):
        path = item.get("output_path")
        if path not in names:
            problems.append(f"{path}: listed in the manifest but not in the archive")
            continue
        actual = sha256_bytes(read_member(archive_path, path))
        if actual != item.get("output_sha256"):
            problems.append(f"{path}: sha256 {actual} differs from the manifest's {item.get('output_sha256')}")
    return problems
