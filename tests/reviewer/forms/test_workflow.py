"""The workflow pages' forms: each refusal reaches the page with words that say what to fix, and writes nothing."""

import pytest
from django.urls import reverse

from reviewer.imaging.geometry import Box
from reviewer.models import Approval, Assignment, AuditEvent, Batch, Image
from tests.factories import BatchFactory, DatasetFactory, GoldBoxFactory, ImageFactory, UserFactory, make_review

pytestmark = pytest.mark.django_db


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({}, "Batch size must be a whole number from 1 to 100000."),
        ({"size": "200000"}, "Batch size must be a whole number from 1 to 100000."),
        ({"size": "5", "gold_per_batch": "-1"}, "Gold images per batch must be 0 or more."),
        ({"size": "5", "gold_per_batch": "two"}, "Batch size and gold images per batch must be whole numbers."),
    ],
)
def test_batch_form_refusals(admin_client, data, text):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    response = admin_client.post(reverse("workflow-batches-create", args=[dataset.pk]), data, follow=True)
    assert messages_of(response) == [text]
    assert not Batch.objects.exists()


def test_assigning_an_unknown_or_no_reviewer_is_refused(admin_client):
    batch = BatchFactory()
    url = reverse("workflow-batch-assign", args=[batch.pk])
    assert messages_of(admin_client.post(url, {}, follow=True)) == ["Choose at least one reviewer."]
    assert messages_of(admin_client.post(url, {"reviewers": ["999999"]}, follow=True)) == [
        "There is no user with id 999999."
    ]
    assert messages_of(admin_client.post(url, {"reviewers": ["ann"]}, follow=True)) == ["“ann” is not a user id."]
    robin = reverse("workflow-assign-round-robin", args=[batch.dataset_id])
    rita = UserFactory()
    response = admin_client.post(robin, {"reviewers": [rita.pk], "k": "0"}, follow=True)
    assert messages_of(response) == ["Each batch needs at least one reviewer."]
    assert not Assignment.objects.exists()


def test_approve_form_refuses_a_bad_box_line_and_an_empty_list_means_no_face(admin_client):
    image = ImageFactory(status=Image.Status.REVIEWED)
    make_review(image, UserFactory(), (10, 8, 30, 32))
    url = reverse("workflow-approve-image", args=[image.pk])
    response = admin_client.post(url, {"boxes": "10, 8, 30, 32\n1, 2, three, 4"}, follow=True)
    assert messages_of(response)[0].startswith("Line 2: ")
    assert not Approval.objects.exists()
    response = admin_client.post(url, {"boxes": "", "revision": "x"}, follow=True)
    assert messages_of(response) == ["Bad image revision."]
    admin_client.post(url, {"boxes": ""}, follow=True)
    approval = Approval.objects.get(image=image)
    assert list(approval.boxes.all()) == []


def test_approve_many_without_images_says_so(admin_client):
    dataset = DatasetFactory()
    response = admin_client.post(reverse("workflow-approve-images", args=[dataset.pk]), {"image": ["x:y"]}, follow=True)
    assert messages_of(response) == ["No image was chosen to approve."]


def test_send_back_reason_is_bounded(admin_client):
    image = ImageFactory(status=Image.Status.REVIEWED)
    make_review(image, UserFactory())
    response = admin_client.post(reverse("workflow-send-back", args=[image.pk]), {"reason": "x" * 1001}, follow=True)
    assert messages_of(response) == ["Keep the reason under 1000 characters."]
    assert Image.objects.get(pk=image.pk).status == Image.Status.REVIEWED
    assert not AuditEvent.objects.filter(verb="image.sent_back").exists()


def test_gold_mark_needs_an_image_and_typed_boxes_are_parsed(admin_client):
    dataset = DatasetFactory()
    image = ImageFactory(dataset=dataset, relative_path="g.jpg")
    url = reverse("workflow-gold-mark", args=[dataset.pk])
    response = admin_client.post(url, {"use": "typed", "boxes": "1,1,10,10"}, follow=True)
    assert messages_of(response) == ["Give the image's id or its path in the dataset."]
    response = admin_client.post(url, {"relative_path": "g.jpg", "use": "typed", "boxes": "1 1 10 10"}, follow=True)
    assert messages_of(response) == ["g.jpg is now a gold image."]
    assert [b.box for b in image.gold_boxes.all()] == [Box(1, 1, 10, 10)]


def test_a_blank_gold_per_batch_takes_the_datasets_setting(admin_client):
    dataset = DatasetFactory(gold_per_batch=1)
    for n in range(4):
        ImageFactory(dataset=dataset, relative_path=f"{n}.jpg")
    GoldBoxFactory(image__dataset=dataset, image__relative_path="gold.jpg")
    page = admin_client.get(reverse("workflow-batches", args=[dataset.pk])).content.decode()
    assert 'name="gold_per_batch" min="0" value="1"' in page
    admin_client.post(reverse("workflow-batches-create", args=[dataset.pk]), {"size": "2", "gold_per_batch": ""})
    assert [b.items.count() for b in Batch.objects.order_by("id")] == [3, 3]  # 2 images + 1 gold each
