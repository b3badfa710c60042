from django.core.management.base import BaseCommand, CommandError

from reviewer.errors import ServiceError
from reviewer.management.commands._workflow_common import add_actor_argument, get_actor, get_dataset
from reviewer.services.assignment import batches_create


class Command(BaseCommand):
    help = (
        "Cut the images of a dataset that are in no batch yet into batches of --size, in order of their path, "
        "optionally as pool batches and with gold images mixed into each."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="Dataset name.")
        parser.add_argument("--size", type=int, required=True, help="Images per batch (gold images come on top).")
        parser.add_argument("--pool", action="store_true", help="Pool batches: any reviewer may take one.")
        parser.add_argument("--gold-per-batch", type=int, default=0, help="Gold images mixed into each batch.")
        parser.add_argument("--prefix", default="batch", help="Batch names: PREFIX-001, PREFIX-002... (default batch)")
        add_actor_argument(parser)

    def handle(self, *args, dataset, size, pool, gold_per_batch, prefix, actor, **options):
        dataset_obj = get_dataset(dataset)
        try:
            batches = batches_create(
                dataset=dataset_obj,
                actor=get_actor(actor),
                size=size,
                is_pool=pool,
                gold_per_batch=gold_per_batch,
                name_prefix=prefix,
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        for batch in batches:
            self.stdout.write(f"{batch.name}: {batch.items.count()} images{' (pool)' if pool else ''}")
        self.stdout.write(
            f"{len(batches)} batch{'es' if len(batches) != 1 else ''} made in dataset {dataset_obj.name!r}."
        )
