import getpass

from django.core.management.base import BaseCommand, CommandError

from reviewer.errors import ServiceError
from reviewer.models import User
from reviewer.services.accounts import user_create


class Command(BaseCommand):
    help = "Create a reviewer (or, with --admin, an admin). Prints a generated password unless --password-prompt."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--admin", action="store_true", help="Create an admin instead of a reviewer.")
        parser.add_argument("--password-prompt", action="store_true", help="Ask for the password instead.")

    def handle(self, *args, username, email, admin, password_prompt, **options):
        password = getpass.getpass("Password: ") if password_prompt else None
        role = User.Role.ADMIN if admin else User.Role.REVIEWER
        try:
            user, password = user_create(username=username, role=role, password=password, email=email)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created {user.get_role_display().lower()} {user.username!r}.")
        if not password_prompt:
            self.stdout.write(f"Password (shown once): {password}")
