from django.core.management.base import BaseCommand

from reviewer.models import User
from reviewer.services.accounts import user_create


class Command(BaseCommand):
    help = "First start: create an admin and a reviewer if there are none, and print their passwords once."

    def add_arguments(self, parser):
        parser.add_argument("--admin", default="admin")
        parser.add_argument("--reviewer", default="reviewer")

    def handle(self, *args, admin, reviewer, **options):
        created = []
        if (
            not User.objects.filter(role=User.Role.ADMIN).exists()
            and not User.objects.filter(is_superuser=True).exists()
        ):
            user, password = user_create(username=admin, role=User.Role.ADMIN)
            created.append((user, password))
        if not User.objects.filter(role=User.Role.REVIEWER).exists():
            user, password = user_create(username=reviewer, role=User.Role.REVIEWER)
            created.append((user, password))
        if not created:
            admins = User.objects.filter(role=User.Role.ADMIN, is_active=True).order_by("pk")
            names = ", ".join(admins.values_list("username", flat=True)[:3]) or "none"
            self.stdout.write(
                f"Veil: accounts exist already (admins: {names}); their passwords were printed when they were made."
            )
            self.stdout.write(
                "Forgot one? python manage.py changepassword NAME sets a new one; "
                "python manage.py create_reviewer NAME [--admin] makes another account."
            )
            return
        self.stdout.write("")
        self.stdout.write("=" * 64)
        self.stdout.write("Veil accounts (passwords are shown once; note them now):")
        for user, password in created:
            self.stdout.write(f"  {user.get_role_display():9} user: {user.username:12} password: {password}")
        self.stdout.write("=" * 64)
        self.stdout.write("")
