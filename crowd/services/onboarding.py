"""Invite links and the accounts they make: creating, revoking and accepting a link, and one-time sign-in links.

A crowd worker has no password anybody chose: the session an invite link opens is the login. To come back from
another device they make a one-time sign-in link while signed in. The link of an invite carries its random key
signed with the secret key, so a key cannot be guessed or altered without the signature failing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from crowd.models import CrowdWorker, Invite, Participation, SignInLink
from reviewer import policies
from reviewer.errors import Conflict, Forbidden, NotFound, ServiceError
from reviewer.models import Dataset, User
from reviewer.services.audit import audit_record

# What only admins may do here, in policies.require_admin\'s "Only admins ...".
_ADMIN_WORK = "manage invite links"

INVITE_SALT = "veil.crowd.invite"
MAX_INVITE_DAYS = 365
MAX_INVITE_USES = 100_000
SIGN_IN_LINK_MINUTES = 30
# Which query parameter carries the worker's id on each platform, in the order they are looked for.
PLATFORM_PARAMS = (
    ("workerId", CrowdWorker.Platform.MTURK),
    ("PROLIFIC_PID", CrowdWorker.Platform.PROLIFIC),
    ("external_id", CrowdWorker.Platform.GENERIC),
)
# What else a platform sends that the completion needs (MTurk posts the result back to turkSubmitTo).
KEPT_PARAMS = ("assignmentId", "hitId", "turkSubmitTo", "STUDY_ID", "SESSION_ID")
MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
_EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class LinkRefused(ServiceError):
    """The link was real once but may not be used now (expired, used up, withdrawn): 410 Gone."""

    http_status = 410
    code = "link_refused"


@dataclass(frozen=True)
class Joined:
    participation: Participation
    user: User
    is_new_account: bool
    is_rejoin: bool = False  # the worker had joined by this link before (back from the platform, or logged out)
    browser_key: str = ""  # for a new account: the secret the joining browser keeps (a cookie), shown once


BROWSER_KEY_COOKIE = "veil_crowd_key"
BROWSER_KEY_DAYS = 365
# The platform's id of one participation: given to that worker only, unlike the worker id.
PARTICIPATION_PARAMS = ("assignmentId", "SESSION_ID")


def invite_token(invite: Invite) -> str:
    """The part of the link that names the invite: its key and a signature over it."""
    return signing.Signer(salt=INVITE_SALT).sign(invite.key)


def invite_create(
    *,
    dataset: Dataset,
    actor,
    max_uses: int,
    expires_in_days: float,
    images_per_worker: int | None = None,
    label: str = "",
) -> Invite:
    """Make an invite link to the dataset's pool. Writes the Invite and one audit event.

    Refuses: a non-admin actor; uses outside 1..100000; expiry outside (0, 365] days; images per worker < 1.
    """
    policies.require_admin(actor, _ADMIN_WORK)
    if not isinstance(max_uses, int) or not 1 <= max_uses <= MAX_INVITE_USES:
        raise ServiceError(f"Maximum uses must be a whole number from 1 to {MAX_INVITE_USES}; got {max_uses!r}.")
    if not isinstance(expires_in_days, int | float) or not 0 < expires_in_days <= MAX_INVITE_DAYS:
        raise ServiceError(f"A link expires after more than 0 and at most {MAX_INVITE_DAYS} days.")
    if images_per_worker is not None and (not isinstance(images_per_worker, int) or images_per_worker < 1):
        raise ServiceError("Images per worker must be 1 or more, or left empty for a whole batch.")
    with transaction.atomic():
        invite = Invite.objects.create(
            dataset=dataset,
            key=secrets.token_hex(16),
            label=(label or "").strip()[:200],
            created_by=actor,
            expires_at=timezone.now() + timedelta(days=expires_in_days),
            max_uses=max_uses,
            images_per_worker=images_per_worker,
        )
        audit_record(actor=actor, verb="invite.created", obj=invite, dataset=dataset.pk, max_uses=max_uses)
    return invite


def invite_revoke(*, invite: Invite, actor) -> Invite:
    """Withdraw a link: nobody new can join by it (workers who joined keep their accounts and work).

    Refuses: a non-admin actor; a link already revoked (Conflict).
    """
    policies.require_admin(actor, _ADMIN_WORK)
    with transaction.atomic():
        invite = Invite.objects.select_for_update().get(pk=invite.pk)
        if invite.revoked_at is not None:
            raise Conflict("This link was revoked already.", code="already_revoked")
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
        audit_record(actor=actor, verb="invite.revoked", obj=invite)
    return invite


def invite_from_token(token: str, *, lock: bool = False) -> Invite:
    """The invite a link names. Refuses: NotFound for a bad signature or an unknown key; LinkRefused (410) for
    a revoked or expired link. A used-up link is checked by the caller: its workers may still come back."""
    try:
        key = signing.Signer(salt=INVITE_SALT).unsign(token or "")
    except signing.BadSignature as exc:
        raise NotFound("This link is not a valid Veil invite: check that it was copied whole.") from exc
    query = Invite.objects.select_related("dataset")
    invite = (query.select_for_update(of=("self",)) if lock else query).filter(key=key).first()
    if invite is None:
        raise NotFound("This link is not a valid Veil invite: check that it was copied whole.")
    if invite.revoked_at is not None:
        raise LinkRefused("This invite link was withdrawn by the organisers. No new work is given on it.")
    if invite.expires_at <= timezone.now():
        raise LinkRefused(f"This invite link expired on {invite.expires_at:%Y-%m-%d %H:%M} UTC.", code="expired")
    return invite


def worker_identity(params: Mapping[str, str]) -> tuple[str, str]:
    """(platform, external id) from the link's query: MTurk's workerId, Prolific's PROLIFIC_PID or external_id.

    Refuses an id Veil cannot store safely (more than 64 characters, or characters outside letters, digits and
    . _ : -): it ends up in a pay sheet, so it must not carry markup or spreadsheet formulas.
    """
    for name, platform in PLATFORM_PARAMS:
        value = (params.get(name) or "").strip()
        if value:
            if not _EXTERNAL_ID_RE.match(value):
                raise ServiceError(
                    f"The {name} in this link is not a worker id Veil can read (letters, digits and . _ : -, "
                    "at most 64). Open the link from the platform again.",
                    code="bad_external_id",
                )
            return platform, value
    return CrowdWorker.Platform.NONE, ""


def _new_worker(*, platform: str, external_id: str, invite: Invite, browser_key: str) -> User:
    user = User(username=f"crowd-{secrets.token_hex(5)}", role=User.Role.REVIEWER)
    user.set_unusable_password()
    user.save()
    CrowdWorker.objects.create(
        user=user, platform=platform, external_id=external_id, first_invite=invite, browser_key_hash=_hash(browser_key)
    )
    audit_record(actor=None, verb="crowd_worker.created", obj=user, platform=platform, invite=invite.pk)
    return user


def _may_reach(worker: CrowdWorker, *, current_user, browser_key: str, invite: Invite, params: Mapping) -> bool:
    """Whether this request may reach `worker`'s account: a worker id is not a secret (it shows on pay sheets,
    in forums, to every requester the worker has worked for). It may when the browser is signed in as that
    account, keeps the secret set when the account was made, or brings the platform's id of a participation the
    account already has under this invite (MTurk's assignmentId, Prolific's SESSION_ID: the platform gives it
    to that worker only). Another device gets in through a one-time sign-in link made on the first one."""
    if current_user is not None and current_user.pk == worker.user_id:
        return True
    if browser_key and worker.browser_key_hash and secrets.compare_digest(_hash(browser_key), worker.browser_key_hash):
        return True
    given = {name: str(params.get(name) or "") for name in PARTICIPATION_PARAMS}
    given = {name: value for name, value in given.items() if value and value != MTURK_PREVIEW}
    if not given:
        return False
    for kept in Participation.objects.filter(invite=invite, reviewer_id=worker.user_id).values_list(
        "platform_params", flat=True
    ):
        if any(kept.get(name) == value for name, value in given.items()):
            return True
    return False


def invite_accept(*, token: str, params: Mapping[str, str], current_user=None, browser_key: str = "") -> Joined:
    """Follow an invite link: find or make the worker's account and their participation under this invite.

    One account per (platform, external id). The id alone does not reach an existing account: the browser
    must be signed in as it, keep the secret (`browser_key`) set when the account was made (a new account's
    comes back in Joined.browser_key), or bring the platform's id of that participation (_may_reach);
    otherwise Forbidden, and another device uses a one-time sign-in link. Without an id, a signed-in crowd
    worker keeps their account and anyone else gets a new one. A use of the link is counted
    once per new participation; coming back by the same link counts nothing. Writes User + CrowdWorker (new
    worker), Participation, Invite.uses, audit events.

    Refuses: NotFound (tampered or unknown link), LinkRefused 410 (revoked, expired, used up), ServiceError
    (unreadable worker id), Conflict when an admin or a password reviewer is signed in in this browser,
    Forbidden for a worker id whose account this browser cannot show is theirs.
    """
    platform, external_id = worker_identity(params)
    if current_user is not None and current_user.is_authenticated and not policies.is_crowd_worker(current_user):
        raise Conflict(
            f"You are signed in as {current_user.username}. An invite link makes a new crowd account: log out "
            "first, or open the link in a private window.",
            code="signed_in",
        )
    kept = {name: str(params[name])[:200] for name in KEPT_PARAMS if params.get(name)}
    with transaction.atomic():
        invite = invite_from_token(token, lock=True)
        user = None
        if external_id:
            worker = CrowdWorker.objects.select_related("user").filter(platform=platform, external_id=external_id)
            found = worker.first()
            user = found.user if found else None
            if found is not None and not _may_reach(
                found, current_user=current_user, browser_key=browser_key, invite=invite, params=params
            ):
                raise Forbidden(
                    "This worker id already has a Veil account, started in another browser. Continue in that "
                    "browser, or there open your study page and make a one-time sign-in link for this device.",
                    code="other_browser",
                )
        elif current_user is not None and policies.is_crowd_worker(current_user):
            user = current_user
        if user is not None and not user.is_active:
            raise Forbidden("This account was switched off by the organisers.", code="inactive")
        participation = Participation.objects.filter(invite=invite, reviewer=user).first() if user else None
        if participation is not None:
            if kept:
                participation.platform_params = {**participation.platform_params, **kept}
                participation.save(update_fields=["platform_params"])
            return Joined(participation=participation, user=user, is_new_account=False, is_rejoin=True)
        if invite.uses >= invite.max_uses:
            raise LinkRefused(
                f"This invite link has been used {invite.uses} times, its limit. No places are left.", code="used_up"
            )
        is_new = user is None
        new_key = ""
        if is_new:
            new_key = secrets.token_urlsafe(32)
            try:
                with transaction.atomic():
                    user = _new_worker(platform=platform, external_id=external_id, invite=invite, browser_key=new_key)
            except IntegrityError as exc:  # the same worker id joined in another request a moment ago
                raise Conflict("This worker id is joining in another window; reload this page.") from exc
        participation = Participation.objects.create(invite=invite, reviewer=user, platform_params=kept)
        Invite.objects.filter(pk=invite.pk).update(uses=F("uses") + 1)
        audit_record(actor=user, verb="invite.accepted", obj=participation, invite=invite.pk, new_account=is_new)
    return Joined(participation=participation, user=user, is_new_account=is_new, browser_key=new_key)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in_link_create(*, user) -> str:
    """A one-time token to sign a crowd worker in from another device, valid 30 minutes. Stores only its hash.

    Refuses (Forbidden) anyone but an active crowd worker: password accounts sign in with their password.
    """
    if not policies.is_crowd_worker(user):
        raise Forbidden("Sign-in links are for crowd accounts; sign in with your password.")
    token = secrets.token_urlsafe(32)
    SignInLink.objects.create(
        user=user, token_hash=_hash(token), expires_at=timezone.now() + timedelta(minutes=SIGN_IN_LINK_MINUTES)
    )
    audit_record(actor=user, verb="sign_in_link.created", obj=user)
    return token


def sign_in_link_use(*, token: str) -> User:
    """Spend a sign-in token: marks it used and returns its user. Refuses: NotFound for an unknown token;
    LinkRefused (410) for one used already or expired, or whose account is no longer active."""
    with transaction.atomic():
        link = SignInLink.objects.select_for_update().select_related("user").filter(token_hash=_hash(token)).first()
        if link is None:
            raise NotFound("This sign-in link is not valid: check that it was copied whole.")
        if link.used_at is not None:
            raise LinkRefused("This sign-in link was used already; each one works once. Make a new one.", code="used")
        if link.expires_at <= timezone.now():
            raise LinkRefused("This sign-in link expired; make a new one from your other device.", code="expired")
        if not policies.is_crowd_worker(link.user):
            raise LinkRefused("This account was switched off by the organisers.", code="inactive")
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
        audit_record(actor=link.user, verb="sign_in_link.used", obj=link.user)
    return link.user
