import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from reviewer.errors import ServiceError
from reviewer.services.ingest import DUPLICATE, IMPORTED, REJECTED, count_entries, dataset_get_or_create, import_path


class Command(BaseCommand):
    help = (
        "Import images from a folder (recursively), a zip or tar archive, or one file into a dataset (created if "
        "missing). Duplicates are skipped; refused files are listed with their reason. Exit status 1 if any file "
        "was refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="A folder, an archive (.zip, .tar, .tar.gz ...) or an image.")
        parser.add_argument("--dataset", required=True, help="Dataset name; created if it does not exist.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args, path: Path, dataset: str, no_progress: bool, **options):
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        try:
            dataset_obj, created = dataset_get_or_create(name=dataset)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        if created:
            self.stdout.write(f"Created dataset {dataset_obj.name!r}.")
        total = count_entries(path)
        bar = tqdm(total=total, unit="file", disable=no_progress or total == 0, file=sys.stderr, dynamic_ncols=True)
        counts = {IMPORTED: 0, DUPLICATE: 0, REJECTED: 0}

        def progress(outcome):
            counts[outcome.result] += 1
            bar.update(1)
            if outcome.result == REJECTED:
                bar.clear()
                self.stdout.write(f"rejected: {outcome.name}: {outcome.message}")
                bar.refresh()

        try:
            job = import_path(dataset=dataset_obj, path=path, progress=progress)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        finally:
            bar.close()
        self.stdout.write(
            f"{job.imported_count} imported, {job.duplicate_count} duplicate, {job.rejected_count} rejected "
            f"into dataset {dataset_obj.name!r}."
        )
        if job.rejected_count:
            sys.exit(1)
