"""Invite links and crowd accounts: one account per worker id, uses counted once, hostile links refused."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crowd.models import CrowdWorker, Invite, Participation, SignInLink
from crowd.services.onboarding import (
    LinkRefused,
    invite_accept,
    invite_create,
    invite_revoke,
    invite_token,
    sign_in_link_create,
    sign_in_link_use,
)
from reviewer.errors import Conflict, Forbidden, NotFound, ServiceError
from reviewer.models import User
from tests.factories import AdminFactory, DatasetFactory, InviteFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_invite_create_writes_a_link_that_names_the_invite():
    admin = AdminFactory()
    invite = invite_create(dataset=DatasetFactory(), actor=admin, max_uses=5, expires_in_days=3, images_per_worker=4)
    assert invite.max_uses == 5
    assert invite.uses == 0
    assert invite.images_per_worker == 4
    assert timedelta(days=2, hours=23) < invite.expires_at - timezone.now() <= timedelta(days=3)
    token = invite_token(invite)
    assert token.startswith(invite.key + ":")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"max_uses": 0, "expires_in_days": 1}, "Maximum uses"),
        ({"max_uses": 5, "expires_in_days": 0}, "expires after"),
        ({"max_uses": 5, "expires_in_days": 400}, "365"),
        ({"max_uses": 5, "expires_in_days": 1, "images_per_worker": 0}, "Images per worker"),
    ],
)
def test_invite_create_refuses_bad_numbers(kwargs, words):
    with pytest.raises(ServiceError, match=words):
        invite_create(dataset=DatasetFactory(), actor=AdminFactory(), **kwargs)
    assert not Invite.objects.exists()


def test_a_reviewer_cannot_make_or_revoke_links():
    with pytest.raises(Forbidden):
        invite_create(dataset=DatasetFactory(), actor=UserFactory(), max_uses=5, expires_in_days=1)
    invite = InviteFactory()
    with pytest.raises(Forbidden):
        invite_revoke(invite=invite, actor=UserFactory())
    invite.refresh_from_db()
    assert invite.revoked_at is None


def test_accept_with_a_prolific_id_makes_a_passwordless_reviewer():
    invite = InviteFactory()
    joined = invite_accept(token=invite_token(invite), params={"PROLIFIC_PID": "5f1a2b3c", "STUDY_ID": "s1"})
    user = joined.user
    assert joined.is_new_account
    assert user.role == User.Role.REVIEWER
    assert not user.has_usable_password()
    assert user.username.startswith("crowd-")
    assert "5f1a2b3c" not in user.username
    assert (user.crowd_worker.platform, user.crowd_worker.external_id) == ("prolific", "5f1a2b3c")
    assert joined.participation.platform_params == {"STUDY_ID": "s1"}
    invite.refresh_from_db()
    assert invite.uses == 1


def test_the_same_worker_id_reaches_the_same_account_by_any_link():
    first, second = InviteFactory(), InviteFactory()
    a = invite_accept(token=invite_token(first), params={"PROLIFIC_PID": "abc123"})
    key = a.browser_key  # the joining browser keeps it
    again = invite_accept(token=invite_token(first), params={"PROLIFIC_PID": "abc123"}, browser_key=key)
    b = invite_accept(token=invite_token(second), params={"PROLIFIC_PID": "abc123"}, browser_key=key)
    assert a.user == again.user == b.user
    assert again.participation == a.participation
    assert not again.is_new_account
    assert b.participation != a.participation
    assert CrowdWorker.objects.count() == 1
    first.refresh_from_db()
    assert first.uses == 1  # coming back by the same link spends nothing
    # The same id on another platform is another person.
    mturk = invite_accept(token=invite_token(first), params={"workerId": "abc123"})
    assert mturk.user != a.user
    assert mturk.user.crowd_worker.platform == "mturk"


def test_without_an_id_a_signed_in_worker_keeps_their_account_and_others_get_new_ones():
    invite = InviteFactory()
    a = invite_accept(token=invite_token(invite), params={})
    same = invite_accept(token=invite_token(invite), params={}, current_user=a.user)
    other = invite_accept(token=invite_token(invite), params={})
    assert same.user == a.user
    assert other.user != a.user
    assert a.user.crowd_worker.platform == "none"


def test_a_tampered_or_unknown_link_is_not_found():
    invite = InviteFactory()
    token = invite_token(invite)
    key, signature = token.split(":")
    for bad in (f"{key}:{signature[:-1]}x", f"{'f' * 32}:{signature}", key, "", "::"):
        with pytest.raises(NotFound, match="not a valid Veil invite"):
            invite_accept(token=bad, params={"PROLIFIC_PID": "p1"})
    assert not User.objects.filter(crowd_worker__isnull=False).exists()


def test_expired_revoked_and_used_up_links_are_gone():
    expired = InviteFactory(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(LinkRefused, match="expired") as exc:
        invite_accept(token=invite_token(expired), params={})
    assert exc.value.http_status == 410
    revoked = invite_revoke(invite=InviteFactory(), actor=AdminFactory())
    with pytest.raises(LinkRefused, match="withdrawn"):
        invite_accept(token=invite_token(revoked), params={})
    full = InviteFactory(max_uses=1)
    first = invite_accept(token=invite_token(full), params={"external_id": "w-1"})
    with pytest.raises(LinkRefused, match="limit"):
        invite_accept(token=invite_token(full), params={"external_id": "w-2"})
    # The worker who took the last place can still come back by it.
    back = invite_accept(token=invite_token(full), params={"external_id": "w-1"}, browser_key=first.browser_key)
    assert back.user == first.user
    assert Participation.objects.count() == 1


def test_revoking_twice_is_a_conflict():
    invite = InviteFactory()
    invite_revoke(invite=invite, actor=AdminFactory())
    with pytest.raises(Conflict):
        invite_revoke(invite=invite, actor=AdminFactory())


@pytest.mark.parametrize("bad", ["=HYPERLINK(1)", "<script>", "a" * 65, "x y", "-1+2"])
def test_an_unreadable_worker_id_is_refused(bad):
    with pytest.raises(ServiceError, match="not a worker id"):
        invite_accept(token=invite_token(InviteFactory()), params={"PROLIFIC_PID": bad})
    assert not CrowdWorker.objects.exists()


def test_an_admin_or_password_reviewer_signed_in_is_not_turned_into_a_crowd_worker():
    invite = InviteFactory()
    for user in (AdminFactory(), UserFactory()):
        with pytest.raises(Conflict, match="log out first"):
            invite_accept(token=invite_token(invite), params={}, current_user=user)
    invite.refresh_from_db()
    assert invite.uses == 0


def test_an_inactive_worker_cannot_come_back():
    invite = InviteFactory()
    joined = invite_accept(token=invite_token(invite), params={"PROLIFIC_PID": "p9"})
    User.objects.filter(pk=joined.user.pk).update(is_active=False)
    with pytest.raises(Forbidden):
        invite_accept(token=invite_token(InviteFactory()), params={"PROLIFIC_PID": "p9"})


def test_a_sign_in_link_works_once():
    user = invite_accept(token=invite_token(InviteFactory()), params={}).user
    token = sign_in_link_create(user=user)
    assert sign_in_link_use(token=token) == user
    with pytest.raises(LinkRefused, match="used already"):
        sign_in_link_use(token=token)
    with pytest.raises(NotFound):
        sign_in_link_use(token=token + "x")


def test_a_sign_in_link_expires_and_is_only_for_crowd_accounts():
    user = invite_accept(token=invite_token(InviteFactory()), params={}).user
    token = sign_in_link_create(user=user)

    SignInLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(LinkRefused, match="expired"):
        sign_in_link_use(token=token)
    for other in (UserFactory(), AdminFactory()):
        with pytest.raises(Forbidden):
            sign_in_link_create(user=other)


def test_a_worker_id_alone_reaches_no_account_the_browser_key_or_that_participations_session_does():
    invite = InviteFactory()
    first = invite_accept(token=invite_token(invite), params={"PROLIFIC_PID": "p77", "SESSION_ID": "s-1"})
    assert len(first.browser_key) >= 40
    assert first.user.crowd_worker.browser_key_hash != first.browser_key  # only its hash is kept
    for params, key in (
        ({"PROLIFIC_PID": "p77"}, ""),
        ({"PROLIFIC_PID": "p77"}, "a-guess"),
        ({"PROLIFIC_PID": "p77", "SESSION_ID": "s-2"}, ""),
    ):
        with pytest.raises(Forbidden, match="started in another browser"):
            invite_accept(token=invite_token(invite), params=params, browser_key=key)
    by_session = invite_accept(token=invite_token(invite), params={"PROLIFIC_PID": "p77", "SESSION_ID": "s-1"})
    signed_in = invite_accept(
        token=invite_token(InviteFactory()), params={"PROLIFIC_PID": "p77"}, current_user=first.user
    )
    assert by_session.user == signed_in.user == first.user
    assert (by_session.browser_key, signed_in.browser_key) == ("", "")
