"""Where an export's files live, and the renderer's heartbeat.

Archives and leak crops go through the "exports" Django storage (STORAGES["exports"]: a folder in embedded mode,
S3 under the media bucket's `exports/` prefix when VEIL_S3_BUCKET is set), never to a path only one machine can
see: a worker writes them, the web process streams them through the permission-checked download view. An archive
is built in this machine's work folder (VEIL_DATA_DIR/tmp/exports) and handed to the storage only once complete:
S3 makes an object visible only when its upload ends, and a local folder gets it by a rename; a killed renderer
leaves at worst its work folder, which the next attempt on that machine clears.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import shutil
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.utils import timezone

from reviewer import jobs
from reviewer.imaging import annotations
from reviewer.imaging.archive import SUFFIXES, ArchiveWriter
from reviewer.imaging.geometry import Box
from reviewer.models import Export, Leak
from reviewer.services.heartbeat import RowHeartbeat

logger = logging.getLogger(__name__)


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
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", export.dataset.name).strip("-.") or "dataset"
    kind = export.options.get("archive", "zip")
    return f"{slug}-export-{export.pk}{SUFFIXES[kind]}"


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


def export_archive_open(export: Export):
    """A readable stream of a finished export's archive, straight from its storage (S3: the object's body)."""
    storage = export_storage()
    bucket = getattr(storage, "bucket", None)
    if bucket is not None:  # S3: read the object's body as it arrives, without spooling it to local disk first
        from storages.utils import clean_name

        return bucket.Object(storage._normalize_name(clean_name(export.file_name))).get()["Body"]
    return storage.open(export.file_name, "rb")


def export_files_discard(export: Export, *, keep_leaks: bool = False) -> None:
    """Drop what an attempt wrote: its ExportItem rows and, unless `keep_leaks`, its Leak rows and their crops."""
    from reviewer.models import ExportItem

    ExportItem.objects.filter(export=export).delete()
    if keep_leaks:
        return
    storage = export_storage()
    leaks = Leak.objects.filter(export=export)
    for leak in leaks.only("pk", "export_id"):
        try:
            storage.delete(leak_crop_name(leak))
        except OSError:
            logger.warning("export %s: could not delete the crop of leak %s", export.pk, leak.pk)
    leaks.delete()


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


def export_copy_to(*, export: Export, destination: Path) -> Path:
    """Copy a finished export's archive from the exports storage to `destination`, through a temporary name."""
    from reviewer.errors import Conflict

    if export.status != Export.Status.DONE or not export.file_name:
        raise Conflict(f"Export {export.pk} is {export.status}, there is no archive to copy.")
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = destination.with_name(f".{destination.name}.partial")
    try:
        with export_archive_open(export) as src, temp.open("wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
        temp.replace(destination)
    finally:
        temp.unlink(missing_ok=True)
    return destination


def write_extras(export: Export, manifest_images: list[dict], writer: ArchiveWriter, detector) -> None:
    """Annotation files (paths as in the archive) and manifest.json, the last member written."""
    options = export.options
    boxed = [
        annotations.ImageBoxes(
            entry["output_path"], entry["width"], entry["height"],
            [annotations.ScoredBox(Box(*b), 1.0) for b in entry["boxes"]],
        )
        for entry in manifest_images
    ]  # fmt: skip
    written = {}
    for fmt in options.get("annotations", []):
        name = f"annotations/{annotations.FILE_NAMES[fmt]}"
        writer.add(name, annotations.write(fmt, boxed), compress=True)
        written[fmt] = name
    describe = detector.describe() if detector is not None and hasattr(detector, "describe") else None
    writer.add_json(
        "manifest.json",
        {
            "veil_version": settings.VEIL_VERSION,
            "export_id": export.pk,
            "dataset": export.dataset.name,
            "created_at": export.created_at.isoformat(),
            "created_by": person_label(export.created_by, export=export),
            "options": options,
            "leak_check": {
                "detector": describe,
                "residual_count": export.residual_count,
                "missed_count": export.missed_count,
                "rule": "residual: a detection overlapping an approved box (IoU >= 0.3 or centre inside its "
                "blurred region); missed: any other detection",
            },
            "annotations": written,
            "release_gate": export.gate,
            "images": manifest_images,
        },
    )
