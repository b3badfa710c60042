from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reviewer.errors import ServiceError
from reviewer.imaging.annotations import FORMATS
from reviewer.management.commands._workflow_common import get_dataset
from reviewer.services.annotations import BOX_SETS, annotations_export


class Command(BaseCommand):
    help = (
        "Write a dataset's face boxes to a file: the current detection run's proposals, the approved (final) "
        "boxes, or the regions flagged for a second look that no final box covers (candidates, leak finds), as "
        "ImageNet's JSON layout ([{url, bboxes: [{x0, y0, x1, y1, score}]}], absolute pixels of the "
        "image as displayed), COCO or CSV."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--boxes", choices=BOX_SETS, required=True)
        parser.add_argument("--format", choices=FORMATS, default="imagenet-json")
        parser.add_argument("--out", type=Path, required=True, help="Output file ('-' for standard output).")

    def handle(self, *args, dataset: str, boxes: str, format: str, out: Path, **options):
        dataset_obj = get_dataset(dataset)
        try:
            data, count = annotations_export(dataset=dataset_obj, box_set=boxes, fmt=format)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        if str(out) == "-":
            self.stdout.write(data.decode("utf-8"), ending="")
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        temp = out.with_name(f".{out.name}.partial")
        temp.write_bytes(data)
        temp.replace(out)
        self.stderr.write(f"Wrote {boxes} boxes of {count} images to {out} ({format}).")
