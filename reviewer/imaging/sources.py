"""Walking what an admin imports (a folder, a zip, a tar, loose files) into entries, refusing unsafe ones.

Pure code: no Django. Each entry is either readable bytes with a safe relative path, or a refusal with a reason.
Nothing is ever extracted to disk under a name taken from an archive, so `../` or absolute names cannot escape.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".gz", ".bz2", ".xz",
                    ".7z", ".rar")  # fmt: skip
# Files operating systems drop into folders and archives; not images anyone meant to import.
SYSTEM_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini", ".directory"})


@dataclass
class Entry:
    """One file to import. `read()` returns its bytes (at most max_bytes + 1, so an oversize file is caught).

    Call `read()` while iterating: an archive is closed once its iterator is exhausted.
    """

    name: str
    read: Callable[[], bytes] | None = None
    size: int | None = None
    refusal: tuple[str, str] | None = None  # (reason code, message)


def is_archive_name(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def looks_like_archive(head: bytes) -> bool:
    """Zip, gzip, bzip2, xz, 7z, rar, or tar magic at the start of a file's bytes."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06") or head[:2] == b"\x1f\x8b" or head[:3] == b"BZh":
        return True
    if head[:6] in (b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c") or head[:4] == b"Rar!":
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def safe_relative_path(raw: str) -> str | None:
    """The archive member name as a clean relative POSIX path, or None if it is absolute or climbs out."""
    name = raw.replace("\\", "/")
    if not name or name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\x00" in name:
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def unsafe_name_refusal(raw: str, where: str = "the file name") -> tuple[str, str]:
    """Why safe_relative_path refused `raw`, as (reason, message)."""
    if "\x00" in raw:
        return ("unsafe_path", f"{where} contains a NUL character")
    return ("unsafe_path", f"absolute path or '..' in {where}")


def _is_ignored(path: str) -> bool:
    parts = path.split("/")
    return parts[0] == "__MACOSX" or parts[-1].lower() in SYSTEM_FILES or parts[-1].startswith("._")


def _limited_reader(open_fn: Callable[[], io.BufferedIOBase], max_bytes: int) -> Callable[[], bytes]:
    def read() -> bytes:
        with open_fn() as fh:
            return fh.read(max_bytes + 1)

    return read


def iter_folder(root: Path, max_bytes: int) -> Iterator[Entry]:
    """Every file below `root`, recursively, in a stable order. Links and special files are refused."""
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for filename in sorted(filenames):
            full = Path(dirpath) / filename
            rel = full.relative_to(root).as_posix()
            if _is_ignored(rel):
                continue
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode) or not stat.S_ISREG(mode):
                yield Entry(rel, refusal=("link_or_device", "symbolic links and special files are not imported"))
                continue
            yield Entry(rel, read=_limited_reader(lambda p=full: open(p, "rb"), max_bytes), size=full.stat().st_size)  # noqa: SIM115


def iter_zip(fileobj, label: str, max_bytes: int, max_members: int) -> Iterator[Entry]:
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield Entry(label, refusal=("bad_archive", f"not a readable zip archive: {exc}"))
        return
    with archive:
        infos = archive.infolist()
        if len(infos) > max_members:
            yield Entry(label, refusal=("bad_archive", f"archive has {len(infos):,} entries, above {max_members:,}"))
            return
        for info in infos:
            if info.is_dir():
                continue
            rel = safe_relative_path(info.filename)
            if rel is None:
                yield Entry(info.filename, refusal=unsafe_name_refusal(info.filename, "an archive entry name"))
                continue
            if _is_ignored(rel):
                continue
            mode = info.external_attr >> 16
            if mode and (stat.S_ISLNK(mode) or (stat.S_IFMT(mode) and not stat.S_ISREG(mode))):
                yield Entry(rel, refusal=("link_or_device", "links and special files in archives are not imported"))
                continue
            if info.flag_bits & 0x1:
                yield Entry(rel, refusal=("bad_archive", "entry is encrypted"))
                continue
            yield Entry(rel, read=_zip_reader(archive, info, max_bytes), size=info.file_size)


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int) -> Callable[[], bytes]:
    def read() -> bytes:
        with archive.open(info) as fh:
            return fh.read(max_bytes + 1)  # bounded even if the header lies about the size

    return read


def iter_tar(fileobj, label: str, max_bytes: int, max_members: int) -> Iterator[Entry]:
    try:
        archive = tarfile.open(fileobj=fileobj, mode="r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError, EOFError) as exc:
        yield Entry(label, refusal=("bad_archive", f"not a readable tar archive: {exc}"))
        return
    with archive:
        count = 0
        try:
            for member in archive:
                count += 1
                if count > max_members:
                    yield Entry(label, refusal=("bad_archive", f"archive has more than {max_members:,} entries"))
                    return
                if member.isdir():
                    continue
                rel = safe_relative_path(member.name)
                if rel is None:
                    yield Entry(member.name, refusal=unsafe_name_refusal(member.name, "an archive entry name"))
                    continue
                if _is_ignored(rel):
                    continue
                if not member.isreg():
                    yield Entry(rel, refusal=("link_or_device", "links and special files in archives are not imported"))
                    continue
                data = archive.extractfile(member)
                payload = data.read(max_bytes + 1) if data else b""
                yield Entry(rel, read=lambda p=payload: p, size=member.size)
        except (tarfile.TarError, OSError, EOFError) as exc:
            yield Entry(label, refusal=("bad_archive", f"archive is damaged after {count} entries: {exc}"))


def iter_archive(path_or_file, label: str, *, max_bytes: int, max_members: int) -> Iterator[Entry]:
    """Entries of a zip or tar archive (compressed or not), judged by content, not by name."""
    fileobj = open(path_or_file, "rb") if isinstance(path_or_file, (str, Path)) else path_or_file  # noqa: SIM115
    try:
        head = fileobj.read(262)
        fileobj.seek(0)
        if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            yield from iter_zip(fileobj, label, max_bytes, max_members)
        else:
            yield from iter_tar(fileobj, label, max_bytes, max_members)
    finally:
        if isinstance(path_or_file, (str, Path)):
            fileobj.close()
