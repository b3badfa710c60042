"""Export: the approved images with every face blurred, annotations, a manifest and a leak check, as map + assemble.

`export_start` records what was asked and queues the plan; `export_plan` (a task) cuts the approved images into
chunks of VEIL_EXPORT_CHUNK_SIZE by keyset pages and sends one task per chunk; any worker renders a chunk
(reviewer/services/export_chunks.py: blur, encode, the residual check on the output, one part file in the exports
storage, the chunk's rows); the last chunk done sends the assembly (reviewer/services/export_assemble.py), which
streams the parts into the chosen layout with the manifest and publishes it. Time limits are per chunk, never for
the whole export; a killed worker loses at most its chunk, which reconcile sends again once its heartbeat is stale.
`export_render` does all of it in one process (`export_dataset --sync`, tests, benchmarks).

After each image is rendered, the default detector runs again on the encoded output at a low threshold: a face
found overlapping an approved box is a residual face (the blur did not hide it), one found elsewhere is a possible
missed face. Both are Leak rows, listed in the manifest.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.env import parse_flag
from reviewer import jobs, policies
from reviewer.errors import Conflict, Forbidden, NotFound, ServiceError
from reviewer.imaging import annotations
from reviewer.imaging.blur import BLUR_MODES, DEFAULT_MODE
from reviewer.imaging.layouts import DEFAULT_SHARD_SIZE, LAYOUTS
from reviewer.models import Dataset, Export, ExportChunk
from reviewer.selectors.export import approved_image_pages, approved_images
from reviewer.services.audit import audit_record
from reviewer.services.export_assemble import export_assemble
from reviewer.services.export_chunks import (
    export_assemble_enqueue,
    export_chunk_render,
    export_chunks_enqueue,
    export_feed,
)
from reviewer.services.export_files import Heartbeat, export_files_discard, heartbeat_is_stale, stale_before
from reviewer.services.gate import gate_for_export, gate_record_override
from reviewer.services.leaks import leak_detector

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
    if not isinstance(formats, list):
        raise ServiceError(
            f"Annotation formats must be a list among {', '.join(annotations.FORMATS)}; got {formats!r}.",
            code="invalid_option",
        )
    bad = [f for f in formats if f not in annotations.FORMATS]
    if bad:
        raise ServiceError(
            f"Annotation formats must be among {', '.join(annotations.FORMATS)}; got {', '.join(map(str, bad))}.",
            code="invalid_option",
        )
    out["annotations"] = list(dict.fromkeys(formats))
    numbers = "JPEG quality, shard size and leak threshold must be numbers."
    try:
        quality, shard_size = float(out["jpeg_quality"]), float(out["shard_size"])
        out["leak_threshold"] = float(out["leak_threshold"])
        if not (math.isfinite(quality) and math.isfinite(shard_size)):
            raise ValueError("not a finite number")
        if not quality.is_integer() or not shard_size.is_integer():
            raise ServiceError("JPEG quality and shard size must be whole numbers.", code="invalid_option")
        out["jpeg_quality"], out["shard_size"] = int(quality), int(shard_size)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ServiceError(numbers, code="invalid_option") from exc
    if not 1 <= out["shard_size"] <= MAX_SHARD_SIZE:
        raise ServiceError(f"Shard size must be between 1 and {MAX_SHARD_SIZE}.", code="invalid_option")
    if not 1 <= out["jpeg_quality"] <= 100:
        raise ServiceError("JPEG quality must be between 1 and 100.", code="invalid_option")
    if not 0 < out["leak_threshold"] < 1:
        raise ServiceError("The leak threshold must be between 0 and 1.", code="invalid_option")
    for key in ("leak_check", "leak_views", "fail_on_residual"):
        flag = parse_flag(out[key])
        if flag is None:  # an unknown word must not switch the leak check off
            raise ServiceError(f"{key} must be yes or no (true/false); got {out[key]!r}.", code="invalid_option")
        out[key] = flag
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
    """Send the plan task on commit; if the broker is down, the export is kept as not sent for reconcile."""
    Export.objects.filter(pk=export.pk).update(sent_at=timezone.now())
    jobs.enqueue_on_commit(
        jobs.RENDER_EXPORT,
        export.pk,
        on_broker_down=lambda _sent: Export.objects.filter(pk=export.pk).update(sent_at=None),
        message=f"Export {export.pk} is saved as queued, but the task queue cannot be reached right now. It starts "
        "by itself when the queue is back; exporting again will not make a second export.",
        extra={"export": export.pk},
    )


PLAN_PAGE_IMAGES = 5000  # image ids read per keyset page while cutting an export into chunks


class Superseded(Exception):
    """Another planner took this export over (this one's heartbeat had gone stale): stop, write nothing more."""


def export_plan(*, export_id: int, enqueue: bool = True) -> Export:
    """Cut an export into chunks and send them: the first task's body, safe to run again.

    Takes the export from queued (or from planning with a stale heartbeat) to running/rendering under a new
    `attempt`: the approved images, by path, in keyset pages, become ExportChunks of VEIL_EXPORT_CHUNK_SIZE
    (written in bulk, a page at a time), then one render task per chunk is sent on commit (`enqueue=False`
    leaves them to the caller). An export queued again after a retry keeps its chunks: only those not done are
    sent again (or the assembly, if all are done). A delivery for an export done, failed, or being planned or
    rendered by a live worker does nothing.
    """
    now = timezone.now()
    with transaction.atomic():
        export = Export.objects.select_for_update(of=("self",)).select_related("dataset").filter(pk=export_id).first()
        if export is None:
            raise NotFound(f"Export {export_id} does not exist.")
        if export.status in (Export.Status.DONE, Export.Status.FAILED):
            return export
        if export.status == Export.Status.RUNNING and (
            export.stage != Export.Stage.PLANNING or not heartbeat_is_stale(export, now)
        ):
            logger.info("export %s: already %s; this delivery does nothing", export.pk, export.stage or "running")
            return export
        if export.status == Export.Status.QUEUED and export.chunks_total:
            return _resume(export, enqueue=enqueue)
        # A fresh start, also after a lost planner: what that attempt wrote is dropped and done again.
        export_files_discard(export)
        export.attempt += 1
        export.status, export.stage, export.started_at, export.heartbeat_at, export.finished_at = (
            Export.Status.RUNNING, Export.Stage.PLANNING, now, now, None,
        )  # fmt: skip
        export.images_done = export.images_total = export.residual_count = export.missed_count = 0
        export.chunks_total = export.chunks_done = 0
        export.error = export.file_name = export.file_sha256 = ""
        export.file_size, export.files = None, []
        export.save()
    attempt = export.attempt
    size = int(settings.VEIL_EXPORT_CHUNK_SIZE)
    index = total = 0
    with Heartbeat(export.pk, attempt):
        # Pages of whole chunks, so a chunk never straddles two pages.
        for page in approved_image_pages(export.dataset, page_size=size * max(1, PLAN_PAGE_IMAGES // size)):
            chunks = []
            for start in range(0, len(page), size):
                chunks.append(ExportChunk(export=export, index=index, image_ids=page[start : start + size]))
                index += 1
            total += len(page)
            with transaction.atomic():
                if not Export.objects.select_for_update().filter(pk=export.pk, attempt=attempt).exists():
                    raise Superseded
                ExportChunk.objects.bulk_create(chunks)
    with transaction.atomic():
        if not Export.objects.filter(pk=export.pk, attempt=attempt, stage=Export.Stage.PLANNING).update(
            stage=Export.Stage.RENDERING, chunks_total=index, images_total=total, heartbeat_at=timezone.now()
        ):
            raise Superseded
        export.stage, export.chunks_total, export.images_total = Export.Stage.RENDERING, index, total
        if index == 0:  # every image was sent back since the export started
            Export.objects.filter(pk=export.pk).update(
                status=Export.Status.FAILED, finished_at=timezone.now(),
                error="No approved image was left to export (all were sent back since it started).",
            )  # fmt: skip
            return Export.objects.get(pk=export.pk)
        if enqueue:
            export_feed(export_id=export.pk)  # the first VEIL_EXPORT_IN_FLIGHT; each chunk's end sends the next
    logger.info("export %s: %d images in %d chunks", export.pk, total, index)
    return export


def _resume(export: Export, *, enqueue: bool) -> Export:
    """A queued export that has its chunks (a retry, a reconcile): render what is not done, or assemble."""
    export.status, export.stage, export.error, export.finished_at = (
        Export.Status.RUNNING, Export.Stage.RENDERING, "", None,
    )  # fmt: skip
    export.heartbeat_at = timezone.now()
    export.save(update_fields=["status", "stage", "error", "finished_at", "heartbeat_at"])
    if enqueue:
        # Its queued chunks are sent again from the first, a window at a time (a message still in the broker for
        # one of them is harmless: the chunk's attempt lets one renderer write it).
        export.chunks.filter(status=ExportChunk.Status.QUEUED).update(sent_at=None)
        if not export_feed(export_id=export.pk) and export.chunks_done >= export.chunks_total:
            export_assemble_enqueue(export)
    return export


def export_render(*, export_id: int, detector=None, progress: ProgressFn | None = None) -> Export:
    """The whole export in this process, with no broker: plan, render every chunk, assemble (`export_dataset
    --sync`, tests, benchmarks). The same services as the tasks, so the same rows and files."""
    try:
        export = export_plan(export_id=export_id, enqueue=False)
        if export.status != Export.Status.RUNNING:
            return Export.objects.get(pk=export_id)
        if detector is None and export.options.get("leak_check", True):
            detector = leak_detector(export.options.get("leak_threshold", 0.2))
        chunk_ids = list(
            ExportChunk.objects.filter(export_id=export_id)
            .exclude(status=ExportChunk.Status.DONE)
            .order_by("index")
            .values_list("pk", flat=True)
        )
        for chunk_id in chunk_ids:
            chunk = export_chunk_render(chunk_id=chunk_id, detector=detector, enqueue=False)
            if chunk.status == ExportChunk.Status.FAILED:
                reason = f"chunk {chunk.index} failed: {chunk.error}"
                Export.objects.filter(pk=export_id, status=Export.Status.RUNNING).update(
                    status=Export.Status.FAILED, error=reason, finished_at=timezone.now()
                )
                return Export.objects.get(pk=export_id)
            if progress:
                progress(*Export.objects.filter(pk=export_id).values_list("images_done", "images_total").first())
        return export_assemble(export_id=export_id)
    except jobs.TRANSIENT:
        raise  # the chunk or the assembly went back to be retried
    except BaseException as exc:  # Ctrl+C, a time limit, a bug: the export is marked failed with the reason
        Export.objects.filter(pk=export_id, status=Export.Status.RUNNING).update(
            status=Export.Status.FAILED, error=f"export stopped: {exc.__class__.__name__}: {exc}",
            finished_at=timezone.now(),
        )  # fmt: skip
        raise


def export_retry(*, export: Export, user) -> Export:
    """Retry a failed export from where it stopped: its failed chunks are queued again (the done ones are kept),
    or, if every chunk is done, the assembly runs again. Refuses non-admins, and an export that has not failed or
    that never got its chunks (start a new export instead)."""
    if not policies.can_export(user, export.dataset):
        raise Forbidden("Only admins export datasets.")
    with transaction.atomic():
        export = Export.objects.select_for_update(of=("self",)).select_related("dataset").get(pk=export.pk)
        if export.status != Export.Status.FAILED:
            raise Conflict(f"Export {export.pk} is {export.status}; only a failed export is retried.")
        if not export.chunks_total or export.stage not in (Export.Stage.RENDERING, Export.Stage.ASSEMBLING):
            raise Conflict(f"Export {export.pk} failed before its images were cut into chunks: start a new export.")
        failed = list(export.chunks.filter(status=ExportChunk.Status.FAILED).values_list("pk", flat=True))
        ExportChunk.objects.filter(pk__in=failed).update(status=ExportChunk.Status.QUEUED, error="", sent_at=None)
        export.status, export.stage, export.error, export.finished_at = (
            Export.Status.RUNNING, Export.Stage.RENDERING, "", None,
        )  # fmt: skip
        export.heartbeat_at = timezone.now()
        export.save(update_fields=["status", "stage", "error", "finished_at", "heartbeat_at"])
        audit_record(actor=user, verb="export.retried", obj=export, chunks=len(failed))
        if failed:
            export_feed(export_id=export.pk)  # they wait their turn behind any still in flight
        else:
            export_assemble_enqueue(export)
    return export


def export_reconcile(*, now=None) -> list[int]:
    """Send again the export work that was lost, and return the ids of the exports it touched:
    - an export queued and never sent (the broker was down), or sent longer than VEIL_RECONCILE_AFTER_SECONDS
      ago (a message dropped by a broker restart): its plan task;
    - an export planning or assembling with a heartbeat older than VEIL_EXPORT_STALE_SECONDS (its worker was
      killed): planning starts over from queued, an assembly is sent again;
    - an export rendering: its chunks sent long ago and still queued (their message was lost) and its running
      chunks with a stale heartbeat, a bounded batch at a time (over the (export, status) index); then the feeder
      tops it up to VEIL_EXPORT_IN_FLIGHT from the waiting chunks (those whose send failed wait there too); the
      assembly, if every chunk is done (its message was lost).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.VEIL_RECONCILE_AFTER_SECONDS)
    touched = []
    for export_id in Export.objects.filter(status__in=[Export.Status.QUEUED, Export.Status.RUNNING]).values_list(
        "pk", flat=True
    ):
        try:
            if _reconcile_one(export_id, now=now, cutoff=cutoff):
                touched.append(export_id)
        except jobs.BrokerUnavailable:
            break  # still down: left as not sent for the next pass
    return touched


RECONCILE_BATCH = 500


def _reconcile_one(export_id: int, *, now, cutoff) -> bool:
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        if export is None:
            return False
        if export.status == Export.Status.QUEUED:
            if export.sent_at is None or export.sent_at < cutoff:
                _enqueue(export)
                return True
            return False
        stale = heartbeat_is_stale(export, now)
        if export.stage == Export.Stage.PLANNING and stale:
            export.status, export.error = Export.Status.QUEUED, "restarted: the worker planning it was lost"
            export.save(update_fields=["status", "error"])
            _enqueue(export)
            return True
        if export.stage == Export.Stage.ASSEMBLING and stale:
            export.stage = Export.Stage.RENDERING
            export.save(update_fields=["stage"])
            export_assemble_enqueue(export)
            return True
        if export.stage != Export.Stage.RENDERING:
            return False
        if export.chunks_done >= export.chunks_total:
            export_assemble_enqueue(export)
            return True
        lost = list(
            export.chunks.filter(ExportChunk.IN_FLIGHT, status=ExportChunk.Status.QUEUED, sent_at__lt=cutoff)
            .order_by("index")
            .values_list("pk", flat=True)[:RECONCILE_BATCH]
        )
        beat_before = stale_before(now)  # heartbeat_is_stale, as a query over the (export, status) index
        stale_ids = list(
            export.chunks.filter(status=ExportChunk.Status.RUNNING)
            .filter(
                Q(heartbeat_at__lt=beat_before)
                | Q(heartbeat_at__isnull=True, started_at__lt=beat_before)
                | Q(heartbeat_at__isnull=True, started_at__isnull=True)
            )
            .values_list("pk", flat=True)[:RECONCILE_BATCH]
        )
        if stale_ids:
            ExportChunk.objects.filter(pk__in=stale_ids).update(
                status=ExportChunk.Status.QUEUED, error="sent again: the worker rendering it was lost"
            )
        resend = lost + stale_ids
        if resend:
            export_chunks_enqueue(export, resend)
        fed = export_feed(export_id=export.pk)
        return bool(resend or fed)
