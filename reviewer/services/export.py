"""Export: an archive of the approved images with every face blurred, annotations, a manifest and a leak check.

`export_start` records what was asked and queues the work; `export_render` (the task's body) does it. The
archive is built in the worker's work folder and handed to the exports storage (reviewer/services/export_files.py)
only when complete, so a killed worker leaves no archive under the final name. A renderer beats a heartbeat on
the row; reconcile restarts an export whose heartbeat went stale, and every write is checked against the
attempt that took the export, so two renderers never write one export.

After each image is rendered, the default detector runs again on the
encoded output at a low threshold: a face found overlapping an approved box is a residual face (the blur did not
hide it), one found elsewhere is a possible missed face. Both are Leak rows, listed in the manifest.
"""

from __future__ import annotations

import io
import logging
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.env import parse_flag
from reviewer import jobs, policies
from reviewer.errors import Conflict, Forbidden, NotFound, ServiceError
from reviewer.imaging import annotations, names
from reviewer.imaging.archive import ArchiveWriter, sha256_bytes
from reviewer.imaging.blur import BLUR_MODES, DEFAULT_MODE
from reviewer.imaging.encode import output_path, render_image
from reviewer.imaging.layouts import DEFAULT_SHARD_SIZE, LAYOUTS
from reviewer.imaging.loading import ImageRejected, sha256_of
from reviewer.models import Dataset, Export, ExportItem, Leak
from reviewer.selectors.export import approved_images
from reviewer.services.audit import audit_record
from reviewer.services.export_files import (
    Heartbeat,
    export_archive_name,
    export_archive_publish,
    export_files_discard,
    export_storage,
    export_work_dir,
    export_work_path,
    person_label,
    write_extras,
)
from reviewer.services.gate import gate_for_export, gate_record_override
from reviewer.services.leaks import leak_detector, leaks_detect, leaks_save
from reviewer.services.safety import second_look_after_leak_check

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]


def default_options() -> dict[str, Any]:
    return {
        "blur": DEFAULT_MODE,
        # The output's layout: one zip or tar, WebDataset shards (`shard_size` samples each), a plain folder, or a
        # Hugging Face imagefolder (reviewer/imaging/layouts.py).
        "archive": "zip",
        "shard_size": DEFAULT_SHARD_SIZE,
        "annotations": list(annotations.FORMATS),
        "jpeg_quality": settings.VEIL_EXPORT_JPEG_QUALITY,
        "leak_check": True,
        # Kept so older scripts' "leak_views" / --quick-leak-check are accepted and recorded: the leak check no
        # longer searches originals (the safety net's search runs once, at detection), so it changes nothing.
        "leak_views": True,
        "leak_threshold": getattr(settings, "VEIL_EXPORT_LEAK_THRESHOLD", 0.2),
        "fail_on_residual": bool(getattr(settings, "VEIL_EXPORT_FAIL_ON_RESIDUAL", False)),
        # How the manifest names reviewers, the approver and the export's author: pseudonyms, unless the admin
        # chooses names (a dataset meant for publication must not name its crowd).
        "people": "pseudonyms",
    }


PEOPLE_CHOICES = ("pseudonyms", "names")
MAX_SHARD_SIZE = 100_000


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
    if out["archive"] not in LAYOUTS:
        raise ServiceError(
            f"Archive must be one of {', '.join(LAYOUTS)}; got {out['archive']!r}.", code="invalid_option"
        )
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
        out["shard_size"] = int(out["shard_size"])
    except (TypeError, ValueError) as exc:
        raise ServiceError(
            "JPEG quality, shard size and leak threshold must be numbers.", code="invalid_option"
        ) from exc
    if not 1 <= out["shard_size"] <= MAX_SHARD_SIZE:
        raise ServiceError(f"Shard size must be between 1 and {MAX_SHARD_SIZE}.", code="invalid_option")
    if not 1 <= out["jpeg_quality"] <= 100:
        raise ServiceError("JPEG quality must be between 1 and 100.", code="invalid_option")
    if not 0 < out["leak_threshold"] < 1:
        raise ServiceError("The leak threshold must be between 0 and 1.", code="invalid_option")
    for key in ("leak_check", "leak_views", "fail_on_residual"):
        value = out[key]
        out[key] = parse_flag(value) is True
    return out


def export_start(
    *, dataset: Dataset, options: dict[str, Any] | None, user, enqueue: bool = True, gate_override: str | None = None
) -> Export:
    """Record an export of `dataset`'s approved images and queue its rendering once the row is committed.

    Writes an Export (status queued, options with defaults filled in, the release gate's estimate in `gate`)
    and audit events (and one for a gate override); enqueues reviewer.tasks.export.render_export on commit,
    unless `enqueue` is false (the caller renders it in its own process, as `export_dataset --sync` does). An
    export of the same dataset with the same options that is still queued and not started is returned instead
    of a second one (a second click), sent again if it was never sent. Refuses: a user who may not export
    (Forbidden), bad options (ServiceError), a dataset with no approved image (Conflict), an estimate above the
    dataset's release bound without `gate_override` (GateRefused, with what to look at; nothing is written). If
    the broker cannot be reached, the export stays queued (reconcile sends it when the broker is back) and
    BrokerUnavailable (503, naming the export) is raised after the commit.
    """
    if not policies.can_export(user, dataset):
        raise Forbidden("Only admins export datasets.")
    cleaned = export_options_clean(options)
    total = approved_images(dataset).count()
    if total == 0:
        raise Conflict(f"{dataset.name} has no approved image to export yet.", code="nothing_approved")
    gate = gate_for_export(dataset=dataset, override_reason=gate_override)
    with transaction.atomic():
        waiting = [
            e
            for e in Export.objects.select_for_update().filter(
                dataset=dataset, status=Export.Status.QUEUED, started_at__isnull=True
            )
            if e.options == cleaned
        ]
        if waiting:
            export = waiting[0]
            if enqueue and export.sent_at is None:
                _enqueue(export)
            return export
        export = Export.objects.create(dataset=dataset, created_by=user, options=cleaned, images_total=total, gate=gate)
        audit_record(actor=user, verb="export.started", obj=export, dataset=dataset.pk, options=cleaned)
        gate_record_override(export=export, user=user)
        if enqueue:
            _enqueue(export)
    return export


def _enqueue(export: Export) -> None:
    """Send the render task on commit; if the broker is down, the export is kept as not sent for reconcile."""
    Export.objects.filter(pk=export.pk).update(sent_at=timezone.now())
    jobs.enqueue_on_commit(
        jobs.RENDER_EXPORT,
        export.pk,
        on_broker_down=lambda _sent: Export.objects.filter(pk=export.pk).update(sent_at=None),
        message=f"Export {export.pk} is saved as queued, but the task queue cannot be reached right now. It starts "
        "by itself when the queue is back; exporting again will not make a second export.",
        extra={"export": export.pk},
    )


class Superseded(Exception):
    """Another renderer took this export over (this one's heartbeat had gone stale): stop, write nothing more."""


def _heartbeat_is_stale(export: Export, now) -> bool:
    last = export.heartbeat_at or export.started_at
    return last is None or last < now - timedelta(seconds=jobs.export_stale_seconds())


def export_render(*, export_id: int, detector=None, progress: ProgressFn | None = None) -> Export:
    """Render an export: the task's body, safe to run again, and never by two renderers at once.

    Takes the export from queued (or from running with a stale heartbeat: its renderer was lost) to done or
    failed, under a new `attempt`; a delivery for an export whose heartbeat is fresh does nothing. Writes an
    ExportItem per image (source sha256, output sha256, boxes), Leak rows with a crop of the output for each, and
    the archive: images at their relative paths, the chosen annotation files, manifest.json, handed to the
    exports storage only when complete, and not at all when `fail_on_residual` is set and a residual face is
    found. Every write is compared against the attempt, so a renderer that was taken over stops at its next image
    without publishing. A failed export keeps no ExportItem rows, partial archive or (unless the residual faces
    are its reason) Leak rows and crops. An export already done or failed is returned as it is. Transient
    database errors put it back to queued and re-raise (the task retries); any other error fails it with the
    reason.
    """
    now = timezone.now()
    with transaction.atomic():
        export = Export.objects.select_for_update().select_related("dataset").filter(pk=export_id).first()
        if export is None:
            raise NotFound(f"Export {export_id} does not exist.")
        if export.status in (Export.Status.DONE, Export.Status.FAILED):
            return export
        if export.status == Export.Status.RUNNING and not _heartbeat_is_stale(export, now):
            # Another delivery of the same message (a redelivery after a lost pool child, a duplicate sent by
            # reconcile) while a renderer is alive on it: leave it to that renderer.
            logger.info("export %s: a renderer is on it (heartbeat is fresh); this delivery does nothing", export.pk)
            return export
        if export.status == Export.Status.RUNNING:
            logger.warning("export %s: its renderer's heartbeat is stale; this delivery takes it over", export.pk)
        # A fresh start, also after a lost attempt: what that attempt wrote is dropped and done again.
        export_files_discard(export)
        export.attempt += 1
        export.status, export.started_at, export.heartbeat_at, export.finished_at = (
            Export.Status.RUNNING,
            now,
            now,
            None,
        )
        export.images_done = export.residual_count = export.missed_count = 0
        export.error = export.file_name = export.file_sha256 = ""
        export.file_size = None
        export.save()
    attempt = export.attempt
    try:
        work = export_work_dir(export.pk)
    except OSError as exc:  # a read-only or full data folder: fail with the reason now, not "running 0/N" forever
        reason = f"The export's work folder could not be made ({exc.strerror or exc.__class__.__name__}: "
        reason += f"{exc.filename or ''}). Nothing was written. Check the disk's free space and the permissions "
        reason += "of VEIL_DATA_DIR on the worker, then start the export again."
        return _finish(export, attempt, export_work_path(export.pk), error=reason)
    writer = None
    try:
        with Heartbeat(export.pk, attempt):
            options = export.options
            if detector is None and options.get("leak_check", True):
                detector = leak_detector(options.get("leak_threshold", 0.2))
            images = list(approved_images(export.dataset, people=True))
            Export.objects.filter(pk=export.pk, attempt=attempt).update(images_total=len(images))
            export.images_total = len(images)
            writer = ArchiveWriter(work / export_archive_name(export), options.get("archive", "zip"))
            manifest_images = []
            taken: set[str] = set()  # archive paths given so far, as export keys
            for n, image in enumerate(images, start=1):
                check = detector if options.get("leak_check", True) else None
                manifest_images.append(_render_one(export, image, writer, check, taken, attempt=attempt, done=n))
                if progress:
                    progress(n, len(images))
            export.residual_count = Leak.objects.filter(export=export, kind=Leak.Kind.RESIDUAL).count()
            export.missed_count = Leak.objects.filter(export=export, kind=Leak.Kind.MISSED).count()
            export.images_done = len(images)
            write_extras(export, manifest_images, writer, detector)
            if options.get("fail_on_residual") and export.residual_count:
                writer.abort()
                reason = f"{export.residual_count} residual face(s) found after blurring; the archive was not "
                reason += "published (fail on residual is on)."
                return _finish(export, attempt, work, keep_leaks=True, error=reason)
            writer.close()
            export.file_size = writer.final_path.stat().st_size
            export.file_sha256 = sha256_of(writer.final_path)
            export.file_name = export_archive_publish(export, writer.final_path)
            return _finish(export, attempt, work)
    except Superseded:
        if writer:
            writer.abort()
        logger.warning("export %s: attempt %s was taken over by another renderer; it stops here", export.pk, attempt)
        return Export.objects.get(pk=export.pk)
    except jobs.TRANSIENT as exc:
        if writer:
            writer.abort()
        Export.objects.filter(pk=export.pk, attempt=attempt).update(
            status=Export.Status.QUEUED, error=f"retrying after: {exc}"
        )
        raise
    except ServiceError as exc:
        if writer:
            writer.abort()
        return _finish(export, attempt, work, error=exc.message)
    except BaseException as exc:  # a time limit, a full disk, a bug: the export fails visibly, no archive appears
        if writer:
            writer.abort()
        _finish(export, attempt, work, error=f"export stopped: {exc.__class__.__name__}: {exc}")
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def export_reconcile(*, now=None) -> list[int]:
    """Send again the exports whose work was lost, and return their ids:
    - queued and never sent (the broker was down when it started): at once;
    - queued and sent longer than VEIL_RECONCILE_AFTER_SECONDS ago (a message dropped by a broker restart; a
      duplicate finds it running or done and does nothing);
    - running with a heartbeat older than VEIL_EXPORT_STALE_SECONDS (its renderer was killed): put back to
      queued first, so the next delivery starts it over under a new attempt.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.VEIL_RECONCILE_AFTER_SECONDS)
    requeued = []
    for export_id in Export.objects.filter(status__in=[Export.Status.QUEUED, Export.Status.RUNNING]).values_list(
        "pk", flat=True
    ):
        try:
            with transaction.atomic():
                export = Export.objects.select_for_update().filter(pk=export_id).first()
                if export is None:
                    continue
                if export.status == Export.Status.QUEUED and (export.sent_at is None or export.sent_at < cutoff):
                    pass
                elif export.status == Export.Status.RUNNING and _heartbeat_is_stale(export, now):
                    export.status, export.error = Export.Status.QUEUED, "restarted: the worker rendering it was lost"
                    export.save(update_fields=["status", "error"])
                else:
                    continue
                _enqueue(export)
        except jobs.BrokerUnavailable:
            break  # still down: left as not sent for the next pass
        requeued.append(export_id)
    return requeued


def _finish(export: Export, attempt: int, work: Path, *, error: str = "", keep_leaks: bool = False) -> Export:
    """Close this attempt: done, or failed with everything it wrote discarded. Removes its scratch folder first,
    so an export seen as done or failed has left nothing behind. Raises Superseded if another renderer took the
    export over meanwhile (and removes the archive this attempt may have published)."""
    shutil.rmtree(work, ignore_errors=True)
    export.status = Export.Status.FAILED if error else Export.Status.DONE
    export.error = error
    export.finished_at = timezone.now()
    with transaction.atomic():
        closed = Export.objects.filter(pk=export.pk, attempt=attempt).update(
            status=export.status, error=error, finished_at=export.finished_at, images_done=export.images_done,
            residual_count=export.residual_count, missed_count=export.missed_count, file_name=export.file_name,
            file_size=export.file_size, file_sha256=export.file_sha256,
        )  # fmt: skip
        if not closed:
            if export.file_name:
                export_storage().delete(export.file_name)
            raise Superseded
        if error:
            export_files_discard(export, keep_leaks=keep_leaks)
        audit_record(
            actor=None, verb="export.failed" if error else "export.done", obj=export,
            images=export.images_done, residual=export.residual_count, missed=export.missed_count, error=error,
        )  # fmt: skip
    if export.options.get("leak_check", True):
        second_look_after_leak_check(export=export)  # the safety net: leak finds flag their images
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


def _render_one(
    export: Export, image, writer: ArchiveWriter, detector, taken: set[str], *, attempt: int, done: int
) -> dict[str, Any]:
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
    finds = None
    if detector is not None:  # outside the transaction: a detector pass on the output takes a while
        finds = leaks_detect(image=image, boxes=boxes, output=rendered.data, detector=detector, mode=options["blur"])
    with transaction.atomic():
        # Compare-and-set on the attempt, in the same transaction as this image's rows: a renderer that was taken
        # over writes nothing more (the takeover locks the row, so the two never interleave).
        if not Export.objects.filter(pk=export.pk, attempt=attempt, status=Export.Status.RUNNING).update(
            heartbeat_at=timezone.now(), images_done=done
        ):
            raise Superseded
        item = ExportItem.objects.create(
            export=export, image=image, approval=approval, output_path=path, source_sha256=source_sha,
            output_sha256=output_sha, boxes=[b.rounded().as_list() for b in boxes],
        )  # fmt: skip
        leaks = leaks_save(export=export, finds=finds) if finds is not None else []
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
