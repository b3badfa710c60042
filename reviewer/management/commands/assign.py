from django.core.management.base import BaseCommand, CommandError

from reviewer.errors import ServiceError
from reviewer.management.commands._workflow_common import add_actor_argument, get_actor, get_dataset
from reviewer.models import Batch, User
from reviewer.services.assignment import batch_assign, dataset_assign_round_robin


class Command(BaseCommand):
    help = (
        "Give every non-pool batch of a dataset k distinct reviewers (default: the dataset's reviews required), "
        "round-robin over --reviewers; with --batch, give that one batch to all the --reviewers."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="Dataset name.")
        parser.add_argument("--reviewers", required=True, help="Comma-separated usernames, e.g. ann,bob,cid.")
        parser.add_argument("--k", type=int, help="Reviewers per batch (default: the dataset's reviews required).")
        parser.add_argument("--batch", help="Only this batch (by name), to every reviewer listed.")
        add_actor_argument(parser)

    def handle(self, *args, dataset, reviewers, k, batch, actor, **options):
        dataset_obj = get_dataset(dataset)
        names = [n.strip() for n in reviewers.split(",") if n.strip()]
        users = {u.username: u for u in User.objects.filter(username__in=names)}
        unknown = [n for n in names if n not in users]
        if unknown:
            raise CommandError(f"No such user: {', '.join(unknown)}.")
        people = [users[n] for n in dict.fromkeys(names)]
        admin = get_actor(actor)
        try:
            if batch:
                batch_obj = Batch.objects.filter(dataset=dataset_obj, name=batch).first()
                if batch_obj is None:
                    raise CommandError(f"Dataset {dataset_obj.name!r} has no batch called {batch!r}.")
                made = batch_assign(batch=batch_obj, reviewers=people, actor=admin)
            else:
                made = dataset_assign_round_robin(dataset=dataset_obj, reviewers=people, actor=admin, k=k)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        for assignment in made:
            self.stdout.write(f"{assignment.batch.name} -> {assignment.reviewer.username}")
        self.stdout.write(f"{len(made)} assignment{'s' if len(made) != 1 else ''} made.")
