import io

import pytest
from django.test import Client
from PIL import Image as PILImage

from tests.factories import AssignmentFactory, BatchItemFactory, ImageFactory, UserFactory
from tests.images import encode, jpeg_bytes, pixels

pytestmark = pytest.mark.django_db

KINDS = ["original", "display", "thumbnail"]


@pytest.mark.parametrize("kind", KINDS)
def test_anonymous_users_are_sent_to_the_login_page(client, kind):
    image = ImageFactory()
    response = client.get(f"/images/{image.pk}/{kind}")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("kind", KINDS)
def test_a_reviewer_without_an_assignment_gets_404(reviewer_client, kind):
    image = ImageFactory()
    assert reviewer_client.get(f"/images/{image.pk}/{kind}").status_code == 404


@pytest.mark.parametrize("kind", KINDS)
def test_a_reviewer_sees_images_of_their_assignment_only(client, kind):
    item = BatchItemFactory()
    other = ImageFactory(dataset=item.batch.dataset)
    reviewer = UserFactory()
    AssignmentFactory(batch=item.batch, reviewer=reviewer)
    client.force_login(reviewer)
    assert client.get(f"/images/{item.image.pk}/{kind}").status_code == 200
    assert client.get(f"/images/{other.pk}/{kind}").status_code == 404


def test_a_revoked_assignment_closes_access(client):
    item = BatchItemFactory()
    assignment = AssignmentFactory(batch=item.batch, status="revoked")
    client.force_login(assignment.reviewer)
    assert client.get(f"/images/{item.image.pk}/original").status_code == 404


def test_admin_gets_the_original_bytes_privately(admin_client):
    data = jpeg_bytes(70, 50, seed=4)
    image = ImageFactory(content=data)
    response = admin_client.get(f"/images/{image.pk}/original")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/jpeg"
    assert "private" in response["Cache-Control"]


def test_thumbnail_is_a_small_jpeg_in_displayed_orientation(admin_client, settings):
    settings.VEIL_THUMBNAIL_SIZE = 32
    image = ImageFactory(content=jpeg_bytes(120, 60, orientation=6))  # displayed 60 x 120
    response = admin_client.get(f"/images/{image.pk}/thumbnail")
    thumb = PILImage.open(io.BytesIO(b"".join(response.streaming_content)))
    assert (thumb.format, thumb.size) == ("JPEG", (16, 32))


def test_unknown_image_is_404(admin_client):
    assert admin_client.get("/images/999999/original").status_code == 404


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_media_files_have_no_public_url(admin_user, who):
    image = ImageFactory()
    with image.file.open("rb") as f:
        original = f.read()
    client = Client()  # its own client: the `client` fixture is the one admin_client logs in
    if who == "admin":
        client.force_login(admin_user)
    for prefix in ("/media/", "/no-public-media/", "/static/../media/"):
        response = client.get(f"{prefix}{image.file.name}")
        assert response.status_code == 404
        assert original not in response.content
    assert client.get(f"/media/{image.file.name}").status_code == 404
    assert client.get(f"/no-public-media/{image.file.name}").status_code == 404


def test_a_webp_display_is_served_as_image_webp_even_before_pillow_loads_its_plugin(admin_client, monkeypatch):
    image = ImageFactory(content=encode(pixels(20, 10, seed=3), "WEBP"), relative_path="w.webp")
    monkeypatch.delitem(PILImage.MIME, "WEBP", raising=False)  # as in a fresh worker that never opened a WebP
    response = admin_client.get(f"/images/{image.pk}/display")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert b"".join(response.streaming_content)[8:12] == b"WEBP"
