"""config.sessions: Django's database sessions with a compiled read keep Django's rules for expiry and logout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_session_signs_in_until_it_expires_or_is_deleted(client):
    client.force_login(UserFactory())
    assert client.get("/api/v1/review/batches/").status_code == 200
    key = client.cookies["sessionid"].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/review/batches/").status_code == 401  # expired: anonymous, told to sign in

    client.force_login(UserFactory())
    assert client.get("/api/v1/review/batches/").status_code == 200
    Session.objects.filter(session_key=client.cookies["sessionid"].value).delete()  # logged out elsewhere
    assert client.get("/api/v1/review/batches/").status_code == 401


def test_logout_ends_the_session_for_every_later_request(client):
    client.force_login(UserFactory())
    key = client.cookies["sessionid"].value
    client.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=key).exists()
    client.cookies["sessionid"] = key  # a copy of the old cookie, replayed
    assert client.get("/api/v1/review/batches/").status_code == 401
