"""Import: files, folders and archives become Image rows with their originals in private storage.

Three doors (the upload page, `manage.py import_images`, the API) call the functions here; the rules live only here.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from reviewer.errors import ServiceError
from reviewer.imaging import names, sources
from reviewer.imaging.encode import output_path
from reviewer.imaging.loading import ImageRejected, probe, sha256_of
from reviewer.models import Dataset, Image, ImportJob, ImportRejection
from reviewer.models.datasets import image_upload_to
from reviewer.services.audit import audit_record

logger = logging.getLogger(__name__)

IMPORTED, DUPLICATE, REJECTED = "imported", "duplicate", "rejected"
DUPLICATE_NAMES_KEPT = 200


@dataclass(frozen=True)
class Outcome:
    name: str
    result: str  # imported | duplicate | rejected
    reason: str = ""
    message: str = ""
    image_id: int | None = None


ProgressFn = Callable[[Outcome], None]


def dataset_get_or_create(*, name: str, user=None) -> tuple[Dataset, bool]:
    """The dataset called `name`, created if missing. Refuses an empty or over-long name."""
    name = (name or "").strip()
    if not name:
        raise ServiceError("A dataset needs a name.", code="invalid_name")
    if len(name) > Dataset._meta.get_field("name").max_length:
        raise ServiceError("A dataset name must be at most 200 characters.", code="invalid_name")
    dataset, created = Dataset.objects.get_or_create(name=name, defaults={"created_by": user})
    if created:
        audit_record(actor=user, verb="dataset.created", obj=dataset, name=name)
    return dataset, created


def import_start(*, dataset: Dataset, source: str, label: str, user=None) -> ImportJob:
    """Open an import job; its counters and rejections fill in as files are ingested."""
    return ImportJob.objects.create(dataset=dataset, source=source, label=label[:500], created_by=user)


def import_finish(*, import_job: ImportJob, error: str = "") -> ImportJob:
    """Close the job with its final counts, recounted from rows by the database so they match what is stored.

    files_seen and duplicate_count were kept by F() updates as each file went through; neither is written from
    this (possibly stale) object.
    """
    ImportJob.objects.filter(pk=import_job.pk).update(
        imported_count=Image.objects.filter(import_job=import_job).count(),
        rejected_count=ImportRejection.objects.filter(import_job=import_job).count(),
        status=ImportJob.Status.FAILED if error else ImportJob.Status.DONE,
        error=error,
        finished_at=timezone.now(),
    )
    import_job.refresh_from_db()
    audit_record(
        actor=import_job.created_by,
        verb="import.finished",
        obj=import_job,
        imported=import_job.imported_count,
        duplicates=import_job.duplicate_count,
        rejected=import_job.rejected_count,
    )
    return import_job


def _reject(import_job: ImportJob, name: str, reason: str, message: str) -> Outcome:
    shown = names.describe(name, limit=1024)  # no control character or NUL reaches the page or the database
    with transaction.atomic():  # the row and the count together: files_seen is the resume cursor
        ImportRejection.objects.create(import_job=import_job, name=shown, reason=reason, message=message)
        ImportJob.objects.filter(pk=import_job.pk).update(
            files_seen=_plus("files_seen"), rejected_count=_plus("rejected_count")
        )
    return Outcome(shown, REJECTED, reason, message)


def _plus(field: str):
    return F(field) + 1


def _export_safe_path(dataset: Dataset, path: str, fmt: str) -> str:
    """`path`, or the nearest free name (`a~2.jpg`, ...) whose export path no other image of the dataset has.

    An export writes GIFs as PNG, so `same.gif` would land on `same.png`; macOS and Windows fold case; the
    archive's own manifest.json and annotations/ are not for images.
    """
    if names.is_reserved(path) or names.is_reserved(output_path(path, fmt)):
        path = names.unreserved(path)
    candidate, n = path, 1
    while (
        Image.objects.filter(dataset=dataset, export_key=names.export_key(output_path(candidate, fmt))).exists()
        or Image.objects.filter(dataset=dataset, relative_path=candidate).exists()
    ):
        n += 1
        candidate = names.with_counter(path, n)
    return candidate


class _SpooledFile(TemporaryUploadedFile):
    """Bytes in a temporary file beside the media folder, so FileSystemStorage moves it in with one rename.

    A crash mid-import therefore never leaves a half-written original under its final name.
    """

    def __init__(self, data: bytes, name: str):
        super().__init__(name=name, content_type="application/octet-stream", size=len(data), charset=None)
        self.file.write(data)
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.seek(0)


def image_ingest(*, import_job: ImportJob, name: str, data: bytes) -> Outcome:
    """Check one file and store it as an Image of the job's dataset, or record why not.

    Writes: the original (content-addressed name), one Image row, or one ImportRejection; counts on the job.
    Refuses: files over VEIL_MAX_IMAGE_BYTES, archives inside an import, non-images, corrupt or truncated images
    (a bad checksum, a metadata chunk that inflates past Pillow's limit), unsupported formats, images over
    VEIL_MAX_IMAGE_PIXELS, a path already used by different bytes, NUL in the name, paths over 1,024 characters.
    Names lose control and bidi characters and are made unique for export (the name given is kept in
    original_name). Duplicates (same sha256 in the dataset) are counted and skipped. One bad file never stops
    the others, nor does a full disk: each file it keeps out is an ImportRejection (storage_full) with that
    sentence.
    """
    dataset = import_job.dataset
    cleaned = names.clean_path(name)
    if cleaned.path is None:
        return _reject(import_job, name, *cleaned.refusal)
    given, name = name, cleaned.path
    if len(data) > settings.VEIL_MAX_IMAGE_BYTES:
        return _reject(import_job, name, "too_large", f"file is over {settings.VEIL_MAX_IMAGE_BYTES:,} bytes")
    if sources.is_archive_name(name) or sources.looks_like_archive(data[:262]):
        return _reject(import_job, name, "nested_archive", "archives inside an import are not opened; import it alone")
    try:
        info = probe(io.BytesIO(data), max_pixels=settings.VEIL_MAX_IMAGE_PIXELS)
    except ImageRejected as exc:
        return _reject(import_job, name, exc.code, exc.message)
    digest = sha256_of(io.BytesIO(data))

    existing = Image.objects.filter(dataset=dataset, sha256=digest).only("relative_path").first()
    if existing is not None:
        ImportJob.objects.filter(pk=import_job.pk).update(
            files_seen=_plus("files_seen"), duplicate_count=_plus("duplicate_count")
        )
        _name_duplicate(import_job, name, existing.relative_path)
        return Outcome(name, DUPLICATE, "duplicate", f"same content as {existing.relative_path}")
    if Image.objects.filter(dataset=dataset, relative_path=name).exists():
        return _reject(import_job, name, "path_conflict", "another image with different content has this path")
    name = _export_safe_path(dataset, name, info.format)
    if len(name) > names.MAX_PATH_CHARS:
        return _reject(
            import_job, given, "name_too_long", f"the path would be {len(name):,} characters once made unique"
        )

    image = Image(
        dataset=dataset,
        relative_path=name,
        original_name="" if name == given else names.describe(given, limit=8192),
        export_key=names.export_key(output_path(name, info.format)),
        sha256=digest,
        file_size=len(data),
        format=info.format,
        width=info.width,
        height=info.height,
        orientation=info.orientation,
        import_job=import_job,
    )
    target = image_upload_to(image, name)
    try:
        with transaction.atomic():
            if default_storage.exists(target):
                # Left by an import that died after storing the file but before its row committed: same bytes.
                image.file.name = target
            else:
                spooled = _SpooledFile(data, name)
                try:
                    image.file.save(name, spooled, save=False)
                finally:
                    spooled.close()
            image.save()
            ImportJob.objects.filter(pk=import_job.pk).update(files_seen=_plus("files_seen"))
    except IntegrityError:
        # Another import stored the same bytes or path a moment ago.
        if image.file.name and image.file.name != target and not Image.objects.filter(file=image.file.name).exists():
            default_storage.delete(image.file.name)
        ImportJob.objects.filter(pk=import_job.pk).update(
            files_seen=_plus("files_seen"), duplicate_count=_plus("duplicate_count")
        )
        _name_duplicate(import_job, name, "")
        return Outcome(name, DUPLICATE, "duplicate", "imported concurrently by another import")
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # The disk (or quota) is full: this file is listed as not imported, and so is every one after it that
        # meets the same full disk; none is dropped silently. A partial original is removed.
        if default_storage.exists(target) and not Image.objects.filter(file=target).exists():
            default_storage.delete(target)
        return _reject(
            import_job, name, "storage_full",
            "not imported: the storage is full (no space left on device); free space and import this file again",
        )  # fmt: skip
    return Outcome(name, IMPORTED, image_id=image.pk)


def _name_duplicate(import_job: ImportJob, name: str, same_as: str) -> None:
    """Keep the skipped file's name (and the image it repeats) on the job, the first DUPLICATE_NAMES_KEPT."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().only("duplicate_names").get(pk=import_job.pk)
        if len(job.duplicate_names) < DUPLICATE_NAMES_KEPT:
            job.duplicate_names.append({"name": name, "same_as": same_as})
            job.save(update_fields=["duplicate_names"])


def _ingest_guarded(*, import_job: ImportJob, name: str, data: bytes) -> Outcome:
    """image_ingest, with a file that trips an unforeseen error in a decoder rejected instead of ending the import.

    Database errors still propagate: they are the import's failure (or a retry's), not the file's.
    """
    try:
        return image_ingest(import_job=import_job, name=name, data=data)
    except (DatabaseError, SoftTimeLimitExceeded):
        raise
    except Exception as exc:
        logger.exception("import %s: unexpected error on %r", import_job.pk, names.describe(name))
        return _reject(import_job, name, "corrupt", f"cannot read this file ({exc.__class__.__name__}: {exc})")


def _entries_of(path: Path) -> Iterator[sources.Entry]:
    max_bytes = settings.VEIL_MAX_IMAGE_BYTES
    if path.is_dir():
        yield from sources.iter_folder(path, max_bytes)
    elif sources.is_archive_name(path.name) or sources.looks_like_archive(_head(path)):
        yield from sources.iter_archive(
            path, path.name, max_bytes=max_bytes, max_members=settings.VEIL_MAX_ARCHIVE_MEMBERS
        )
    else:
        yield sources.Entry(path.name, read=lambda: path.read_bytes(), size=path.stat().st_size)


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(262)


def ingest_entries(*, import_job: ImportJob, entries: Iterable[sources.Entry], progress: ProgressFn | None) -> None:
    for entry in entries:
        if entry.refusal:
            outcome = _reject(import_job, entry.name, *entry.refusal)
        else:
            try:
                data = entry.read()
            except Exception as exc:  # a damaged archive member must not stop the others
                outcome = _reject(import_job, entry.name, "bad_archive", f"cannot read this entry: {exc}")
            else:
                outcome = _ingest_guarded(import_job=import_job, name=entry.name, data=data)
        if progress:
            progress(outcome)


def count_entries(path: Path) -> int:
    """How many files an import of `path` will look at (for a progress bar)."""
    return sum(1 for _ in _entries_of(Path(path)))


def import_path(
    *,
    dataset: Dataset,
    path: Path,
    user=None,
    source: str = ImportJob.Source.COMMAND,
    progress: ProgressFn | None = None,
) -> ImportJob:
    """Import a folder (recursively), an archive (zip or tar, compressed or not) or one image file."""
    path = Path(path)
    if not path.exists():
        raise ServiceError(f"{path} does not exist.", code="not_found")
    import_job = import_start(dataset=dataset, source=source, label=str(path), user=user)
    try:
        ingest_entries(import_job=import_job, entries=_entries_of(path), progress=progress)
    except BaseException as exc:
        import_finish(import_job=import_job, error=f"interrupted: {exc!r}")
        raise
    import_job.refresh_from_db()
    return import_finish(import_job=import_job)


def import_uploads(
    *, dataset: Dataset, files: Iterable, user=None, source: str = ImportJob.Source.PAGE, paths: list[str] | None = None
) -> ImportJob:
    """Import uploaded files: each an image or an archive. `paths` may give each upload's relative path."""
    files = list(files)
    label = ", ".join(f.name for f in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    import_job = import_start(dataset=dataset, source=source, label=label, user=user)
    try:
        for index, upload in enumerate(files):
            raw_name = (paths[index] if paths and index < len(paths) and paths[index] else upload.name) or "upload"
            ingest_entries(import_job=import_job, entries=upload_entries(upload, raw_name), progress=None)
    except BaseException as exc:
        import_finish(import_job=import_job, error=f"interrupted: {exc!r}")
        raise
    import_job.refresh_from_db()
    return import_finish(import_job=import_job)


def upload_entries(upload, raw_name: str) -> Iterator[sources.Entry]:
    """The entries of one uploaded file (a Django File): itself, or an archive's members, or one refusal."""
    max_bytes = settings.VEIL_MAX_IMAGE_BYTES
    name = sources.safe_relative_path(raw_name)
    if name is None:
        yield sources.Entry(raw_name, refusal=sources.unsafe_name_refusal(raw_name))
        return
    upload.seek(0)
    head = upload.read(262)
    upload.seek(0)
    if sources.is_archive_name(name) or sources.looks_like_archive(head):
        yield from _archive_entries(upload, name, max_bytes)
    else:
        yield sources.Entry(name, read=lambda: upload.read(max_bytes + 1), size=upload.size)


def _archive_entries(upload, name: str, max_bytes: int) -> Iterator[sources.Entry]:
    # Archive readers need a seekable file: uploads above the memory limit already are temporary files.
    if hasattr(upload, "temporary_file_path"):
        yield from sources.iter_archive(
            upload.temporary_file_path(), name, max_bytes=max_bytes, max_members=settings.VEIL_MAX_ARCHIVE_MEMBERS
        )
        return
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as tmp:
        for chunk in upload.chunks():
            tmp.write(chunk)
        tmp.seek(0)
        yield from sources.iter_archive(tmp, name, max_bytes=max_bytes, max_members=settings.VEIL_MAX_ARCHIVE_MEMBERS)
