"""What the workflow commands share: finding the dataset and the admin the command acts as (`--user`)."""

from django.core.management.base import CommandError
from django.db.models import Q

from reviewer.models import Dataset, User


def add_actor_argument(parser) -> None:
    parser.add_argument(
        "--user",
        dest="actor",
        metavar="USERNAME",
        help="The admin recorded in the audit log (default: the first active admin).",
    )


def get_dataset(name: str) -> Dataset:
    """The dataset called `name`, or a CommandError saying there is none."""
    try:
        return Dataset.objects.get(name=name)
    except Dataset.DoesNotExist:
        raise CommandError(f"There is no dataset called {name!r}.") from None


def get_actor(username: str | None) -> User:
    """The services refuse non-admins; a command acts as a named admin so the audit log says who."""
    admins = User.objects.filter(Q(role=User.Role.ADMIN) | Q(is_superuser=True), is_active=True)
    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user called {username!r}.")
        if not user.is_admin:
            raise CommandError(f"{username!r} is not an active admin; workflow commands act as an admin.")
        return user
    user = admins.order_by("id").first()
    if user is None:
        raise CommandError("There is no active admin to act as: create one first, or pass --user USERNAME.")
    return user
