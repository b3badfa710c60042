"""People: creating admins and reviewers, deactivating them, resetting their passwords."""

from __future__ import annotations

import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from reviewer import policies
from reviewer.errors import Conflict, ServiceError
from reviewer.models import Lease, User
from reviewer.services.audit import audit_record

# What only admins may do here, in policies.require_admin\'s "Only admins ...".
_ADMIN_WORK = "manage people"


def user_create(
    *, username: str, role: str, password: str | None = None, email: str = "", actor=None
) -> tuple[User, str]:
    """Create an admin or a reviewer. Returns the user and the password (generated when none is given).

    Writes one User and one audit event. Refuses: a non-admin actor (None means the command line), an empty or
    existing user name, an unknown role, a password Django's validators reject.
    """
    policies.require_admin(actor, _ADMIN_WORK, system_ok=True)
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


def user_set_active(*, user: User, is_active: bool, actor: User) -> User:
    """Deactivate (or reactivate) a person. A deactivated person cannot log in and gets no new batches; their
    reviews stay. Deactivating drops their leases so others can take those images at once.

    Writes User.is_active, deletes leases, one audit event. Refuses: a non-admin actor, deactivating yourself
    (nobody could undo it if you are the last admin), and a change that changes nothing (Conflict).
    """
    policies.require_admin(actor, _ADMIN_WORK, system_ok=True)
    if not is_active and user.pk == actor.pk:
        raise ServiceError("You cannot deactivate yourself; ask another admin.", code="self")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_active == is_active:
            state = "active" if is_active else "deactivated"
            raise Conflict(f"{user.username} is already {state}.", code="unchanged")
        user.is_active = is_active
        user.save(update_fields=["is_active"])
        if not is_active:
            Lease.objects.filter(reviewer=user).delete()
        audit_record(actor=actor, verb="user.activated" if is_active else "user.deactivated", obj=user)
    return user


def user_reset_password(*, user: User, actor: User) -> str:
    """Give a person a new random password and return it, to be shown once; the old one stops working.

    Writes the password hash and one audit event (without the password). Refuses: a non-admin actor.
    """
    policies.require_admin(actor, _ADMIN_WORK, system_ok=True)
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=actor, verb="user.password_reset", obj=user)
    return password
