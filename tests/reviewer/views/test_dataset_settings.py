import pytest
from django.urls import reverse

from reviewer.models import Assignment, AuditEvent, Dataset, Image
from tests.factories import AssignmentFactory, BatchFactory, BatchItemFactory, DatasetFactory, UserFactory, make_review

pytestmark = pytest.mark.django_db

VALID = {"reviews_required": 1, "gold_per_batch": 0, "lease_seconds": "", "release_bound": 0.02, "audit_rate": 0.02}


def test_settings_page_is_for_admins(client, reviewer_user):
    dataset = DatasetFactory()
    url = reverse("dataset-settings", args=[dataset.pk])
    assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(reviewer_user)
    assert client.get(url).status_code == 403
    assert client.post(url, {**VALID, "reviews_required": 3}).status_code == 403
    dataset.refresh_from_db()
    assert dataset.reviews_required == 1


def test_settings_page_shows_the_current_values(admin_client, django_assert_max_num_queries):
    dataset = DatasetFactory(reviews_required=3, lease_seconds=120, release_bound=0.05)
    UserFactory(username="rita")
    with django_assert_max_num_queries(6):
        response = admin_client.get(reverse("dataset-settings", args=[dataset.pk]))
    html = response.content.decode()
    assert 'name="reviews_required" value="3"' in html
    assert 'name="lease_seconds" value="120"' in html
    assert 'name="release_bound" value="0.05"' in html
    assert "rita" in html


def test_saving_settings_writes_them_and_the_audit(admin_client):
    dataset = DatasetFactory()
    response = admin_client.post(
        reverse("dataset-settings", args=[dataset.pk]),
        {**VALID, "gold_per_batch": 2, "lease_seconds": 600, "audit_rate": 0.1},
        follow=True,
    )
    dataset.refresh_from_db()
    assert (dataset.gold_per_batch, dataset.lease_seconds, dataset.audit_rate) == (2, 600, 0.1)
    text = response.content.decode()
    assert "Saved: gold per batch 0 → 2; lease length default → 600; audit rate 0.02 → 0.1." in text
    event = AuditEvent.objects.get(verb="dataset.settings_changed")
    assert event.dataset_id == dataset.pk
    assert event.data["changes"]["lease_seconds"] == {"before": None, "after": 600}


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("reviews_required", 0, "Reviews per image must be at least 1."),
        ("reviews_required", 11, "Reviews per image must be at most 10."),
        ("reviews_required", "two", "Enter a whole number."),
        ("gold_per_batch", -1, "Gold images per batch must be 0 or more."),
        ("lease_seconds", 5, "A lease lasts at least 30 seconds."),
        ("release_bound", 2, "The release bound is a share from 0 to 1 (0.02 is 2 %)."),
        ("audit_rate", -0.5, "The audit rate is a share from 0 to 1."),
    ],
)
def test_bad_settings_are_refused_beside_their_field(admin_client, field, value, text):
    dataset = DatasetFactory()
    response = admin_client.post(reverse("dataset-settings", args=[dataset.pk]), {**VALID, field: value})
    assert response.status_code == 400
    assert f'data-field="{field}">{text}</span>' in response.content.decode()
    assert Dataset.objects.get(pk=dataset.pk).reviews_required == 1
    assert not AuditEvent.objects.filter(verb="dataset.settings_changed").exists()


def test_raising_k_reopens_reviewed_images_and_gives_the_batch_to_a_second_reviewer(admin_client):
    dataset = DatasetFactory()
    first, second = UserFactory(username="first"), UserFactory(username="second")
    batch = BatchFactory(dataset=dataset, name="b-001")
    images = [BatchItemFactory(batch=batch, image__status=Image.Status.REVIEWED).image for _ in range(3)]
    AssignmentFactory(batch=batch, reviewer=first)
    for image in images:
        make_review(image, first, (1, 1, 10, 10))
    revisions = [i.revision for i in images]
    response = admin_client.post(
        reverse("dataset-settings", args=[dataset.pk]),
        {**VALID, "reviews_required": 2, "reviewers": [first.pk, second.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "reviews per image 1 → 2" in text
    assert "3 images back in review for more reviews." in text
    assert "Batches given: b-001 to second." in text
    for image, before in zip(images, revisions, strict=True):
        image.refresh_from_db()
        assert image.status == Image.Status.IN_REVIEW
        assert image.revision == before + 1
    assert Assignment.objects.filter(batch=batch, reviewer=second, status=Assignment.Status.ACTIVE).exists()


def test_raising_k_without_reviewers_warns_about_the_short_batches(admin_client):
    dataset = DatasetFactory()
    batch = BatchFactory(dataset=dataset)
    BatchItemFactory(batch=batch, image__status=Image.Status.DETECTED)
    AssignmentFactory(batch=batch)
    response = admin_client.post(
        reverse("dataset-settings", args=[dataset.pk]), {**VALID, "reviews_required": 2}, follow=True
    )
    assert "1 open batch has fewer than 2 reviewers: choose reviewers below" in response.content.decode()


def test_more_reviewers_wanted_than_chosen_is_refused_on_the_form(admin_client):
    dataset = DatasetFactory()
    rita = UserFactory(username="rita")
    BatchItemFactory(batch=BatchFactory(dataset=dataset), image__status=Image.Status.DETECTED)
    response = admin_client.post(
        reverse("dataset-settings", args=[dataset.pk]), {**VALID, "reviews_required": 2, "reviewers": [rita.pk]}
    )
    assert response.status_code == 400
    assert "Each batch needs 2 different reviewers but 1 were given." in response.content.decode()
    assert Dataset.objects.get(pk=dataset.pk).reviews_required == 1
