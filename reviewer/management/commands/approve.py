from django.core.management.base import BaseCommand, CommandError

from reviewer.errors import ServiceError
from reviewer.management.commands._workflow_common import add_actor_argument, get_actor, get_dataset
from reviewer.models import Image
from reviewer.selectors.workflow import approval_queue
from reviewer.services.approval import images_approve


class Command(BaseCommand):
    help = (
        "Approve images waiting for approval from their consolidated reviews: all of them with --all-reviewed, "
        "or those given with --image PATH. Without either, print what waits (unsure and disagreeing first)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="Dataset name.")
        parser.add_argument("--all-reviewed", action="store_true", help="Approve every image waiting for approval.")
        parser.add_argument(
            "--image", action="append", default=[], metavar="PATH", help="An image's relative path (repeatable)."
        )
        add_actor_argument(parser)

    def handle(self, *args, dataset, all_reviewed, image, actor, **options):
        dataset_obj = get_dataset(dataset)
        if all_reviewed and image:
            raise CommandError("Use --all-reviewed or --image, not both.")
        if not all_reviewed and not image:
            queue = approval_queue(dataset_obj)
            for entry in queue:
                flags = [f for f, on in (("unsure", entry.is_unsure), ("disagreement", entry.has_disagreement)) if on]
                faces = len(entry.consolidation.faces)
                self.stdout.write(
                    f"{entry.image.relative_path}: {faces} face{'s' if faces != 1 else ''}"
                    f"{' [' + ', '.join(flags) + ']' if flags else ''}"
                )
            attention = sum(e.needs_attention for e in queue)
            self.stdout.write(
                f"{len(queue)} image{'s' if len(queue) != 1 else ''} waiting for approval, "
                f"{attention} flagged unsure or with disagreement. Nothing approved: pass --all-reviewed "
                "or --image PATH."
            )
            return
        ids = None
        if image:
            found = dict(
                Image.objects.filter(dataset=dataset_obj, relative_path__in=image).values_list("relative_path", "id")
            )
            unknown = [p for p in image if p not in found]
            if unknown:
                raise CommandError(f"Dataset {dataset_obj.name!r} has no image {', '.join(unknown)}.")
            ids = [found[p] for p in image]
        try:
            result = images_approve(dataset=dataset_obj, actor=get_actor(actor), image_ids=ids)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        if result.skipped:
            paths = dict(Image.objects.filter(pk__in=result.skipped).values_list("id", "relative_path"))
            for pk in result.skipped:
                self.stdout.write(f"skipped: {paths.get(pk, pk)}: not waiting for approval")
        self.stdout.write(
            f"{len(result.approved)} image{'s' if len(result.approved) != 1 else ''} approved, "
            f"{len(result.skipped)} skipped, in dataset {dataset_obj.name!r}."
        )
        if result.skipped and ids is not None:
            raise CommandError("Some images were not approved.", returncode=1)
