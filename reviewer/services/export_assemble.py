"""Export, the assemble step: the chunks' parts streamed, in order, into the chosen layout, with the manifest.

One task reads each chunk's part from the exports storage (the rendered images and their records), writes every
image into the output (a zip or tar, WebDataset shards, a folder, a Hugging Face imagefolder:
reviewer/imaging/layouts.py), and appends its record to `manifest.jsonl` and to the annotation files, on disk as it
goes. Memory stays flat whatever the dataset's size: one part's records at a time, nothing per image kept (a zip's
central directory aside, ~100 bytes per image). `manifest.json` is a small summary written last. The output is
handed to the exports storage only when complete; then the parts are deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import tarfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from reviewer import jobs
from reviewer.errors import NotFound
from reviewer.imaging import annotations
from reviewer.imaging.annotation_stream import AnnotationStreams
from reviewer.imaging.geometry import Box
from reviewer.imaging.layouts import FOLDER_LAYOUTS, HF_SPLIT_DIR, open_writer
from reviewer.models import Export, ExportChunk
from reviewer.services.audit import audit_record
from reviewer.services.export_files import (
    RECORDS,
    Heartbeat,
    chunk_part_open,
    export_archive_name,
    export_archive_publish,
    export_folder_discard,
    export_folder_publish,
    export_parts_discard,
    export_storage,
    export_work_dir,
    export_work_path,
    heartbeat_is_stale,
    person_label,
)
from reviewer.services.leaks import leak_detector
from reviewer.services.safety import second_look_after_leak_check

logger = logging.getLogger(__name__)

MANIFEST, MANIFEST_LINES = "manifest.json", "manifest.jsonl"
LEAK_RULE = (
    "residual: a detection overlapping an approved box (IoU >= 0.3 or centre inside its blurred region); missed: "
    "any other detection"
)


class AssemblySuperseded(Exception):
    """Another assembler took this export over: stop, publish nothing."""


def export_assemble(*, export_id: int) -> Export:
    """Assemble a rendered export: the task's body, safe to run again, never by two assemblers at once.

    Takes an export whose chunks are all done (stage rendering or a stale assembling) under a new attempt, streams
    the parts into the output with manifest.jsonl (a line per image), the annotation files and manifest.json (the
    summary: options, counts, the gate, the leak check, the files), publishes it, records its files, and marks the
    export done; the chunks' parts are then deleted. With `fail_on_residual` and a residual face found, nothing is
    published and the export fails, keeping its leaks to look at. A delivery for an export that is done, failed,
    not yet rendered or being assembled by a live worker does nothing.
    """
    now = timezone.now()
    with transaction.atomic():
        export = (
            Export.objects.select_for_update(of=("self",))
            .select_related("dataset", "created_by")
            .filter(pk=export_id)
            .first()
        )
        if export is None:
            raise NotFound(f"Export {export_id} does not exist.")
        if export.status != Export.Status.RUNNING or export.chunks_done < export.chunks_total:
            return export
        if export.stage == Export.Stage.ASSEMBLING and not heartbeat_is_stale(export, now):
            logger.info("export %s: an assembler is on it (heartbeat is fresh); this delivery does nothing", export.pk)
            return export
        if export.stage not in (Export.Stage.RENDERING, Export.Stage.ASSEMBLING):
            return export
        export.attempt += 1
        export.stage, export.heartbeat_at = Export.Stage.ASSEMBLING, now
        export.save(update_fields=["attempt", "stage", "heartbeat_at"])
    attempt = export.attempt
    options = export.options
    if options.get("fail_on_residual") and export.residual_count:
        reason = f"{export.residual_count} residual face(s) found after blurring; the archive was not published "
        reason += "(fail on residual is on)."
        return _close(export, attempt, error=reason)
    try:
        work = export_work_dir(export.pk)
    except OSError as exc:
        reason = f"The export's work folder could not be made ({exc.strerror or exc.__class__.__name__}: "
        reason += f"{exc.filename or ''}). Check the disk's free space and the permissions of VEIL_DATA_DIR on the "
        reason += "worker, then start the export again."
        return _close(export, attempt, error=reason)
    writer = None
    try:
        with Heartbeat(export.pk, attempt):
            layout = options.get("archive", "zip")
            writer = open_writer(
                layout, work / export_archive_name(export), shard_size=options.get("shard_size", 1000),
                stem=export_archive_name(export), track_names=False,
            )  # fmt: skip
            streams = AnnotationStreams(work / "annotations", options.get("annotations", []))
            lines_path = work / MANIFEST_LINES
            with lines_path.open("w", encoding="utf-8") as lines:
                for part_name in _part_names(export):
                    _stream_part(part_name, writer, streams, lines)
                    if not Export.objects.filter(pk=export.pk, attempt=attempt).exists():
                        raise AssemblySuperseded
            written = {}
            for fmt, path in streams.finish().items():
                written[fmt] = writer.add_file(f"annotations/{annotations.FILE_NAMES[fmt]}", path, compress=True)
            lines_sha = _sha256_file(lines_path)
            writer.add_file(MANIFEST_LINES, lines_path, compress=True)
            writer.add_json(MANIFEST, _summary(export, written, lines_sha, writer))
            writer.close()
            if layout in FOLDER_LAYOUTS:
                export.file_name, export.file_size = export_folder_publish(export, writer.final_path)
                export.files = _folder_files(export)
                export.file_sha256 = lines_sha
            else:
                export.file_size = writer.final_path.stat().st_size
                export.file_sha256 = _sha256_file(writer.final_path)
                export.file_name = export_archive_publish(export, writer.final_path)
                export.files = [{"name": export.file_name, "size": export.file_size, "sha256": export.file_sha256}]
            return _close(export, attempt)
    except AssemblySuperseded:
        if writer:
            writer.abort()
        logger.warning("export %s: assembly attempt %s was taken over; it stops here", export.pk, attempt)
        return Export.objects.get(pk=export.pk)
    except jobs.TRANSIENT:
        if writer:
            writer.abort()
        Export.objects.filter(pk=export.pk, attempt=attempt).update(stage=Export.Stage.RENDERING)
        raise
    except BaseException as exc:  # a full disk, storage refusing the output, a bug: fail visibly, publish nothing
        if writer:
            writer.abort()
        _close(export, attempt, error=f"assembling the export stopped: {exc.__class__.__name__}: {exc}")
        raise
    finally:
        shutil.rmtree(export_work_path(export.pk), ignore_errors=True)


def _part_names(export: Export):
    """The done chunks' parts in order, a page of names at a time (keyset on the chunk index)."""
    after = -1
    while True:
        page = list(
            ExportChunk.objects.filter(export=export, index__gt=after, status=ExportChunk.Status.DONE)
            .order_by("index")
            .values_list("index", "part_name")[:500]
        )
        if not page:
            return
        for _index, name in page:
            yield name
        after = page[-1][0]


def _stream_part(part_name: str, writer, streams: AnnotationStreams, lines) -> None:
    with chunk_part_open(part_name) as fh, tarfile.open(fileobj=fh, mode="r:") as part:
        records = part.extractfile(RECORDS).read().decode("utf-8").splitlines()
        for line in records:
            record = json.loads(line)
            data = part.extractfile(record.pop("member")).read()
            sample = {k: record[k] for k in ("boxes", "width", "height", "source_sha256", "output_sha256")}
            writer.add_sample(record["output_path"], data, sample)
            lines.write(json.dumps(record, ensure_ascii=False) + "\n")
            boxes = [annotations.ScoredBox(Box(*b), 1.0) for b in record["boxes"]]
            streams.add(annotations.ImageBoxes(record["output_path"], record["width"], record["height"], boxes))


def _summary(export: Export, written: dict[str, str], lines_sha: str, writer) -> dict[str, Any]:
    detector = leak_detector(export.options.get("leak_threshold", 0.2)) if export.options.get("leak_check") else None
    describe = detector.describe() if detector is not None and hasattr(detector, "describe") else None
    summary = {
        "veil_version": settings.VEIL_VERSION,
        "export_id": export.pk,
        "dataset": export.dataset.name,
        "created_at": export.created_at.isoformat(),
        "created_by": person_label(export.created_by, export=export),
        "options": export.options,
        "images_count": export.images_done,
        "images": MANIFEST_LINES,
        "images_sha256": lines_sha,
        "leak_check": {
            "detector": describe,
            "residual_count": export.residual_count,
            "missed_count": export.missed_count,
            "rule": LEAK_RULE,
        },
        "annotations": written,
        "release_gate": export.gate,
    }
    if getattr(writer, "shards", None) is not None:
        summary["shards"] = list(writer.shards)
    if export.options.get("archive") == "hf":
        summary["hf_data_dir"] = HF_SPLIT_DIR
    return summary


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _folder_files(export: Export) -> list[dict[str, Any]]:
    """The folder output's top-level files (shards, manifest) and its annotation files, with sizes: what the
    export page lists for download. Images are listed by the manifest, not here."""
    storage = export_storage()
    root = export.file_name
    found = []
    _dirs, top = storage.listdir(root)
    names = sorted(top)
    with contextlib.suppress(OSError):  # no annotation file asked for
        names += [f"annotations/{n}" for n in sorted(storage.listdir(f"{root}/annotations")[1])]
    if export.options.get("archive") == "hf":
        names.append(f"{HF_SPLIT_DIR}/metadata.jsonl")
    for name in names:
        found.append({"name": name, "size": storage.size(f"{root}/{name}")})
    return found


def _close(export: Export, attempt: int, *, error: str = "") -> Export:
    """Done, or failed with the reason; the parts are deleted once the output is published (a failed assembly
    keeps them, and its chunks, for a retry)."""
    export.status = Export.Status.FAILED if error else Export.Status.DONE
    export.error, export.finished_at = error, timezone.now()
    with transaction.atomic():
        closed = Export.objects.filter(pk=export.pk, attempt=attempt).update(
            status=export.status, error=error, finished_at=export.finished_at, file_name=export.file_name,
            file_size=export.file_size, file_sha256=export.file_sha256, files=export.files,
        )  # fmt: skip
        if not closed:
            if export.file_name:
                if export.options.get("archive") in FOLDER_LAYOUTS:
                    export_folder_discard(export.file_name)
                else:
                    export_storage().delete(export.file_name)
            raise AssemblySuperseded
        audit_record(
            actor=None, verb="export.failed" if error else "export.done", obj=export,
            images=export.images_done, residual=export.residual_count, missed=export.missed_count, error=error,
        )  # fmt: skip
    if not error:
        export_parts_discard(export.pk)
    if export.options.get("leak_check", True):
        second_look_after_leak_check(export=export)  # the safety net: leak finds flag their images
    return export
