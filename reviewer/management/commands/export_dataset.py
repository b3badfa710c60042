import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from reviewer.errors import ServiceError
from reviewer.imaging.annotations import FORMATS
from reviewer.imaging.blur import BLUR_MODES, DEFAULT_MODE
from reviewer.imaging.layouts import DEFAULT_SHARD_SIZE, LAYOUTS
from reviewer.jobs import TRANSIENT
from reviewer.management.commands._workflow_common import add_actor_argument, get_actor, get_dataset
from reviewer.models import Export
from reviewer.services.export import export_render, export_start
from reviewer.services.export_files import export_copy_to
from reviewer.services.gate import GateRefused


class Command(BaseCommand):
    help = (
        "Export a dataset's approved images with every face blurred, annotations and a manifest, to an archive. "
        "Queues the work on Celery and shows its progress (a worker must run), or renders here with --sync. Exit "
        "status 1 if the export fails or the release gate refuses it (with what to look at; no archive); residual or "
        "possibly missed faces found by the leak check are listed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="Dataset name.")
        parser.add_argument(
            "--out", required=True, type=Path,
            help="Where to write the output: a file for zip and tar, a folder for webdataset, folder and hf.",
        )  # fmt: skip
        parser.add_argument("--blur", choices=BLUR_MODES, default=DEFAULT_MODE)
        parser.add_argument(
            "--archive", choices=LAYOUTS, default=None,
            help="zip or tar (one file), webdataset (tar shards), folder (the dataset's tree), hf (a Hugging Face "
            "imagefolder). Default: from --out's suffix (.tar: tar, otherwise zip).",
        )  # fmt: skip
        parser.add_argument(
            "--shard-size", type=int, default=None, help=f"Images per WebDataset shard (default {DEFAULT_SHARD_SIZE})."
        )
        parser.add_argument("--annotations", default=",".join(FORMATS), help=f"Comma-separated: {','.join(FORMATS)}.")
        parser.add_argument("--jpeg-quality", type=int, default=None)
        parser.add_argument("--no-leak-check", action="store_true", help="Skip running the detector on the output.")
        parser.add_argument(
            "--quick-leak-check", action="store_true",
            help="Accepted for older scripts; changes nothing: the export no longer searches the originals (the "
            "safety net's search runs once, at detection).",
        )  # fmt: skip
        parser.add_argument("--fail-on-residual", action="store_true", help="Fail if any face is left after blur.")
        parser.add_argument("--sync", action="store_true", help="Render in this process; no broker or worker.")
        add_actor_argument(parser)
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument(
            "--override-gate", default=None, metavar="REASON",
            help="Export although the release gate refuses; the reason goes into the manifest and the audit log.",
        )  # fmt: skip

    def handle(self, *args, **opts):
        dataset = get_dataset(opts["dataset"])
        out: Path = opts["out"]
        archive = opts["archive"] or ("tar" if out.suffix.lower() == ".tar" else "zip")
        options = {
            "blur": opts["blur"],
            "archive": archive,
            "annotations": opts["annotations"],
            "jpeg_quality": opts["jpeg_quality"],
            "leak_check": not opts["no_leak_check"],
            "leak_views": not opts["quick_leak_check"],
            "shard_size": opts["shard_size"],
        }
        if opts["fail_on_residual"]:
            options["fail_on_residual"] = True
        try:
            export = export_start(
                dataset=dataset, options=options, user=get_actor(opts["actor"]), enqueue=not opts["sync"],
                gate_override=opts["override_gate"],
            )  # fmt: skip
        except GateRefused as exc:
            self.stdout.write("Look at:")
            for item in exc.report.look_at:
                self.stdout.write(f"  {item['path']}: {item['why']}")
            raise CommandError(f"{exc.message} No archive was written; --override-gate REASON exports anyway.") from exc
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        gate = export.gate
        self.stdout.write(
            f"{gate['reason']}" + (f" Overridden: {gate['override']['reason']}" if gate["override"] else "")
        )
        bar = tqdm(total=export.images_total, unit="image", disable=opts["no_progress"], file=sys.stderr)
        try:
            if opts["sync"]:
                export = self._render_here(export, bar)
            else:
                self.stdout.write(f"Export {export.pk} queued; waiting for a worker (celery -A config worker).")
                export = self._wait(export, bar)
        finally:
            bar.close()
        self._report(export)
        if export.status != Export.Status.DONE:
            raise CommandError(f"Export {export.pk} failed: {export.error}")
        try:
            path = export_copy_to(export=export, destination=out)
        except OSError as exc:
            raise CommandError(
                f"Export {export.pk} is done, but its archive could not be written to {out}: {exc.strerror or exc}. "
                "Free space or choose another --out, then run again (the export is kept)."
            ) from exc
        what = "sha256 of manifest.jsonl" if path.is_dir() else "sha256"
        self.stdout.write(f"Wrote {path} ({export.file_size:,} bytes, {what} {export.file_sha256}).")

    def _render_here(self, export: Export, bar) -> Export:
        """--sync: render in this process; a failure is said in one sentence (the export row keeps the reason)."""
        try:
            return export_render(export_id=export.pk, progress=lambda done, total: bar.update(done - bar.n))
        except KeyboardInterrupt as exc:
            raise CommandError(f"Interrupted: export {export.pk} was stopped and marked failed.") from exc
        except TRANSIENT as exc:
            raise CommandError(
                f"Export {export.pk} stopped: the database could not be reached ({exc}). It is queued again: run "
                "this command again, or start a worker to take it."
            ) from exc
        except Exception as exc:
            export.refresh_from_db()
            raise CommandError(f"Export {export.pk} failed: {export.error or exc}") from exc

    def _wait(self, export: Export, bar) -> Export:
        while export.status not in (Export.Status.DONE, Export.Status.FAILED):
            time.sleep(0.5)
            export.refresh_from_db()
            bar.update(export.images_done - bar.n)
        return export

    def _report(self, export: Export) -> None:
        self.stdout.write(
            f"{export.images_done} of {export.images_total} images rendered; leak check: "
            f"{export.residual_count} residual face(s), {export.missed_count} possibly missed face(s)."
        )
        for leak in export.leaks.select_related("image").order_by("kind", "image__relative_path"):
            box = ", ".join(f"{v:.0f}" for v in leak.box.as_list())
            self.stdout.write(f"  {leak.kind}: {leak.image.relative_path} [{box}] score {leak.score:.2f}")
