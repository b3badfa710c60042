import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reviewer.errors import ServiceError
from reviewer.management.commands._workflow_common import add_actor_argument, get_actor, get_dataset
from reviewer.services.annotations import IMPORT_AS, annotations_import


class Command(BaseCommand):
    help = (
        "Import face boxes from ImageNet's face_annotations_ILSVRC.json layout or a COCO file into a dataset, "
        "matching images by relative path, then by file name when only one image has it. --as approved makes "
        "them the approved boxes (exports blur them); --as proposals makes a detection run reviewers correct. "
        "Entries naming no image and bad boxes are listed one per line; exit status 1 if there was any."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--as", dest="import_as", choices=IMPORT_AS, required=True)
        add_actor_argument(parser)

    def handle(self, *args, file: Path, dataset: str, import_as: str, actor: str | None, **options):
        if not file.is_file():
            raise CommandError(f"{file} is not a file.")
        dataset_obj = get_dataset(dataset)
        approver = get_actor(actor) if import_as == "approved" or actor else None
        try:
            report = annotations_import(
                dataset=dataset_obj, data=file.read_bytes(), import_as=import_as, user=approver, label=file.name
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        for line in report.problems:
            self.stdout.write(f"problem: {line}")
        self.stdout.write(report.summary())
        if report.run_id:
            self.stdout.write(f"Proposals are in detection run {report.run_id}.")
        if not report.is_clean:
            sys.exit(1)
