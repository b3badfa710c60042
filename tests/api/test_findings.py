"""Hostile inputs of the security review (issue 9): gold never told to reviewers (7), wrong types, NUL and
oversized box lists refused with 400 (11)."""

import pytest
from django.test import Client
from django.urls import reverse

from reviewer.models import Export, GoldBox, Image, Review
from tests.api.test_review import batch, images_of, post, url  # noqa: F401 - the fixture and its helpers
from tests.factories import ApprovalFactory, ApprovedBoxFactory, DatasetFactory, GoldBoxFactory, ImageFactory

pytestmark = pytest.mark.django_db

TOO_MANY = [[i % 50, 0, i % 50 + 5, 5] for i in range(2001)]


def test_next_image_does_not_tell_a_reviewer_it_is_gold(reviewer_client, batch):  # noqa: F811
    first = images_of(batch)[0]
    Image.objects.filter(pk=first.pk).update(status=Image.Status.APPROVED, is_gold=True)
    GoldBoxFactory(image=first)

    shown = post(reviewer_client, url(batch, action="next")).json()["image"]
    assert shown["id"] == first.pk
    assert (shown["status"], shown["can_save"]) == ("detected", True)
    assert "gold" not in str(shown).lower()
    assert reviewer_client.get(url(batch, first)).json()["status"] == "detected"

    saved = post(
        reviewer_client,
        url(batch, first, "/review"),
        {
            "lease_token": shown["lease"]["token"],
            "revision": shown["revision"],
            "boxes": [{"proposal": p["id"], "fate": "deleted"} for p in shown["proposals"]],
        },
    )
    assert saved.status_code == 201, saved.json()
    assert saved.json()["status"] == "reviewed"  # as an ordinary image with one review required
    assert saved.json()["gold"]["misses"] == 1  # feedback comes after the answer, as designed
    assert reviewer_client.get(url(batch, first)).json()["status"] == "reviewed"
    assert Image.objects.get(pk=first.pk).status == Image.Status.APPROVED


@pytest.fixture
def approved():
    dataset = DatasetFactory(name="fam")
    image = ImageFactory(dataset=dataset, status=Image.Status.APPROVED)
    ApprovedBoxFactory(approval=ApprovalFactory(image=image))
    return image


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"annotations": 5}, "annotations"),
        ({"annotations": "csv"}, "annotations"),
        ({"annotations": [["csv"]]}, "annotations"),
        ({"jpeg_quality": [90]}, "jpeg_quality"),
        ({"shard_size": True}, "shard_size"),
        ({"blur": ["gaussian"]}, "blur"),
        ({"archive": {"zip": 1}}, "archive"),
        ({"leak_check": "perhaps"}, "leak_check"),
    ],
)
def test_export_options_of_the_wrong_type_are_400(admin_client, approved, body, field):
    response = admin_client.post(
        reverse("api-dataset-exports", args=[approved.dataset_id]), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Export.objects.exists()


def test_unknown_export_options_are_named(admin_client, approved):
    response = admin_client.post(
        reverse("api-dataset-exports", args=[approved.dataset_id]), {"colour": "red"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Unknown export option(s): colour.", "code": "invalid_option"}


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        # A wrong value of the right shape gets the export service's sentence, as on the page
        # (tests/reviewer/forms/test_pipeline.py); numbers JSON reads as infinite or huge too, not a 500.
        ({"jpeg_quality": "high"}, "JPEG quality, shard size and leak threshold must be numbers."),
        ({"blur": "gauss\x00ian"}, "Blur must be one of gaussian, imagenet, pixelate, fill; got 'gauss\\x00ian'."),
        ('{"jpeg_quality": 1e400}', "JPEG quality, shard size and leak threshold must be numbers."),
        ({"leak_threshold": 10**400}, "The leak threshold must be between 0 and 1."),
    ],
)
def test_export_options_of_the_right_shape_but_a_wrong_value_get_the_services_sentence(
    admin_client, approved, body, sentence
):
    response = admin_client.post(
        reverse("api-dataset-exports", args=[approved.dataset_id]), body, content_type="application/json"
    )
    assert (response.status_code, response.json()) == (400, {"detail": sentence, "code": "invalid_option"})
    assert not Export.objects.exists()


def test_more_boxes_than_the_limit_are_refused_everywhere(admin_client, approved, reviewer_user, batch):  # noqa: F811
    reviewer_client = Client()
    reviewer_client.force_login(reviewer_user)
    for path in [reverse("api-image-approve", args=[approved.pk]), reverse("api-image-gold", args=[approved.pk])]:
        response = admin_client.post(path, {"boxes": TOO_MANY}, content_type="application/json")
        assert response.status_code == 400
        assert "no more than 2000" in response.json()["detail"]
    first = images_of(batch)[0]
    fates = [{"fate": "added", "box": b} for b in TOO_MANY]
    response = post(reviewer_client, url(batch, first, "/review"), {"revision": 0, "boxes": fates})
    assert response.status_code == 400
    assert not Review.objects.exists()
    assert not GoldBox.objects.exists()
    assert approved.approvals.count() == 1


def test_the_gold_page_without_boxes_is_a_message_not_a_500(admin_client, approved):
    page = reverse("workflow-gold-mark", args=[approved.dataset_id])
    response = admin_client.post(page, {"image": approved.pk, "use": "typed"}, follow=True)
    assert response.status_code == 200
    assert "Type the gold boxes, one per line" in response.content.decode()
    lines = "\n".join("1, 1, 9, 9" for _ in range(2001))
    response = admin_client.post(page, {"image": approved.pk, "use": "typed", "boxes": lines}, follow=True)
    assert "At most 2000 boxes per image." in response.content.decode()
    approved.refresh_from_db()
    assert not approved.is_gold


def test_admins_read_every_review_of_an_image_with_its_fates(admin_client, batch, reviewer_user):  # noqa: F811
    from tests.factories import make_review

    image = images_of(batch)[0]
    make_review(image, reviewer_user, (1, 2, 30, 40), is_unsure=True)
    body = admin_client.get(reverse("api-image-reviews", args=[image.pk])).json()
    assert [(r["reviewer"], r["is_unsure"], r["is_current"]) for r in body["results"]] == [
        (reviewer_user.username, True, True)
    ]
    assert body["results"][0]["boxes"] == [{"proposal": None, "fate": "added", "box": [1.0, 2.0, 30.0, 40.0]}]
