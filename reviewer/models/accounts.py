from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who uses Veil. Admins run datasets; reviewers correct boxes on what is assigned to them."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        REVIEWER = "reviewer", "Reviewer"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REVIEWER)

    @property
    def is_admin(self) -> bool:
        return self.is_active and (self.is_superuser or self.role == self.Role.ADMIN)

    @property
    def is_reviewer(self) -> bool:
        return self.is_active and self.role == self.Role.REVIEWER
