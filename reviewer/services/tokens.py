"""API tokens for scripts: create (the secret is returned once), revoke, and resolve a presented token."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from reviewer.errors import NotFound, ServiceError
from reviewer.models import ApiToken, User
from reviewer.services.audit import audit_record

TOKEN_PREFIX = "veil_"
MAX_ACTIVE_TOKENS = 50
# last_used_at is a hint for people, not an audit trail: one write a minute per token, not one per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def token_create(*, owner: User, name: str) -> tuple[ApiToken, str]:
    """Create a token for `owner`. Returns the row and the secret, which is stored only as its sha256.

    Refuses: an empty or over-long name, a NUL in it, an inactive owner, more than MAX_ACTIVE_TOKENS live tokens.
    Writes an audit event (without the secret).
    """
    name = (name or "").strip()
    if not name or len(name) > 100 or "\x00" in name:
        raise ServiceError("A token needs a name of 1 to 100 characters.", code="invalid_name")
    if not owner.is_active:
        raise ServiceError("An inactive user cannot have tokens.", code="inactive")
    if ApiToken.objects.filter(owner=owner, revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS:
        raise ServiceError(f"At most {MAX_ACTIVE_TOKENS} live tokens; revoke one first.", code="too_many")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(owner=owner, name=name, token_hash=token_hash(secret), prefix=secret[:12])
        audit_record(actor=owner, verb="token.created", obj=token, name=name)
    return token, secret


def token_revoke(*, owner: User, token_id: int) -> ApiToken:
    """Revoke one of `owner`'s tokens (idempotent). NotFound for a token of someone else, as for a missing one."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, owner=owner).first()
        if token is None:
            raise NotFound("No such token.")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(actor=owner, verb="token.revoked", obj=token, name=token.name)
    return token


def token_user(*, secret: str) -> tuple[User, ApiToken] | None:
    """The active user a live token belongs to, or None (unknown, revoked, or the user was deactivated).

    Updates last_used_at at most once a minute.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = ApiToken.objects.select_related("owner").filter(token_hash=token_hash(secret)).first()
    if token is None or token.revoked_at is not None or not token.owner.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token.owner, token
