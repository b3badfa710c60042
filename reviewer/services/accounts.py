"""People: creating admins and reviewers."""

from __future__ import annotations

import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from reviewer.models import User
from reviewer.services.audit import audit_record
from reviewer.services.errors import ServiceError


def user_create(
    *, username: str, role: str, password: str | None = None, email: str = "", actor=None
) -> tuple[User, str]:
    """Create an admin or a reviewer. Returns the user and the password (generated when none is given).

    Refuses: an existing user name, an unknown role, a password Django's validators reject.
    """
    username = (username or "").strip()
    if not username:
        raise ServiceError("A user needs a user name.", code="invalid_username")
    if role not in User.Role.values:
        raise ServiceError(f"Role must be one of {', '.join(User.Role.values)}.", code="invalid_role")
    if User.objects.filter(username__iexact=username).exists():
        raise ServiceError(f"A user called {username!r} exists already.", code="exists")
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    user = User(username=username, email=email, role=role, is_staff=role == User.Role.ADMIN)
    if not generated:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ServiceError(" ".join(exc.messages), code="weak_password") from exc
    with transaction.atomic():
        user.set_password(password)
        user.save()
        audit_record(actor=actor, verb="user.created", obj=user, role=role)
    return user, password
