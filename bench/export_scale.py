"""The export's read and manifest path at two dataset sizes: time and peak Python memory (tracemalloc), with the
read the export did before it was chunked (every approved image listed at once, with its approval, boxes and
people) measured in the same run as the baseline. Called by bench/scale.py on its 2 k and 1.5 M datasets.

- plan: export_plan cuts the approved images into chunks by keyset pages (what the first task does);
- assembly: export_assemble streams the chunks' parts into a tar and writes manifest.jsonl and the annotation files
  (the parts are made up here: a few bytes per image and a real record, so this times the manifest path and not
  JPEG bytes being copied).
"""

from __future__ import annotations

import gc
import io
import json
import tarfile
import tempfile
import time
import tracemalloc
from pathlib import Path

from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from reviewer.imaging.archive import tar_add
from reviewer.models import Export, ExportChunk
from reviewer.selectors.export import approved_images
from reviewer.services.export import export_plan, export_start
from reviewer.services.export_assemble import export_assemble
from reviewer.services.export_files import RECORDS, chunk_part_name, chunk_part_publish


def _measured(call):
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def _fake_parts(export: Export, work) -> None:
    """A part per chunk: one tiny 'image' and one real-shaped record per approved image."""
    for chunk in ExportChunk.objects.filter(export=export).order_by("index").iterator(chunk_size=200):
        path = work / f"part-{chunk.index}.tar"
        lines = []
        with tarfile.open(path, "w") as part:
            for n, image_id in enumerate(chunk.image_ids):
                member = f"{n:06d}"
                tar_add(part, member, io.BytesIO(b"jpg"), 3)
                lines.append(json.dumps({
                    "member": member, "source_path": f"img/{image_id}.jpg", "original_name": f"{image_id}.jpg",
                    "output_path": f"img/{image_id}.jpg", "source_sha256": "0" * 64, "output_sha256": "1" * 64,
                    "width": 640, "height": 480, "boxes": [[10.0, 10.0, 50.0, 60.0]],
                    "approval": {"id": image_id, "source": "review", "approved_by": "person-x", "approved_at": ""},
                    "reviewers": ["person-y"], "leaks": [],
                }))  # fmt: skip
            data = ("\n".join(lines) + "\n").encode()
            tar_add(part, RECORDS, io.BytesIO(data), len(data))
        name = chunk_part_publish(chunk_part_name(chunk, 1), path)
        path.unlink(missing_ok=True)  # a local storage took it by a rename
        ExportChunk.objects.filter(pk=chunk.pk).update(
            status=ExportChunk.Status.DONE, part_name=name, attempt=1, images_done=len(chunk.image_ids)
        )
    Export.objects.filter(pk=export.pk).update(
        chunks_done=export.chunks_total, images_done=export.images_total, heartbeat_at=timezone.now()
    )


def export_paths(datasets: list, admin) -> list[dict]:
    """For each dataset: approved images, then seconds and peak MiB of the old read, the plan and the assembly."""
    rows = []
    for dataset in datasets:
        with tempfile.TemporaryDirectory() as folder, override_settings(
            VEIL_DATA_DIR=folder,
            STORAGES={**settings.STORAGES, "exports": {
                "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": folder},
            }},
        ):  # fmt: skip
            old, old_s, old_mib = _measured(lambda d=dataset: len(list(approved_images(d, people=True))))
            export = export_start(
                dataset=dataset, options={"archive": "tar", "leak_check": False}, user=admin, enqueue=False,
                gate_override="benchmark",
            )  # fmt: skip
            export, plan_s, plan_mib = _measured(lambda e=export: export_plan(export_id=e.pk, enqueue=False))
            _fake_parts(export, Path(folder))
            done, asm_s, asm_mib = _measured(lambda e=export: export_assemble(export_id=e.pk))
            assert done.status == Export.Status.DONE, done.error
            rows.append({
                "dataset": dataset.name, "approved": old, "old_read_s": old_s, "old_read_mib": old_mib,
                "plan_s": plan_s, "plan_mib": plan_mib, "chunks": export.chunks_total,
                "assemble_s": asm_s, "assemble_mib": asm_mib,
            })  # fmt: skip
    return rows


def print_export_paths(rows: list[dict]) -> None:
    print("\nexport's read and manifest path (peak = tracemalloc's peak of Python allocations during the call):")
    print("  dataset | approved | old read: s, peak MiB | plan: s, peak MiB (chunks) | assembly to tar: s, peak MiB")
    for r in rows:
        print(f"  {r['dataset']} | {r['approved']:,} | {r['old_read_s']:.2f} s, {r['old_read_mib']:.1f} | "
              f"{r['plan_s']:.2f} s, {r['plan_mib']:.1f} ({r['chunks']}) | {r['assemble_s']:.2f} s, "
              f"{r['assemble_mib']:.1f}")  # fmt: skip
    if len(rows) == 2:
        small, big = rows
        print(f"  ratio big/small: approved {big['approved'] / max(1, small['approved']):.0f}x; peak memory: old read "
              f"{big['old_read_mib'] / max(0.01, small['old_read_mib']):.1f}x, plan "
              f"{big['plan_mib'] / max(0.01, small['plan_mib']):.1f}x, assembly "
              f"{big['assemble_mib'] / max(0.01, small['assemble_mib']):.1f}x")  # fmt: skip
