"""Tokens for scripts: made on a page or through the API, shown once, stored as a hash, revocable; a
deactivated user's tokens stop working; sessions keep CSRF."""

import hashlib

import pytest
from django.test import Client

from reviewer.models import ApiToken, AuditEvent, Dataset
from reviewer.services.tokens import token_create
from tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_a_token_is_stored_only_as_its_hash_and_works_without_csrf(admin_user):
    _token, secret = token_create(owner=admin_user, name="nightly import")
    row = ApiToken.objects.get()
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(list(ApiToken.objects.values()))
    assert secret.startswith(row.prefix)
    assert len(row.prefix) == 12
    assert "veil_" in secret
    assert len(secret) > 40

    client = Client(enforce_csrf_checks=True)  # a script: no cookie, no CSRF header
    created = client.post("/api/v1/datasets/", {"name": "by-script"}, content_type="application/json", **bearer(secret))
    assert created.status_code == 201
    assert Dataset.objects.get().created_by == admin_user
    row.refresh_from_db()
    assert row.last_used_at is not None
    assert client.get("/api/v1/me/", **bearer(secret)).json()["username"] == admin_user.username


def test_unknown_revoked_and_deactivated_tokens_get_401(admin_user):
    client = Client()
    assert client.get("/api/v1/me/", **bearer("veil_not-a-real-token")).status_code == 401
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer").status_code == 401
    _, secret = token_create(owner=admin_user, name="a")
    token, other = token_create(owner=admin_user, name="b")
    client.force_login(admin_user)
    revoked = client.post(f"/api/v1/tokens/{token.pk}/revoke/")
    assert revoked.status_code == 200
    assert revoked.json()["is_revoked"] is True
    client.logout()
    response = client.get("/api/v1/me/", **bearer(other))
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert "revoked" in response.json()["detail"]
    assert client.get("/api/v1/me/", **bearer(secret)).status_code == 200

    admin_user.is_active = False
    admin_user.save()
    assert client.get("/api/v1/me/", **bearer(secret)).status_code == 401


def test_tokens_api_shows_the_secret_once_and_only_my_tokens(reviewer_client, reviewer_user):
    someone = AdminFactory()
    theirs, _ = token_create(owner=someone, name="theirs")
    created = reviewer_client.post("/api/v1/tokens/", {"name": "label jobs"}, content_type="application/json")
    assert created.status_code == 201
    secret = created.json()["token"]
    listing = reviewer_client.get("/api/v1/tokens/").json()["results"]
    assert [t["name"] for t in listing] == ["label jobs"]
    assert "token" not in listing[0]
    assert secret not in str(listing)
    # Someone else's token: the same 404 as a missing one, and it stays live.
    assert reviewer_client.post(f"/api/v1/tokens/{theirs.pk}/revoke/").status_code == 404
    assert reviewer_client.post("/api/v1/tokens/999999/revoke/").json()["detail"] == "No such token."
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    # A reviewer's token has a reviewer's rights.
    assert Client().get("/api/v1/datasets/", **bearer(secret)).status_code == 403
    assert AuditEvent.objects.filter(verb="token.created", actor=reviewer_user).count() == 1


@pytest.mark.parametrize("name", ["", "  ", "x" * 101, "a\x00b"])
def test_token_names_are_checked(reviewer_client, name):
    response = reviewer_client.post("/api/v1/tokens/", {"name": name}, content_type="application/json")
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_the_tokens_page_creates_shows_once_and_revokes(client):
    user = UserFactory(username="scripter")
    client.force_login(user)
    page = client.get("/account/tokens/")
    assert page.status_code == 200
    assert b"No token yet." in page.content

    made = client.post("/account/tokens/", {"name": "my laptop"})
    assert made.status_code == 200
    assert made["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(owner=user)
    secret = made.content.decode().split('<code id="token-secret">')[1].split("</code>")[0]
    assert hashlib.sha256(secret.encode()).hexdigest() == token.token_hash
    again = client.get("/account/tokens/")
    assert b"my laptop" in again.content
    assert secret.encode() not in again.content

    assert Client().get("/api/v1/me/", **bearer(secret)).status_code == 200
    revoked = client.post(f"/account/tokens/{token.pk}/revoke")
    assert revoked.status_code == 302
    assert Client().get("/api/v1/me/", **bearer(secret)).status_code == 401
    assert client.post("/account/tokens/", {"name": ""}).status_code == 400


def test_the_tokens_page_needs_a_login_and_csrf(client, reviewer_user):
    assert client.get("/account/tokens/")["Location"].startswith("/accounts/login/")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(reviewer_user)
    assert strict.post("/account/tokens/", {"name": "x"}).status_code == 403
    assert not ApiToken.objects.exists()
