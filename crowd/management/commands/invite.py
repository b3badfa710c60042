from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from crowd.services.onboarding import invite_create, invite_token
from reviewer.errors import ServiceError
from reviewer.management.commands._workflow_common import add_actor_argument, get_actor, get_dataset


class Command(BaseCommand):
    help = (
        "Make an invite link to a dataset's pool batches: whoever opens it becomes a reviewer (no password), "
        "reads the instructions, passes the qualification round and gets a completion code at the end."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="Dataset name.")
        parser.add_argument("--uses", type=int, required=True, help="How many workers may join by the link.")
        parser.add_argument("--expires", type=float, required=True, metavar="DAYS", help="Days until it expires.")
        parser.add_argument("--images", type=int, default=None, help="Images per worker (default: one pool batch).")
        parser.add_argument("--label", default="", help="A note for you, shown on the crowd page.")
        parser.add_argument(
            "--base-url",
            default=settings.VEIL_BASE_URL,
            help="Where Veil is reached, e.g. https://veil.example.org (default VEIL_BASE_URL).",
        )
        add_actor_argument(parser)

    def handle(self, *args, dataset, uses, expires, images, label, base_url, actor, **options):
        dataset_obj = get_dataset(dataset)
        try:
            invite = invite_create(
                dataset=dataset_obj,
                actor=get_actor(actor),
                max_uses=uses,
                expires_in_days=expires,
                images_per_worker=images,
                label=label,
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        url = (base_url or "").rstrip("/") + reverse("crowd-join", args=[invite_token(invite)])
        self.stdout.write(url)
        self.stderr.write(
            f"Invite {invite.pk} to {dataset_obj.name!r}: {uses} use{'s' if uses != 1 else ''}, expires "
            f"{invite.expires_at:%Y-%m-%d %H:%M} UTC. Append ?PROLIFIC_PID=... (Prolific), workerId comes from "
            "MTurk, or ?external_id=... for any other platform."
        )
