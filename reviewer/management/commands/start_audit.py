from django.core.management.base import BaseCommand, CommandError

from reviewer.errors import ServiceError
from reviewer.management.commands._workflow_common import add_actor_argument, get_actor, get_dataset
from reviewer.models import User
from reviewer.services.blind_audit import audit_batch_create


class Command(BaseCommand):
    help = (
        "Start a blind audit: a random share (the dataset's audit rate) of its approved images, as a batch assigned "
        "to a reviewer who did not review them. Faces they box that the approval missed count in the release gate."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--auditor", required=True, help="Username of the reviewer who audits.")
        parser.add_argument("--rate", type=float, default=None, help="Set the dataset's audit rate first (0-1).")
        parser.add_argument("--seed", type=int, default=None)
        add_actor_argument(parser)

    def handle(self, *args, dataset, auditor, rate, seed, actor, **options):
        dataset_obj = get_dataset(dataset)
        auditor_obj = User.objects.filter(username=auditor).first()
        if auditor_obj is None:
            raise CommandError(f"No user named {auditor!r}.")
        if rate is not None:
            if not 0 <= rate <= 1:
                raise CommandError("--rate must be between 0 and 1.")
            dataset_obj.audit_rate = rate
            dataset_obj.save(update_fields=["audit_rate"])
        try:
            batch = audit_batch_create(dataset=dataset_obj, auditor=auditor_obj, actor=get_actor(actor),
                                       seed=seed)  # fmt: skip
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{batch.name}: {batch.items.count()} approved image(s) for {auditor_obj.username}.")
