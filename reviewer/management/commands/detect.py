import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from tqdm import tqdm

from reviewer.errors import ServiceError
from reviewer.imaging.detectors import DETECTOR_NAMES
from reviewer.models import Dataset, DetectionRun
from reviewer.selectors.detection import detection_run_failures, detection_run_progress
from reviewer.services.detection import detection_run_process_sync, detection_run_start

POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = (
        "Run face detection over a dataset: queue the work on the Celery workers and show a progress bar until it "
        "is done, or with --sync run it all in this process (no broker, no worker). A run that finishes becomes the "
        "dataset's current run unless a later one is; the run's page goes back to an older one. Exit status 1 if an "
        "image failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="Dataset name.")
        parser.add_argument("--detector", choices=DETECTOR_NAMES, default=None, help="Default: VEIL_DETECTOR.")
        parser.add_argument("--threshold", type=float, default=None, help="Score threshold (default 0.2).")
        parser.add_argument("--long-side", type=int, default=None, help="Long side fed to the model, px (832).")
        parser.add_argument("--thorough", action="store_true", help="Mirrored and 1.5x passes: more faces, ~4x time.")
        parser.add_argument("--recall", action="store_true", help="Recall mode: a mirrored pass, tall boxes from 0.07.")
        parser.add_argument("--sync", action="store_true", help="Run in this process, without broker or worker.")
        parser.add_argument("--no-wait", action="store_true", help="Queue the work and return at once.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(
        self,
        *args,
        dataset,
        detector,
        threshold,
        long_side,
        thorough,
        sync,
        no_wait,
        no_progress,
        recall=False,
        **options,
    ):
        dataset_obj = Dataset.objects.filter(name=dataset).first()
        if dataset_obj is None:
            raise CommandError(f"No dataset called {dataset!r}. Import images first: manage.py import_images.")
        try:
            run = detection_run_start(
                dataset=dataset_obj,
                detector=detector or "",
                settings={"threshold": threshold, "long_side": long_side, "thorough": thorough, "recall": recall},
                user=None,
                enqueue=not sync,
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Detection run {run.pk} on {run.images_total} images of {dataset_obj.name!r} "
            f"({run.detector}, long side {run.settings.get('long_side')}, threshold {run.settings.get('threshold')}"
            f"{', thorough' if run.settings.get('thorough') else ''}); page: {reverse('detection-run', args=[run.pk])}"
        )
        if no_wait and not sync:
            self.stdout.write("Queued; workers (celery -A config worker) will process it.")
            return
        bar = tqdm(total=run.images_total, unit="img", disable=no_progress, file=sys.stderr, dynamic_ncols=True)
        try:
            if sync:
                run = detection_run_process_sync(run=run, progress=lambda chunk: bar.update(len(chunk.image_ids)))
            else:
                run = self._wait(run, bar)
        except KeyboardInterrupt:
            bar.close()
            self.stdout.write(f"Stopped watching; run {run.pk} goes on on the workers.")
            return
        finally:
            bar.close()
        self._summary(run)

    def _wait(self, run: DetectionRun, bar) -> DetectionRun:
        warned_at = time.monotonic()
        while True:
            progress = detection_run_progress(run=run)
            bar.n = progress["processed"]
            bar.set_postfix(failed=progress["failed"], refresh=False)
            bar.refresh()
            if progress["is_finished"]:
                return run
            if progress["processed"] == 0 and time.monotonic() - warned_at > 30:
                bar.write("Nothing processed yet: is a worker running? (celery -A config worker)")
                warned_at = time.monotonic()
            time.sleep(POLL_SECONDS)
            run.refresh_from_db()

    def _summary(self, run: DetectionRun) -> None:
        progress = detection_run_progress(run=run)
        for result in detection_run_failures(run=run):
            self.stdout.write(f"failed: {result.image.relative_path}: {result.error}")
        rate = progress["images_per_second"]
        self.stdout.write(
            f"Run {run.pk} {progress['status_display'].lower()}: {progress['done']} images done, "
            f"{progress['failed']} failed, {progress['faces']} proposals"
            f"{f', {rate} images/s' if rate else ''}."
        )
        run.dataset.refresh_from_db()
        if run.dataset.current_detection_run_id == run.pk:
            self.stdout.write(f"Run {run.pk} is the current run: reviewers see its proposals.")
        else:
            self.stdout.write(
                f"Run {run.dataset.current_detection_run_id}, a later one, stays the current run; make this one "
                "current on its page."
            )
        if progress["failed"]:
            sys.exit(1)
