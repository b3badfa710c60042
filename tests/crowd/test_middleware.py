"""Only crowd pages (and the review page, for crowd workers) may be framed, by the configured origins; over
HTTPS a crowd login sets cookies a platform's frame may send (crowd/middleware.py)."""

import pytest
from django.test import Client

from tests.crowd.clients import join_url, joined_client
from tests.factories import AssignmentFactory, InviteFactory, UserFactory, crowd_study

pytestmark = pytest.mark.django_db


def test_crowd_pages_can_be_framed_by_the_configured_origins_and_nothing_else(client, settings, admin_client):
    settings.VEIL_CROWD_FRAME_ANCESTORS = ["https://workersandbox.mturk.com"]
    dataset, _, _ = crowd_study()
    invite = InviteFactory(dataset=dataset)
    page = client.get(join_url(invite))
    policy = page["Content-Security-Policy"]
    assert policy.endswith("; frame-ancestors 'self' https://workersandbox.mturk.com")
    assert "script-src 'self'" in policy  # the rest of the policy still holds
    assert "form-action 'self' https://workersandbox.mturk.com" in policy  # MTurk's externalSubmit
    assert not page.has_header("X-Frame-Options")
    admin_page = admin_client.get(f"/datasets/{dataset.pk}/crowd/")
    assert admin_page["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in admin_page["Content-Security-Policy"]
    assert admin_client.get("/datasets/")["X-Frame-Options"] == "DENY"


def test_the_review_page_is_framable_for_crowd_workers_only(client):
    dataset, batch, _ = crowd_study(qualification_size=0)
    participation = joined_client(client, dataset)
    assert client.post(f"/crowd/studies/{participation.pk}/work").status_code == 302
    image = batch.items.first().image
    page = client.get(f"/review/batches/{batch.pk}/images/{image.pk}")
    assert page.status_code == 200
    assert not page.has_header("X-Frame-Options")
    assert 'id="rv-finish"' in page.content.decode()
    assert 'id="rv-instructions"' in page.content.decode()
    plain = UserFactory()
    AssignmentFactory(batch=batch, reviewer=plain)
    other = Client()
    other.force_login(plain)
    page = other.get(f"/review/batches/{batch.pk}/images/{image.pk}")
    assert page["X-Frame-Options"] == "DENY"
    assert 'id="rv-finish"' not in page.content.decode()


def test_over_https_a_crowd_login_sets_cookies_a_third_party_frame_may_send(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    dataset, _, _ = crowd_study()
    invite = InviteFactory(dataset=dataset)
    response = client.post(join_url(invite), HTTP_X_FORWARDED_PROTO="https")
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["samesite"] == "None"
    assert session["secure"] is True
    plain = client.post(join_url(InviteFactory(dataset=dataset), "PROLIFIC_PID=p2"))  # plain http: left alone
    assert plain.cookies[settings.SESSION_COOKIE_NAME]["samesite"] == "Lax"
