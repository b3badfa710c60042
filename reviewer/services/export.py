"""Export: an archive of the approved images with every face blurred, annotations, a manifest and a leak check.

`export_start` records what was asked and queues the work; `export_render` (the task's body) does it. The
archive is written under a temporary name in VEIL_EXPORT_DIR and renamed when complete, so a killed worker
leaves no archive under the final name. After each image is rendered, the default detector runs again on the
encoded output at a low threshold: a face found overlapping an approved box is a residual face (the blur did not
hide it), one found elsewhere is a possible missed face. Both are Leak rows, listed in the manifest.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import re
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from reviewer import policies
from reviewer.imaging import annotations, names
from reviewer.imaging.archive import ARCHIVE_KINDS, SUFFIXES, ArchiveWriter, partial_paths, sha256_bytes
from reviewer.imaging.blur import BLUR_MODES, DEFAULT_MODE
from reviewer.imaging.encode import output_path, render_image
from reviewer.imaging.geometry import Box
from reviewer.imaging.loading import ImageRejected, sha256_of
from reviewer.models import Dataset, Export, ExportItem, Leak
from reviewer.selectors.export import approved_images
from reviewer.services.audit import audit_record
from reviewer.services.errors import Conflict, Forbidden, NotFound, ServiceError
from reviewer.services.leaks import leak_detector, leaks_find

logger = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
ProgressFn = Callable[[int, int], None]


def default_options() -> dict[str, Any]:
    return {
        "blur": DEFAULT_MODE,
        "archive": "zip",
        "annotations": list(annotations.FORMATS),
        "jpeg_quality": settings.VEIL_EXPORT_JPEG_QUALITY,
        "leak_check": True,
        "leak_threshold": getattr(settings, "VEIL_EXPORT_LEAK_THRESHOLD", 0.2),
        "fail_on_residual": bool(getattr(settings, "VEIL_EXPORT_FAIL_ON_RESIDUAL", False)),
        # How the manifest names reviewers, the approver and the export's author: pseudonyms, unless the admin
        # chooses names (a dataset meant for publication must not name its crowd).
        "people": "pseudonyms",
    }


PEOPLE_CHOICES = ("pseudonyms", "names")


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


def export_options_clean(options: dict[str, Any] | None) -> dict[str, Any]:
    """Veil's defaults overlaid with the caller's choices, checked. Raises ServiceError naming the bad option."""
    given = {k: v for k, v in (options or {}).items() if v is not None and v != ""}
    unknown = sorted(set(given) - set(default_options()))
    if unknown:
        raise ServiceError(f"Unknown export option(s): {', '.join(unknown)}.", code="invalid_option")
    out = {**default_options(), **given}
    if out["blur"] not in BLUR_MODES:
        raise ServiceError(f"Blur must be one of {', '.join(BLUR_MODES)}; got {out['blur']!r}.", code="invalid_option")
    if out["people"] not in PEOPLE_CHOICES:
        raise ServiceError(f"People must be pseudonyms or names; got {out['people']!r}.", code="invalid_option")
    if out["archive"] not in ARCHIVE_KINDS:
        raise ServiceError(f"Archive must be zip or tar; got {out['archive']!r}.", code="invalid_option")
    formats = out["annotations"]
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in annotations.FORMATS]
    if bad or not isinstance(formats, list):
        raise ServiceError(
            f"Annotation formats must be among {', '.join(annotations.FORMATS)}; got {', '.join(map(str, bad))}.",
            code="invalid_option",
        )
    out["annotations"] = list(dict.fromkeys(formats))
    try:
        out["jpeg_quality"] = int(out["jpeg_quality"])
        out["leak_threshold"] = float(out["leak_threshold"])
    except (TypeError, ValueError) as exc:
        raise ServiceError("JPEG quality and leak threshold must be numbers.", code="invalid_option") from exc
    if not 1 <= out["jpeg_quality"] <= 100:
        raise ServiceError("JPEG quality must be between 1 and 100.", code="invalid_option")
    if not 0 < out["leak_threshold"] < 1:
        raise ServiceError("The leak threshold must be between 0 and 1.", code="invalid_option")
    for key in ("leak_check", "fail_on_residual"):
        value = out[key]
        out[key] = value.strip().lower() in {"1", "true", "yes", "on"} if isinstance(value, str) else bool(value)
    return out


def export_start(*, dataset: Dataset, options: dict[str, Any] | None, user, enqueue: bool = True) -> Export:
    """Record an export of `dataset`'s approved images and queue its rendering once the row is committed.

    Writes an Export (status queued, options with defaults filled in) and an audit event; enqueues
    reviewer.tasks.export.render_export on commit, unless `enqueue` is false (the caller renders it in its own
    process, as `export_dataset --sync` does). Refuses: a user who may not export (Forbidden), bad
    options (ServiceError), a dataset with no approved image (Conflict).
    """
    if not policies.can_export(user, dataset):
        raise Forbidden("Only admins export datasets.")
    cleaned = export_options_clean(options)
    total = approved_images(dataset).count()
    if total == 0:
        raise Conflict(f"{dataset.name} has no approved image to export yet.", code="nothing_approved")
    with transaction.atomic():
        export = Export.objects.create(dataset=dataset, created_by=user, options=cleaned, images_total=total)
        audit_record(actor=user, verb="export.started", obj=export, dataset=dataset.pk, options=cleaned)
        if enqueue:
            transaction.on_commit(lambda: _enqueue(export.pk))
    return export


def _enqueue(export_id: int) -> None:
    from reviewer.tasks.export import render_export

    render_export.delay(export_id)


def export_archive_path(export: Export) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", export.dataset.name).strip("-.") or "dataset"
    kind = export.options.get("archive", "zip")
    return Path(settings.VEIL_EXPORT_DIR) / f"{slug}-export-{export.pk}{SUFFIXES[kind]}"


def export_render(*, export_id: int, detector=None, progress: ProgressFn | None = None) -> Export:
    """Render an export: the task's body, safe to run again.

    Takes the export from queued (or from running, when a killed worker left it so) to done or failed. Writes an
    ExportItem per image (source sha256, output sha256, boxes), Leak rows with a crop of the output for each, and
    the archive: images at their relative paths, the chosen annotation files, manifest.json. Publishes the archive
    only when complete, and not at all when `fail_on_residual` is set and a residual face is found. An export
    already done or failed is returned as it is. Transient database errors put it back to queued and re-raise
    (the task retries); any other error fails it with the reason.
    """
    with transaction.atomic():
        export = Export.objects.select_for_update().select_related("dataset").filter(pk=export_id).first()
        if export is None:
            raise NotFound(f"Export {export_id} does not exist.")
        if export.status in (Export.Status.DONE, Export.Status.FAILED):
            return export
        if export.status == Export.Status.RUNNING and not _is_abandoned(export, timezone.now()):
            # Another delivery of the same message (Redis redelivers after its visibility timeout, which is
            # shorter than an export may take) while a worker is on it: leave it to that worker.
            logger.info("export %s is being rendered by another worker; this delivery does nothing", export.pk)
            return export
        # A fresh start, also after a killed attempt: what that attempt wrote is dropped and done again.
        ExportItem.objects.filter(export=export).delete()
        Leak.objects.filter(export=export).delete()
        export.status, export.started_at, export.finished_at = Export.Status.RUNNING, timezone.now(), None
        export.images_done = export.residual_count = export.missed_count = 0
        export.error = export.file_name = export.file_sha256 = ""
        export.file_size = None
        export.save()
    final = export_archive_path(export)
    for stale in partial_paths(final):
        stale.unlink(missing_ok=True)
    writer = None
    try:
        options = export.options
        if detector is None and options.get("leak_check", True):
            detector = leak_detector(options.get("leak_threshold", 0.2))
        images = list(approved_images(export.dataset))
        Export.objects.filter(pk=export.pk).update(images_total=len(images))
        export.images_total = len(images)
        writer = ArchiveWriter(final, options.get("archive", "zip"))
        manifest_images = []
        taken: set[str] = set()
        last_save = time.monotonic()
        for n, image in enumerate(images, start=1):
            entry = _render_one(export, image, writer, detector if options.get("leak_check", True) else None, taken)
            manifest_images.append(entry)
            if time.monotonic() - last_save > 0.5 or n == len(images):
                Export.objects.filter(pk=export.pk).update(images_done=n)
                last_save = time.monotonic()
            if progress:
                progress(n, len(images))
        export.residual_count = Leak.objects.filter(export=export, kind=Leak.Kind.RESIDUAL).count()
        export.missed_count = Leak.objects.filter(export=export, kind=Leak.Kind.MISSED).count()
        export.images_done = len(images)
        _write_extras(export, images, manifest_images, writer, detector)
        if options.get("fail_on_residual") and export.residual_count:
            writer.abort()
            return _finish(export, error=f"{export.residual_count} residual face(s) found after blurring; "
                           "the archive was not published (fail on residual is on).")  # fmt: skip
        writer.close()
        export.file_name = final.name
        export.file_size = final.stat().st_size
        export.file_sha256 = sha256_of(final)
        return _finish(export)
    except TRANSIENT as exc:
        if writer:
            writer.abort()
        Export.objects.filter(pk=export.pk).update(status=Export.Status.QUEUED, error=f"retrying after: {exc}")
        raise
    except ServiceError as exc:
        if writer:
            writer.abort()
        return _finish(export, error=exc.message)
    except BaseException as exc:  # a time limit, a bug: the export fails visibly, the archive never appears
        if writer:
            writer.abort()
        _finish(export, error=f"export stopped: {exc.__class__.__name__}: {exc}")
        raise


def _is_abandoned(export: Export, now) -> bool:
    """Running for longer than the task's hard time limit: no worker can still be on it."""
    from reviewer.tasks.export import EXPORT_TIME_LIMIT

    return export.started_at is None or export.started_at < now - timedelta(seconds=EXPORT_TIME_LIMIT + 60)


def export_reconcile(*, now=None) -> list[int]:
    """Queue again the exports whose work was lost: queued for longer than VEIL_RECONCILE_AFTER_SECONDS (a
    message dropped by a broker restart) or running past the task's hard time limit (a killed worker). A
    running one is put back to queued first, so the next delivery starts it over. Returns their ids."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.VEIL_RECONCILE_AFTER_SECONDS)
    requeued = []
    for export_id in Export.objects.filter(status__in=[Export.Status.QUEUED, Export.Status.RUNNING]).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            export = Export.objects.select_for_update().filter(pk=export_id).first()
            if export is None:
                continue
            if (
                export.status == Export.Status.QUEUED
                and export.created_at < cutoff
                and (export.started_at is None or export.started_at < cutoff)
            ):
                requeued.append(export.pk)
            elif export.status == Export.Status.RUNNING and _is_abandoned(export, now):
                export.status, export.error = Export.Status.QUEUED, "restarted: the worker rendering it was lost"
                export.save(update_fields=["status", "error"])
                requeued.append(export.pk)
            else:
                continue
            transaction.on_commit(lambda pk=export.pk: _enqueue(pk))
    return requeued


def _finish(export: Export, *, error: str = "") -> Export:
    export.status = Export.Status.FAILED if error else Export.Status.DONE
    export.error = error
    export.finished_at = timezone.now()
    export.save()
    audit_record(
        actor=None, verb="export.failed" if error else "export.done", obj=export,
        images=export.images_done, residual=export.residual_count, missed=export.missed_count, error=error,
    )  # fmt: skip
    return export


def _archive_path(image, taken: set[str]) -> str:
    """The image's path in the archive: its export path, unique (images imported before names were made unique
    for export may still share one) and clear of manifest.json and annotations/."""
    path = output_path(image.relative_path, image.format)
    if names.is_reserved(path):
        path = names.unreserved(path)
    candidate, n = path, 1
    while names.export_key(candidate) in taken:
        n += 1
        candidate = names.with_counter(path, n)
    taken.add(names.export_key(candidate))
    return candidate


def _render_one(export: Export, image, writer: ArchiveWriter, detector, taken: set[str]) -> dict[str, Any]:
    options = export.options
    approval = image.current_approval[0]
    boxes = [b.box for b in approval.boxes.all()]
    with image.file.open("rb") as fh:
        data = fh.read()
    source_sha = sha256_bytes(data)
    if source_sha != image.sha256:
        raise ServiceError(f"{image.relative_path}: the stored original changed since it was imported (sha256).")
    try:
        rendered = render_image(
            io.BytesIO(data), boxes, mode=options["blur"], jpeg_quality=options["jpeg_quality"],
            max_pixels=settings.VEIL_MAX_IMAGE_PIXELS,
        )  # fmt: skip
    except ImageRejected as exc:
        raise ServiceError(f"{image.relative_path}: {exc.message}") from exc
    path = writer.add(_archive_path(image, taken), rendered.data)
    output_sha = sha256_bytes(rendered.data)
    item = ExportItem.objects.create(
        export=export, image=image, approval=approval, output_path=path, source_sha256=source_sha,
        output_sha256=output_sha, boxes=[b.rounded().as_list() for b in boxes],
    )  # fmt: skip
    leaks = []
    if detector is not None:
        leaks = leaks_find(
            export=export, image=image, boxes=boxes, output=rendered.data, detector=detector, mode=options["blur"]
        )
    return {
        "source_path": image.relative_path,
        "original_name": image.original_name or image.relative_path,
        "output_path": item.output_path,
        "source_sha256": source_sha,
        "output_sha256": output_sha,
        "width": image.width,
        "height": image.height,
        "boxes": item.boxes,
        "approval": {
            "id": approval.pk,
            "source": approval.source,
            "approved_by": person_label(approval.approved_by, export=export),
            "approved_at": approval.approved_at.isoformat(),
        },
        "reviewers": sorted({person_label(r.reviewer, export=export) for r in approval.reviews.all()}),
        "leaks": [{"kind": k.kind, "box": k.box.rounded().as_list(), "score": round(k.score, 4)} for k in leaks],
    }


def _write_extras(export: Export, images, manifest_images: list[dict], writer: ArchiveWriter, detector) -> None:
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
            "images": manifest_images,
        },
    )


def export_copy_to(*, export: Export, destination: Path) -> Path:
    """Copy a finished export's archive to `destination`, itself through a temporary name and a rename."""
    import shutil

    if export.status != Export.Status.DONE or not export.file_name:
        raise Conflict(f"Export {export.pk} is {export.status}, there is no archive to copy.")
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = destination.with_name(f".{destination.name}.partial")
    shutil.copyfile(Path(settings.VEIL_EXPORT_DIR) / export.file_name, temp)
    temp.replace(destination)
    return destination
