"""Export, the map step: a chunk of approved images rendered by any worker into one part file.

For each image: the original is checked against its sha256, rendered (blur every approved box, encode), checked
for residual faces on the output (reviewer/services/leaks.py), and added to the chunk's part: a tar in the exports
storage holding the rendered images and `records.jsonl` (one manifest record per image, in order). The chunk's
ExportItem and Leak rows are committed together, its part uploaded, then the chunk is marked done and the export's
counters move on; the chunk that completes the export sends the assembly (reviewer/services/export_assemble.py).
At most VEIL_EXPORT_IN_FLIGHT chunks of an export are sent at once: each chunk that ends sends the next waiting
ones (export_feed), and reconcile tops the window up if that chain breaks.

A chunk is redone from scratch under a new `attempt` when its worker is lost (reconcile finds its heartbeat stale)
or when an admin retries it after a failure: what an earlier attempt wrote is deleted first, and every write is
compared against the attempt, so two renderers never write one chunk and a killed worker loses only its chunk.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from reviewer import jobs
from reviewer.errors import NotFound, ServiceError
from reviewer.imaging import names
from reviewer.imaging.archive import sha256_bytes, tar_add
from reviewer.imaging.encode import output_path, render_image
from reviewer.imaging.loading import ImageRejected
from reviewer.models import Export, ExportChunk, ExportItem, Leak
from reviewer.selectors.export import chunk_images
from reviewer.services.export_files import (
    RECORDS,
    ChunkHeartbeat,
    chunk_part_name,
    chunk_part_publish,
    export_storage,
    heartbeat_is_stale,
    leaks_discard,
    person_label,
)
from reviewer.services.feed_window import next_in_window
from reviewer.services.leaks import leak_detector, leaks_detect, leaks_save

logger = logging.getLogger(__name__)


class ChunkSuperseded(Exception):
    """Another renderer took this chunk over (this one's heartbeat had gone stale): stop, write nothing more."""


@dataclass
class _Rendered:
    image: Any
    approval: Any
    member: str  # the image's name inside the part
    source_sha256: str
    output_sha256: str
    boxes: list
    path: str = ""  # the image's path in the output, once the database has made it unique
    leaks: list = field(default_factory=list)


def chunk_work_path(chunk: ExportChunk, attempt: int) -> Path:
    return Path(settings.VEIL_DATA_DIR) / "tmp" / "exports" / f"export-{chunk.export_id}-chunk-{chunk.index}-a{attempt}"


def export_chunk_render(*, chunk_id: int, detector=None, enqueue: bool = True) -> ExportChunk:
    """Render one chunk: the task's body, safe to run again, never by two renderers at once.

    Takes the chunk (queued, or running with a stale heartbeat) under a new attempt; a delivery for a chunk that
    is done, whose renderer is alive, or whose export is no longer rendering does nothing. Writes the chunk's
    ExportItem rows (paths unique within the export), its Leak rows with crops, and its part in the exports
    storage; then marks it done and adds its counts to the export. The last chunk to finish sends the assembly
    (on commit; `enqueue=False` leaves it to the caller). A bad image (changed original, unreadable file) fails
    the chunk with the image's name; the rest of the export goes on, and the export fails only once no chunk is
    left to render (an admin retries the failed chunks). Transient database errors put the chunk back to queued
    and re-raise (the task retries).
    """
    now = timezone.now()
    with transaction.atomic():
        chunk = (
            ExportChunk.objects.select_for_update(of=("self",))
            .select_related("export__dataset")
            .filter(pk=chunk_id)
            .first()
        )
        if chunk is None:
            raise NotFound(f"Export chunk {chunk_id} does not exist.")
        export = chunk.export
        if export.status != Export.Status.RUNNING or export.stage != Export.Stage.RENDERING:
            logger.info("export chunk %s: its export is %s/%s; nothing to do", chunk.pk, export.status, export.stage)
            return chunk
        if chunk.status in (ExportChunk.Status.DONE, ExportChunk.Status.FAILED):
            return chunk
        if chunk.status == ExportChunk.Status.RUNNING and not heartbeat_is_stale(chunk, now):
            logger.info(
                "export chunk %s: a renderer is on it (heartbeat is fresh); this delivery does nothing", chunk.pk
            )
            return chunk
        if chunk.status == ExportChunk.Status.RUNNING:
            logger.warning("export chunk %s: its renderer's heartbeat is stale; this delivery takes it over", chunk.pk)
        _discard_chunk_rows(chunk)
        chunk.attempt += 1
        chunk.status, chunk.started_at, chunk.heartbeat_at, chunk.finished_at = (
            ExportChunk.Status.RUNNING, now, now, None,
        )  # fmt: skip
        chunk.error, chunk.part_name = "", ""
        chunk.images_done = chunk.residual_count = chunk.missed_count = 0
        chunk.save()
    attempt = chunk.attempt
    work = chunk_work_path(chunk, attempt)
    try:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    except OSError as exc:  # a read-only or full data folder: fail with the reason now, not "running" forever
        reason = f"The export's work folder could not be made ({exc.strerror or exc.__class__.__name__}: "
        reason += f"{exc.filename or ''}). Nothing was written. Check the disk's free space and the permissions "
        reason += "of VEIL_DATA_DIR on the worker."
        return _fail(chunk, attempt, reason, enqueue=enqueue)
    try:
        with ChunkHeartbeat(chunk.pk, attempt):
            return _render(chunk, export, attempt, work, detector, enqueue=enqueue)
    except ChunkSuperseded:
        logger.warning("export chunk %s: attempt %s was taken over; it stops here", chunk.pk, attempt)
        return ExportChunk.objects.get(pk=chunk.pk)
    except jobs.TRANSIENT as exc:
        ExportChunk.objects.filter(pk=chunk.pk, attempt=attempt).update(
            status=ExportChunk.Status.QUEUED, error=f"retrying after: {exc}"
        )
        raise
    except ServiceError as exc:
        return _fail(chunk, attempt, exc.message, enqueue=enqueue)
    except OSError as exc:  # a full or read-only disk, storage refusing the part
        _fail(
            chunk, attempt, f"the chunk's files could not be written ({exc.__class__.__name__}: {exc})", enqueue=enqueue
        )
        raise
    except BaseException as exc:  # a time limit, a bug: the chunk fails visibly and can be retried alone
        _fail(chunk, attempt, f"rendering stopped: {exc.__class__.__name__}: {exc}", enqueue=enqueue)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _render(chunk: ExportChunk, export: Export, attempt: int, work: Path, detector, *, enqueue: bool) -> ExportChunk:
    options = export.options
    if detector is None and options.get("leak_check", True):
        detector = leak_detector(options.get("leak_threshold", 0.2))
    check = detector if options.get("leak_check", True) else None
    images = chunk_images(chunk)
    part_path = work / "part.tar"
    rendered: list[_Rendered] = []
    with tarfile.open(part_path, "w", format=tarfile.PAX_FORMAT) as part:
        for n, image in enumerate(images):
            one = _render_one(export, image, part, f"{n:06d}", check)
            rendered.append(one)
            if n % 8 == 7 and not ExportChunk.objects.filter(pk=chunk.pk, attempt=attempt).exists():
                raise ChunkSuperseded
        with transaction.atomic():
            _claim(chunk, attempt)
            _save_items(export, chunk, rendered)
            for one in rendered:
                if one.leaks:
                    one.leaks = leaks_save(export=export, finds=one.leaks)
        records = [_record(export, one) for one in rendered]
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        tar_add(part, RECORDS, io.BytesIO(lines), len(lines))
    part_name = chunk_part_publish(chunk_part_name(chunk, attempt), part_path)
    residual = sum(1 for one in rendered for k in one.leaks if k.kind == Leak.Kind.RESIDUAL)
    missed = sum(1 for one in rendered for k in one.leaks if k.kind == Leak.Kind.MISSED)
    skipped = len(chunk.image_ids) - len(rendered)
    with transaction.atomic():
        if not ExportChunk.objects.filter(pk=chunk.pk, attempt=attempt, status=ExportChunk.Status.RUNNING).update(
            status=ExportChunk.Status.DONE, finished_at=timezone.now(), heartbeat_at=timezone.now(),
            part_name=part_name, images_done=len(rendered), residual_count=residual, missed_count=missed,
        ):  # fmt: skip
            export_storage().delete(part_name)
            raise ChunkSuperseded
        Export.objects.filter(pk=export.pk).update(
            chunks_done=F("chunks_done") + 1, images_done=F("images_done") + len(rendered),
            images_total=F("images_total") - skipped, residual_count=F("residual_count") + residual,
            missed_count=F("missed_count") + missed, heartbeat_at=timezone.now(),
        )  # fmt: skip
        if skipped:
            logger.warning("export chunk %s: %d image(s) no longer approved were left out", chunk.pk, skipped)
        _after_chunk(export.pk, enqueue=enqueue)
    if enqueue:
        _feed_after_chunk(export.pk)
    return ExportChunk.objects.get(pk=chunk.pk)


def _render_one(export: Export, image, part: tarfile.TarFile, member: str, detector) -> _Rendered:
    options = export.options
    approval = image.current_approval[0]
    boxes = [b.box for b in approval.boxes.all()]
    with image.file.open("rb") as fh:
        data = fh.read()
    source_sha = sha256_bytes(data)
    if source_sha != image.sha256:
        raise ServiceError(f"{image.relative_path}: the stored original changed since it was imported (sha256).")
    try:
        out = render_image(
            io.BytesIO(data), boxes, mode=options["blur"], jpeg_quality=options["jpeg_quality"],
            max_pixels=settings.VEIL_MAX_IMAGE_PIXELS,
        )  # fmt: skip
    except ImageRejected as exc:
        raise ServiceError(f"{image.relative_path}: {exc.message}") from exc
    tar_add(part, member, io.BytesIO(out.data), len(out.data))
    finds = None
    if detector is not None:
        finds = leaks_detect(image=image, boxes=boxes, output=out.data, detector=detector, mode=options["blur"])
    return _Rendered(
        image=image, approval=approval, member=member, source_sha256=source_sha,
        output_sha256=sha256_bytes(out.data), boxes=[b.rounded().as_list() for b in boxes],
        leaks=finds if finds is not None and finds.leaks else [],
    )  # fmt: skip


def _claim(chunk: ExportChunk, attempt: int) -> None:
    """Lock the chunk's row for this attempt, or stop: the takeover locks it too, so the two never interleave."""
    if (
        not ExportChunk.objects.select_for_update()
        .filter(pk=chunk.pk, attempt=attempt, status=ExportChunk.Status.RUNNING)
        .exists()
    ):
        raise ChunkSuperseded


def _output_name(image) -> str:
    path = output_path(image.relative_path, image.format)
    return names.unreserved(path) if names.is_reserved(path) else path


def _save_items(export: Export, chunk: ExportChunk, rendered: list[_Rendered]) -> None:
    """The chunk's ExportItem rows, in one INSERT. Paths are unique within the export by a database constraint:
    chunks on different workers name their images independently, and the rare clash (images imported before
    names were made unique for export) takes the next free `~2`, `~3`, ... one image at a time."""
    taken: set[str] = set()
    for one in rendered:
        one.path = _free_in(taken, _output_name(one.image))
    try:
        with transaction.atomic():
            ExportItem.objects.bulk_create([_item(export, chunk, one) for one in rendered])
        return
    except IntegrityError:
        pass
    for one in rendered:
        base, n = _output_name(one.image), 1
        while True:
            try:
                with transaction.atomic():
                    _item(export, chunk, one).save()
                break
            except IntegrityError:
                n += 1
                one.path = names.with_counter(base, n)


def _free_in(taken: set[str], path: str) -> str:
    candidate, n = path, 1
    while names.export_key(candidate) in taken:
        n += 1
        candidate = names.with_counter(path, n)
    taken.add(names.export_key(candidate))
    return candidate


def _item(export: Export, chunk: ExportChunk, one: _Rendered) -> ExportItem:
    return ExportItem(
        export=export, chunk=chunk, image=one.image, approval=one.approval, output_path=one.path,
        output_key=names.export_key(one.path), source_sha256=one.source_sha256, output_sha256=one.output_sha256,
        boxes=one.boxes,
    )  # fmt: skip


def _record(export: Export, one: _Rendered) -> dict[str, Any]:
    """The image's line in manifest.jsonl (the part keeps it beside the image, for the assembly)."""
    image, approval = one.image, one.approval
    return {
        "member": one.member,
        "source_path": image.relative_path,
        "original_name": image.original_name or image.relative_path,
        "output_path": one.path,
        "source_sha256": one.source_sha256,
        "output_sha256": one.output_sha256,
        "width": image.width,
        "height": image.height,
        "boxes": one.boxes,
        "approval": {
            "id": approval.pk,
            "source": approval.source,
            "approved_by": person_label(approval.approved_by, export=export),
            "approved_at": approval.approved_at.isoformat(),
        },
        "reviewers": sorted({person_label(r.reviewer, export=export) for r in approval.reviews.all()}),
        "leaks": [{"kind": k.kind, "box": k.box.rounded().as_list(), "score": round(k.score, 4)} for k in one.leaks],
    }


def _discard_chunk_rows(chunk: ExportChunk) -> None:
    """What an earlier attempt of this chunk wrote: its items, its images' leaks in this export, its part."""
    ExportItem.objects.filter(chunk=chunk).delete()
    leaks_discard(Leak.objects.filter(export_id=chunk.export_id, image_id__in=chunk.image_ids))
    if chunk.part_name:
        export_storage().delete(chunk.part_name)


def _fail(chunk: ExportChunk, attempt: int, reason: str, *, enqueue: bool) -> ExportChunk:
    with transaction.atomic():
        failed = ExportChunk.objects.filter(pk=chunk.pk, attempt=attempt).update(
            status=ExportChunk.Status.FAILED, error=reason, finished_at=timezone.now()
        )
        if failed:
            _discard_chunk_rows(chunk)
            logger.warning("export chunk %s (export %s) failed: %s", chunk.pk, chunk.export_id, reason)
            _after_chunk(chunk.export_id, enqueue=enqueue)
    if failed and enqueue:
        _feed_after_chunk(chunk.export_id)
    return ExportChunk.objects.get(pk=chunk.pk)


def _after_chunk(export_id: int, *, enqueue: bool) -> None:
    """Inside the transaction that ended a chunk: the last chunk done sends the assembly; once no chunk is left to
    render and some failed, the export fails, naming them (an admin retries them alone)."""
    export = Export.objects.select_for_update().get(pk=export_id)
    if export.status != Export.Status.RUNNING or export.stage != Export.Stage.RENDERING:
        return
    if export.chunks_done == export.chunks_total:
        if enqueue:
            export_assemble_enqueue(export)
        return
    open_chunks = ExportChunk.objects.filter(
        export_id=export_id, status__in=[ExportChunk.Status.QUEUED, ExportChunk.Status.RUNNING]
    )
    if open_chunks.exists():
        return
    failed = ExportChunk.objects.filter(export_id=export_id, status=ExportChunk.Status.FAILED).order_by("index")
    first = failed.first()
    count = failed.count()
    reason = f"{count} of {export.chunks_total} chunk(s) failed; the first, chunk {first.index}: {first.error} "
    reason += "Retry the failed chunks once that is fixed: the finished ones are kept."
    Export.objects.filter(pk=export_id).update(status=Export.Status.FAILED, error=reason, finished_at=timezone.now())


def export_feed(*, export_id: int) -> list[int]:
    """Send `export_id`'s next waiting chunks, in index order, so that at most VEIL_EXPORT_IN_FLIGHT of its chunks
    are in flight (sent and queued, or running); returns the ids sent (none unless the export is rendering).

    The plan sends the first ones; the end of each chunk (done or failed), a retry and reconcile call it again. The
    export's row is locked while it counts and picks, so two chunks ending at once do not both fill the same room.
    Inside a caller's transaction it joins it (the messages go when that commits). If the broker cannot be
    reached the chunks not sent lose their sent_at again (they wait; reconcile feeds them) and BrokerUnavailable
    is raised after the commit.
    """
    with transaction.atomic():
        export = (
            Export.objects.select_for_update(of=("self",))
            .filter(pk=export_id, status=Export.Status.RUNNING, stage=Export.Stage.RENDERING)
            .first()
        )
        if export is None:
            return []
        chosen = next_in_window(
            ExportChunk.objects.filter(export_id=export_id),
            in_flight=ExportChunk.IN_FLIGHT, waiting=ExportChunk.WAITING, limit=settings.VEIL_EXPORT_IN_FLIGHT,
        )  # fmt: skip
        if chosen:
            export_chunks_enqueue(export, chosen)
    return chosen


def _feed_after_chunk(export_id: int) -> None:
    """A chunk ended (its transaction committed): send the next ones. A broker that is down leaves them waiting
    for reconcile's next pass; the chunk that ended stays ended."""
    try:
        export_feed(export_id=export_id)
    except jobs.BrokerUnavailable:
        logger.warning("export %s: the next chunks wait for reconcile (the broker is down)", export_id)


def export_chunks_enqueue(export: Export, chunk_ids: list[int]) -> None:
    """One render task per chunk, sent on commit; if the broker cannot be reached, the chunks not sent keep no
    sent_at (reconcile sends them) and BrokerUnavailable (503) is raised after the commit."""
    ExportChunk.objects.filter(pk__in=chunk_ids).update(sent_at=timezone.now())

    def not_sent(sent: int) -> None:
        ExportChunk.objects.filter(pk__in=chunk_ids[sent:]).update(sent_at=None)

    jobs.enqueue_on_commit(
        jobs.RENDER_EXPORT_CHUNK, many=[(pk,) for pk in chunk_ids], on_broker_down=not_sent,
        message=f"Export {export.pk} is saved, but the task queue cannot be reached right now. Its chunks start by "
        "themselves when the queue is back.",
        extra={"export": export.pk},
    )  # fmt: skip


def export_assemble_enqueue(export: Export) -> None:
    """Send the assembly on commit (a lost message is found by reconcile: every chunk done, still rendering)."""
    try:
        jobs.enqueue_on_commit(jobs.ASSEMBLE_EXPORT, export.pk, extra={"export": export.pk})
    except jobs.BrokerUnavailable:
        logger.warning("export %s: the assembly could not be sent; reconcile sends it", export.pk)
