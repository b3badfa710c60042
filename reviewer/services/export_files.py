"""Where an export's files live: chunk parts, the published output (one archive or a folder of files), leak crops;
and the heartbeats of the export and its chunks.

Archives and leak crops go through the "exports" Django storage (STORAGES["exports"]: a folder in embedded mode,
S3 under the media bucket's `exports/` prefix when VEIL_S3_BUCKET is set), never to a path only one machine can
see: a worker writes them, the web process streams them through the permission-checked download view. An archive
is built in this machine's work folder (VEIL_DATA_DIR/tmp/exports) and handed to the storage only once complete:
S3 makes an object visible only when its upload ends, and a local folder gets it by a rename; a killed renderer
leaves at worst its work folder, which the next attempt on that machine clears.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import re
import shutil
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.utils import timezone

from reviewer import jobs
from reviewer.imaging.archive import SUFFIXES, UnsafeMemberName, safe_member_name
from reviewer.imaging.layouts import FOLDER_LAYOUTS
from reviewer.models import Export, ExportChunk, Leak
from reviewer.services.heartbeat import RowHeartbeat

logger = logging.getLogger(__name__)

RECORDS = "records.jsonl"  # a chunk part's last member: one manifest record per image, in the part's order


def person_label(user, *, export: Export) -> str | None:
    """The manifest's name for `user`: the username if the export names people, else a stable pseudonym.

    The pseudonym is an HMAC of the user's id under the secret key and the dataset: the same person reads the
    same within a dataset's exports, cannot be linked across datasets, and cannot be reversed without the key.
    """
    if user is None:
        return None
    if export.options.get("people") == "names":
        return user.username
    digest = hmac.new(settings.SECRET_KEY.encode(), f"{export.dataset_id}:{user.pk}".encode(), hashlib.sha256)
    return f"person-{digest.hexdigest()[:10]}"


def export_storage():
    return storages["exports"]


def export_archive_name(export: Export) -> str:
    """The output's name in the exports storage: `<dataset>-export-<id>.zip` (or .tar), or the folder
    `<dataset>-export-<id>` for the folder layouts (WebDataset shards, a plain folder, a Hugging Face imagefolder)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", export.dataset.name).strip("-.") or "dataset"
    kind = export.options.get("archive", "zip")
    return f"{slug}-export-{export.pk}{SUFFIXES.get(kind, '')}"


def is_folder_output(export: Export) -> bool:
    return export.options.get("archive", "zip") in FOLDER_LAYOUTS


def chunk_part_name(chunk: ExportChunk, attempt: int) -> str:
    """A chunk's rendered images and records in the exports storage, per attempt: a superseded renderer's late
    upload never overwrites the part of the attempt that finished."""
    return f"parts/export-{chunk.export_id}/chunk-{chunk.index:06d}-a{attempt}.tar"


def chunk_part_publish(name: str, path: Path) -> str:
    storage = export_storage()
    if storage.exists(name):
        storage.delete(name)
    with path.open("rb") as fh:
        return storage.save(name, _LocalFile(fh, name=str(path)))


def chunk_part_open(name: str):
    """A seekable local file of a stored chunk part: the file itself on a local folder, a spooled download on S3."""
    return export_storage().open(name, "rb")


def export_parts_discard(export_id: int) -> None:
    """Delete every chunk part of an export (its output is published, or it is started over)."""
    storage = export_storage()
    folder = f"parts/export-{export_id}"
    try:
        _dirs, files = storage.listdir(folder)
    except (FileNotFoundError, OSError):
        return
    for name in files:
        try:
            storage.delete(f"{folder}/{name}")
        except OSError:
            logger.warning("export %s: could not delete the part %s", export_id, name)
    local = _local_path(storage, folder)
    if local is not None:
        with contextlib.suppress(OSError):
            local.rmdir()  # a local folder outlives its files; S3 has no folders


def leak_crop_name(leak: Leak) -> str:
    return f"leaks/export-{leak.export_id}/{leak.pk}.jpg"


def export_work_path(export_id: int) -> Path:
    return Path(settings.VEIL_DATA_DIR) / "tmp" / "exports" / f"export-{export_id}"


def export_work_dir(export_id: int) -> Path:
    """This machine's scratch folder for one export, emptied first: a killed attempt's partial archive goes.
    Raises OSError when it cannot be made (a read-only or full data folder)."""
    work = export_work_path(export_id)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    return work


class _LocalFile(File):
    """A finished local file; FileSystemStorage moves it into place by a rename instead of copying it."""

    def temporary_file_path(self) -> str:
        return self.file.name


def export_archive_publish(export: Export, path: Path) -> str:
    """Hand the complete archive at `path` to the exports storage; returns the name it is stored under."""
    storage = export_storage()
    name = export_archive_name(export)
    if storage.exists(name):  # what an earlier, superseded attempt published: this attempt's archive replaces it
        storage.delete(name)
    with path.open("rb") as fh:
        return storage.save(name, _LocalFile(fh, name=str(path)))


def export_folder_publish(export: Export, folder: Path) -> tuple[str, int]:
    """Hand the complete output folder to the exports storage under its name; returns (name, total bytes).

    A local folder gets it by one rename when the storage is on the same disk (nothing partial is ever visible
    under the name); otherwise (S3) each file is uploaded and the folder counts as published once the export is
    marked done, which happens only after the last upload.
    """
    storage = export_storage()
    name = export_archive_name(export)
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    export_folder_discard(name)
    local = _local_path(storage, name)
    if local is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.rename(local)
            return name, total
        except OSError:  # another disk: copy, then the storage sees it whole only when export is marked done
            shutil.copytree(folder, local)
            return name, total
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with path.open("rb") as fh:
            storage.save(f"{name}/{path.relative_to(folder).as_posix()}", _LocalFile(fh, name=str(path)))
    return name, total


def _local_path(storage, name: str) -> Path | None:
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return None


def export_folder_discard(name: str) -> None:
    """Delete a folder output (an earlier, superseded attempt's) from the exports storage."""
    storage = export_storage()
    local = _local_path(storage, name)
    if local is not None:
        shutil.rmtree(local, ignore_errors=True)
        return
    for file_name in list(export_folder_walk(name)):
        storage.delete(f"{name}/{file_name}")


def export_folder_walk(name: str):
    """The files under a folder output, as paths relative to it (recursively, in the storage's order)."""
    storage = export_storage()
    stack = [""]
    while stack:
        prefix = stack.pop()
        try:
            dirs, files = storage.listdir(f"{name}/{prefix}".rstrip("/"))
        except (FileNotFoundError, OSError):
            continue
        for file_name in files:
            yield f"{prefix}{file_name}"
        stack.extend(f"{prefix}{d}/" for d in dirs)


def export_archive_open(export: Export, member: str | None = None):
    """A readable stream of a finished export's archive (or of one file of a folder output), straight from its
    storage (S3: the object's body)."""
    storage = export_storage()
    name = export.file_name if member is None else f"{export.file_name}/{member}"
    bucket = getattr(storage, "bucket", None)
    if bucket is not None:  # S3: read the object's body as it arrives, without spooling it to local disk first
        from storages.utils import clean_name

        return bucket.Object(storage._normalize_name(clean_name(name))).get()["Body"]
    return storage.open(name, "rb")


def export_output_open(export: Export, member: str | None = None):
    """A finished export's archive (`member` None) or one file of its folder output, as a stream from the exports
    storage, for the download views of the pages and the API. Raises NotFound with the sentence to show for an
    export not done, the wrong kind of request for its layout, an unsafe path, or a file that is not there."""
    from reviewer.errors import NotFound

    missing = "This export has no archive to download (not finished, failed, or removed)."
    if export.status != Export.Status.DONE or not export.file_name:
        raise NotFound(missing)
    if (member is not None) != is_folder_output(export):
        raise NotFound("This export is one archive: download it whole." if member else "Download its files one by one.")
    if member is not None:
        try:
            member = safe_member_name(member)
        except UnsafeMemberName as exc:
            raise NotFound("No such file in this export.") from exc
        missing = "No such file in this export."
    try:  # streamed from the exports storage (a folder, or S3 when the worker ran on another machine)
        return export_archive_open(export, member)
    except OSError as exc:
        raise NotFound(missing) from exc
    except Exception as exc:  # S3 answers a missing object with its own error class
        if "NoSuchKey" in type(exc).__name__ or "404" in str(exc):
            raise NotFound(missing) from exc
        raise


def export_files_discard(export: Export, *, keep_leaks: bool = False) -> None:
    """Drop what an export wrote: its chunks and parts, its ExportItem rows and, unless `keep_leaks`, its Leak
    rows and their crops."""
    from reviewer.models import ExportItem

    ExportItem.objects.filter(export=export).delete()
    ExportChunk.objects.filter(export=export).delete()
    export_parts_discard(export.pk)
    if not keep_leaks:
        leaks_discard(Leak.objects.filter(export=export))


def leaks_discard(leaks) -> None:
    """Delete these Leak rows and their crops (crops first: a crop without a row is the lesser leftover)."""
    storage = export_storage()
    for leak in leaks.only("pk", "export_id"):
        try:
            storage.delete(leak_crop_name(leak))
        except OSError:
            logger.warning("export %s: could not delete the crop of leak %s", leak.export_id, leak.pk)
    leaks.delete()


def heartbeat_is_stale(row: Export | ExportChunk, now) -> bool:
    """Whether the worker on an export (plan, assembly) or a chunk is lost: its last beat (or, before the first,
    its start) is older than VEIL_EXPORT_STALE_SECONDS."""
    last = row.heartbeat_at or row.started_at
    return last is None or last < stale_before(now)


def stale_before(now):
    """Beats older than this are stale (heartbeat_is_stale; reconcile's query of lost chunks uses the same)."""
    return now - timedelta(seconds=jobs.export_stale_seconds())


class Heartbeat(RowHeartbeat):
    """Writes Export.heartbeat_at every VEIL_EXPORT_HEARTBEAT_SECONDS from a thread while a renderer works, so
    a slow step (a huge image, the manifest, the upload) never looks like a lost renderer. Only for its own
    attempt: once another renderer took the export over, its beats match no row and the thread stops."""

    def __init__(self, export_id: int, attempt: int):
        self.export_id, self.attempt = export_id, attempt
        super().__init__(self._export_beat, every=jobs.export_heartbeat_seconds(), name=f"export {export_id}")

    def _export_beat(self) -> bool:
        return bool(
            Export.objects.filter(pk=self.export_id, attempt=self.attempt, status=Export.Status.RUNNING).update(
                heartbeat_at=timezone.now()
            )
        )


class ChunkHeartbeat(RowHeartbeat):
    """Writes ExportChunk.heartbeat_at while a worker renders the chunk, for its own attempt only."""

    def __init__(self, chunk_id: int, attempt: int):
        self.chunk_id, self.attempt = chunk_id, attempt
        super().__init__(self._chunk_beat, every=jobs.export_heartbeat_seconds(), name=f"export chunk {chunk_id}")

    def _chunk_beat(self) -> bool:
        return bool(
            ExportChunk.objects.filter(
                pk=self.chunk_id, attempt=self.attempt, status=ExportChunk.Status.RUNNING
            ).update(heartbeat_at=timezone.now())
        )


def export_copy_to(*, export: Export, destination: Path) -> Path:
    """Copy a finished export's output from the exports storage to `destination` (a file for zip and tar, a folder
    for the folder layouts), through a temporary name, so `destination` appears only complete."""
    from reviewer.errors import Conflict

    if export.status != Export.Status.DONE or not export.file_name:
        raise Conflict(f"Export {export.pk} is {export.status}, there is no archive to copy.")
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = destination.with_name(f".{destination.name}.partial")
    try:
        if is_folder_output(export):
            shutil.rmtree(temp, ignore_errors=True)
            for member in export_folder_walk(export.file_name):
                target = temp / member
                target.parent.mkdir(parents=True, exist_ok=True)
                with export_archive_open(export, member) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out, 1024 * 1024)
            if destination.exists():
                shutil.rmtree(destination)
            temp.rename(destination)
        else:
            with export_archive_open(export) as src, temp.open("wb") as out:
                shutil.copyfileobj(src, out, 1024 * 1024)
            temp.replace(destination)
    finally:
        if temp.is_dir():
            shutil.rmtree(temp, ignore_errors=True)
        else:
            temp.unlink(missing_ok=True)
    return destination
