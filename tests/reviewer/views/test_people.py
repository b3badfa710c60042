import re
from html import escape

import pytest
from django.test import Client
from django.urls import reverse

from reviewer.models import AuditEvent, Lease, User
from tests.factories import AdminFactory, ImageFactory, UserFactory

pytestmark = pytest.mark.django_db


def logs_in(client, username, password) -> bool:
    """Through the login page, as a person does (login throttling needs the request), in a client of its own
    (`client` is the very client `admin_client` logged in)."""
    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR="10.0.0.9")
    return response.status_code == 302 and "_auth_user_id" in client.session


def test_people_page_is_for_admins_only(client, reviewer_user):
    assert client.get(reverse("people"))["Location"].startswith(reverse("login"))
    client.force_login(reviewer_user)
    assert client.get(reverse("people")).status_code == 403
    assert client.post(reverse("person-create"), {"username": "x", "role": "reviewer"}).status_code == 403
    assert not User.objects.filter(username="x").exists()


def test_people_page_lists_people_with_their_state(admin_client, django_assert_max_num_queries):
    UserFactory(username="rita")
    UserFactory(username="gone", is_active=False)
    for n in range(30):
        UserFactory(username=f"crowd{n:02d}")
    with django_assert_max_num_queries(6):
        response = admin_client.get(reverse("people"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-person="rita"' in html
    assert re.search(r'data-person="gone">.*?deactivated', html, re.S)


def test_people_page_pages_by_user_name(admin_client):
    for n in range(55):
        UserFactory(username=f"crowd{n:02d}")
    first = admin_client.get(reverse("people")).content.decode()
    assert 'data-person="crowd00"' in first
    assert 'data-person="crowd49"' not in first
    nxt = re.search(r'href="\?after=([^"&]+)"', first).group(1)
    second = admin_client.get(reverse("people") + f"?after={nxt}").content.decode()
    assert "crowd54" in second
    assert 'data-person="alice-admin"' not in second


def test_creating_a_reviewer_with_a_generated_password_shows_it_once(admin_client, client):
    response = admin_client.post(reverse("person-create"), {"username": "newbie", "role": "reviewer"})
    assert response.status_code == 200
    password = re.search(r'<code class="password">([^<]+)</code>', response.content.decode()).group(1)
    user = User.objects.get(username="newbie")
    assert user.role == User.Role.REVIEWER
    assert user.check_password(password)
    assert AuditEvent.objects.filter(verb="user.created", object_id=str(user.pk)).exists()
    # Not kept for a second showing.
    assert password not in admin_client.get(reverse("people")).content.decode()
    assert logs_in(client, "newbie", password)


def test_creating_with_a_typed_password_redirects_with_a_message(admin_client):
    response = admin_client.post(
        reverse("person-create"), {"username": "boss", "role": "admin", "password": "a-Long-pass-4821"}, follow=True
    )
    assert "Admin boss created with the password you typed." in response.content.decode()
    assert User.objects.get(username="boss").is_admin


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        ({"username": "", "role": "reviewer"}, "username", "This field is required."),
        ({"username": "ALICE-ADMIN", "role": "reviewer"}, "username", "A user called 'ALICE-ADMIN' exists already."),
        ({"username": "z", "role": "boss"}, "role", "Select a valid choice. boss is not one of the available choices."),
        ({"username": "z", "role": "reviewer", "email": "nope"}, "email", "Enter a valid email address."),
    ],
)
def test_create_refusals_show_the_error_beside_the_field(admin_client, data, field, text):
    response = admin_client.post(reverse("person-create"), data)
    assert response.status_code == 400
    html = response.content.decode()
    shown = escape(text)
    assert f'data-field="{field}">{shown}</span>' in html
    assert not User.objects.filter(username="z").exists()


def test_a_weak_typed_password_is_refused_with_the_validators_words(admin_client):
    response = admin_client.post(reverse("person-create"), {"username": "z", "role": "reviewer", "password": "123"})
    assert response.status_code == 400
    assert "This password is too short." in response.content.decode()
    assert not User.objects.filter(username="z").exists()


def test_deactivate_drops_leases_and_blocks_login_then_reactivate(admin_client, client):
    rita = UserFactory(username="rita")
    Lease.objects.create(image=ImageFactory(), reviewer=rita, token="t", acquired_at="2026-01-01T00:00Z",
                         expires_at="2099-01-01T00:00Z")  # fmt: skip
    response = admin_client.post(reverse("person-action", args=[rita.pk]), {"action": "deactivate"}, follow=True)
    assert "rita deactivated: they can no longer log in." in response.content.decode()
    rita.refresh_from_db()
    assert not rita.is_active
    assert not Lease.objects.filter(reviewer=rita).exists()
    assert not logs_in(client, "rita", "review-pass-123")
    admin_client.post(reverse("person-action", args=[rita.pk]), {"action": "activate"})
    assert logs_in(client, "rita", "review-pass-123")


def test_an_admin_cannot_deactivate_themself_and_bad_actions_are_refused(admin_client, admin_user):
    response = admin_client.post(reverse("person-action", args=[admin_user.pk]), {"action": "deactivate"}, follow=True)
    assert "You cannot deactivate yourself; ask another admin." in response.content.decode()
    response = admin_client.post(reverse("person-action", args=[admin_user.pk]), {"action": "delete"}, follow=True)
    assert "Unknown action “delete”." in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.is_active
    other = AdminFactory(username="bob-admin", is_active=False)
    response = admin_client.post(reverse("person-action", args=[other.pk]), {"action": "deactivate"}, follow=True)
    assert "bob-admin is already deactivated." in response.content.decode()
    assert admin_client.post(reverse("person-action", args=[999999]), {"action": "activate"}).status_code == 404


def test_reset_password_shows_a_new_one_once_and_the_old_stops_working(admin_client, client):
    rita = UserFactory(username="rita")
    response = admin_client.post(reverse("person-action", args=[rita.pk]), {"action": "reset_password"})
    password = re.search(r'<code class="password">([^<]+)</code>', response.content.decode()).group(1)
    assert not logs_in(client, "rita", "review-pass-123")
    assert logs_in(client, "rita", password)
    event = AuditEvent.objects.get(verb="user.password_reset")
    assert password not in str(event.data)
