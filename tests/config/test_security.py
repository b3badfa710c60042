"""Login throttling, security headers and the CSP's promise that no template runs inline script."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import AdminFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def _login(client, username, password, *, address="10.0.0.1", url=None):
    return client.post(url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_an_account_is_locked_after_five_wrong_passwords_even_from_new_addresses(client):
    UserFactory(username="rob")
    for n in range(4):
        response = _login(client, "rob", "wrong", address=f"10.0.1.{n}")
        assert response.status_code == 200  # the form again, with its error
        assert "did not match" in response.content.decode()
    assert _login(client, "rob", "wrong", address="10.0.1.8").status_code == 429  # the fifth locks
    response = _login(client, "rob", "review-pass-123", address="10.0.9.9")
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed logins" in body
    assert "for <b>rob</b>" in body
    assert "after 5 wrong passwords" in body
    assert "_auth_user_id" not in client.session


def test_an_address_is_locked_after_fifty_wrong_passwords_for_any_accounts(client):
    UserFactory(username="ann")
    for n in range(49):
        assert _login(client, f"guess{n}", "wrong", address="10.0.2.1").status_code == 200
    assert _login(client, "guess49", "wrong", address="10.0.2.1").status_code == 429  # the fiftieth locks
    assert _login(client, "ann", "review-pass-123", address="10.0.2.1").status_code == 429
    # The same account from another address is not locked: only that address is.
    response = _login(client, "ann", "review-pass-123", address="10.0.2.2")
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_one_persons_typos_lock_their_account_not_the_lab_behind_the_same_address(client):
    """A lab behind one NAT: Rob's five wrong passwords pause Rob, and Ann, at the next desk, still logs in."""
    UserFactory(username="rob")
    UserFactory(username="ann")
    for _ in range(5):
        _login(client, "rob", "wrong", address="192.0.2.7")
    assert _login(client, "rob", "review-pass-123", address="192.0.2.7").status_code == 429
    response = _login(client, "ann", "review-pass-123", address="192.0.2.7")
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_a_successful_login_resets_the_account_count(client):
    UserFactory(username="kim")
    for _ in range(4):
        _login(client, "kim", "wrong")
    assert _login(client, "kim", "review-pass-123").status_code == 302
    client.logout()
    for _ in range(4):
        _login(client, "kim", "wrong", address="10.0.3.1")
    assert _login(client, "kim", "review-pass-123", address="10.0.3.2").status_code == 302


def test_the_django_admin_login_is_throttled_too(client):
    AdminFactory(username="boss")
    url = reverse("admin:login")
    for _ in range(4):
        assert _login(client, "boss", "wrong", url=url).status_code == 200
    assert _login(client, "boss", "wrong", url=url).status_code == 429
    response = _login(client, "boss", "admin-pass-123", url=url, address="10.0.4.4")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()


def test_pages_carry_the_security_headers(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("dataset-list"))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert "unsafe-inline" not in csp.split("style-src-attr")[0]  # no inline script or style element
    assert response["Permissions-Policy"].startswith("camera=(), microphone=()")
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    login = client.get(reverse("login"))
    assert login["Content-Security-Policy"] == csp


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag:
                offenders.append(f"{template.relative_to(ROOT)}: {tag}")
        for handler in re.findall(r"\son[a-z]+\s*=", text):
            offenders.append(f"{template.relative_to(ROOT)}: {handler.strip()}")
    assert offenders == []
