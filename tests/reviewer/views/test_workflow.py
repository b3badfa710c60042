import re

import pytest
from django.urls import reverse

from reviewer.imaging.geometry import Box
from reviewer.models import Approval, Assignment, AuditEvent, Batch, GoldBox, Image, Review
from reviewer.services.assignment import image_mark_gold
from tests.factories import (
    AdminFactory,
    ApprovedBoxFactory,
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    DatasetFactory,
    ImageFactory,
    UserFactory,
    make_review,
)

pytestmark = pytest.mark.django_db


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def page_urls(dataset):
    return [
        reverse(name, args=[dataset.pk])
        for name in ("workflow-batches", "workflow-quality", "workflow-approve", "workflow-gold")
    ]


def test_anonymous_gets_the_login_page(client):
    dataset = DatasetFactory()
    for url in page_urls(dataset):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_reviewer_gets_403_on_pages_and_actions(reviewer_client):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    image = ImageFactory(dataset=dataset, status=Image.Status.REVIEWED)
    for url in page_urls(dataset):
        assert reviewer_client.get(url).status_code == 403
    posts = [
        (reverse("workflow-batches-create", args=[dataset.pk]), {"size": 10}),
        (reverse("workflow-approve-images", args=[dataset.pk]), {"all": "1"}),
        (reverse("workflow-approve-image", args=[image.pk]), {}),
        (reverse("workflow-send-back", args=[image.pk]), {}),
    ]
    for url, data in posts:
        assert reviewer_client.post(url, data).status_code == 403
    assert not Batch.objects.exists()
    assert Image.objects.get(pk=image.pk).status == Image.Status.REVIEWED


def test_unknown_ids_are_404(admin_client):
    assert admin_client.get(reverse("workflow-batches", args=[999999])).status_code == 404
    assert admin_client.post(reverse("workflow-approve-image", args=[999999])).status_code == 404
    assert admin_client.post(reverse("workflow-assignment-revoke", args=[999999])).status_code == 404


def test_cut_batches_from_the_page(admin_client):
    dataset = DatasetFactory()
    for i in range(5):
        ImageFactory(dataset=dataset, relative_path=f"{i}.jpg")

    response = admin_client.post(
        reverse("workflow-batches-create", args=[dataset.pk]),
        {"size": "2", "gold_per_batch": "0", "name_prefix": "day1", "is_pool": "1"},
        follow=True,
    )

    assert messages_of(response) == ["3 batches made: day1-001 to day1-003."]
    assert list(Batch.objects.values_list("name", "is_pool")) == [
        ("day1-001", True),
        ("day1-002", True),
        ("day1-003", True),
    ]
    assert "day1-002" in response.content.decode()


@pytest.mark.parametrize(("size", "message"), [("0", "Batch size must be a whole number"), ("x", "whole numbers")])
def test_bad_batch_size_shows_the_error(admin_client, size, message):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)

    response = admin_client.post(reverse("workflow-batches-create", args=[dataset.pk]), {"size": size}, follow=True)

    assert message in messages_of(response)[0]
    assert not Batch.objects.exists()


def test_empty_dataset_shows_why_nothing_was_cut(admin_client):
    dataset = DatasetFactory(name="nothing")

    response = admin_client.post(reverse("workflow-batches-create", args=[dataset.pk]), {"size": "5"}, follow=True)

    assert "“nothing” has no image left to put in a batch" in messages_of(response)[0]


def test_assign_round_robin_and_revoke_from_the_page(admin_client):
    dataset = DatasetFactory(reviews_required=2)
    batch = BatchFactory(dataset=dataset, name="b1")
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")

    response = admin_client.post(
        reverse("workflow-assign-round-robin", args=[dataset.pk]), {"reviewers": [ann.pk, bob.pk]}, follow=True
    )

    assert messages_of(response) == ["2 assignments made."]
    assert sorted(batch.assignments.values_list("reviewer__username", flat=True)) == ["ann", "bob"]
    assignment = batch.assignments.get(reviewer=ann)
    response = admin_client.post(reverse("workflow-assignment-revoke", args=[assignment.pk]), follow=True)
    assert messages_of(response) == ["Batch b1 taken back from ann."]
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.REVOKED


def test_assigning_to_an_admin_or_inactive_user_is_refused_on_the_page(admin_client):
    batch = BatchFactory()
    boss, gone = AdminFactory(username="boss"), UserFactory(username="gone", is_active=False)

    for user, why in ((boss, "is not a reviewer"), (gone, "is inactive")):
        response = admin_client.post(
            reverse("workflow-batch-assign", args=[batch.pk]), {"reviewers": [user.pk]}, follow=True
        )
        assert messages_of(response) == [f"User “{user.username}” {why}: only active reviewers get batches."]
    assert not Assignment.objects.exists()


def test_batches_page_shows_progress_per_reviewer(admin_client):
    item = BatchItemFactory(batch__name="b7")
    BatchItemFactory(batch=item.batch)
    rob = UserFactory(username="rob")
    AssignmentFactory(batch=item.batch, reviewer=rob)
    make_review(item.image, rob, (1, 1, 10, 10))

    response = admin_client.get(reverse("workflow-batches", args=[item.batch.dataset_id]))

    html = response.content.decode()
    row = re.search(rf'<tr data-batch="{item.batch.pk}">.*?</tr>', html, re.S).group(0)
    assert "b7" in row
    assert re.search(r"rob\s+1 / 2", row)


def test_quality_page_shows_gold_misses_scored_when_the_image_became_gold(admin_client, admin_user):
    image = ImageFactory(status=Image.Status.REVIEWED)
    item = BatchItemFactory(image=image, batch__dataset=image.dataset, batch__name="g1")
    rob = UserFactory(username="rob")
    AssignmentFactory(batch=item.batch, reviewer=rob)
    make_review(image, rob, (40, 5, 60, 25), seconds_spent=12, is_unsure=True)  # will miss the face, one extra
    image_mark_gold(image=image, actor=admin_user, boxes=[Box(10, 10, 30, 30)])
    gold = image.gold_boxes.get()

    response = admin_client.get(reverse("workflow-quality", args=[gold.image.dataset_id]))

    html = response.content.decode()
    row = re.search(r'<tr data-reviewer="rob">.*?</tr>', html, re.S).group(0)
    cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[0] == "rob"
    assert cells[2].startswith("1 / 1")
    assert cells[3] == "12.0 s"
    assert cells[4] == "100 % (1 missed, 1 extra, 1 gold)"
    assert cells[5] == "1"


def test_approval_queue_lists_unsure_first_with_boxes_in_original_pixels(admin_client):
    dataset = DatasetFactory()
    calm = ImageFactory(dataset=dataset, relative_path="a.jpg", status=Image.Status.REVIEWED)
    unsure = ImageFactory(dataset=dataset, relative_path="b.jpg", status=Image.Status.REVIEWED)
    ImageFactory(dataset=dataset, relative_path="c.jpg", status=Image.Status.IN_REVIEW)
    make_review(calm, UserFactory(), (10, 8, 30, 32))
    make_review(unsure, UserFactory(), (1.5, 2, 20, 22.25), is_unsure=True)

    response = admin_client.get(reverse("workflow-approve", args=[dataset.pk]))

    html = response.content.decode()
    order = re.findall(r'<figure class="[^"]*" data-image="(\d+)"', html)
    assert order == [str(unsure.pk), str(calm.pk)]
    assert 'viewBox="0 0 64 48"' in html
    assert '<rect class="box" x="1.50" y="2.00" width="18.50" height="20.25">' in html
    assert reverse("image-thumbnail", args=[calm.pk]) in html
    assert "c.jpg" not in html


def test_approve_one_image_from_the_page(admin_client):
    image = ImageFactory(status=Image.Status.REVIEWED, revision=2, relative_path="one.jpg")
    make_review(image, UserFactory(), (10, 8, 30, 32))

    response = admin_client.post(reverse("workflow-approve-image", args=[image.pk]), {"revision": "2", "after": "3"})

    assert response.status_code == 302
    assert response["Location"].endswith("?after=3")  # back to the page of the queue it was approved from
    approval = Approval.objects.get(image=image, is_current=True)
    assert [b.box.as_list() for b in approval.boxes.all()] == [[10, 8, 30, 32]]


def test_approving_an_image_that_is_not_reviewed_shows_an_error(admin_client):
    image = ImageFactory(status=Image.Status.IN_REVIEW, relative_path="half.jpg")

    response = admin_client.post(reverse("workflow-approve-image", args=[image.pk]), follow=True)

    assert messages_of(response)[0].startswith("half.jpg is not reviewed yet (status: In review)")
    assert not Approval.objects.exists()


def test_stale_approval_from_an_old_page_is_refused(admin_client):
    image = ImageFactory(status=Image.Status.REVIEWED, revision=5)
    make_review(image, UserFactory(), (10, 8, 30, 32))

    response = admin_client.post(reverse("workflow-approve-image", args=[image.pk]), {"revision": "4"}, follow=True)

    assert "changed since you loaded it" in messages_of(response)[0]
    assert not Approval.objects.exists()


def test_approve_page_and_all_remaining(admin_client):
    dataset = DatasetFactory()
    images = [ImageFactory(dataset=dataset, status=Image.Status.REVIEWED) for _ in range(4)]
    for image in images:
        make_review(image, UserFactory(), has_no_faces=True)
    url = reverse("workflow-approve-images", args=[dataset.pk])

    response = admin_client.post(url, {"image": [images[0].pk, images[1].pk]}, follow=True)
    assert messages_of(response) == ["Approved 2 images."]
    response = admin_client.post(url, {"all": "1"}, follow=True)
    assert messages_of(response) == ["Approved 2 images."]

    assert set(Image.objects.values_list("status", flat=True)) == {Image.Status.APPROVED}
    assert not ApprovedBoxFactory._meta.model.objects.exists()  # "no faces here" everywhere: zero boxes


def test_send_back_from_the_approved_tab(admin_client):
    box = ApprovedBoxFactory()
    image = box.approval.image
    make_review(image, UserFactory(), (10, 8, 30, 32))

    page = admin_client.get(reverse("workflow-approve", args=[image.dataset_id]) + "?show=approved")
    assert f'data-image="{image.pk}"' in page.content.decode()
    response = admin_client.post(reverse("workflow-send-back", args=[image.pk]), {"show": "approved"})

    assert response["Location"].endswith("?show=approved")
    image.refresh_from_db()
    assert image.status == Image.Status.NEW
    assert not Approval.objects.filter(image=image, is_current=True).exists()
    assert not Review.objects.filter(image=image, is_current=True).exists()
    assert AuditEvent.objects.filter(verb="image.sent_back", actor__username="alice-admin").exists()


def test_mark_gold_with_typed_boxes_and_unmark(admin_client):
    image = ImageFactory(relative_path="faces/g.jpg")
    url = reverse("workflow-gold-mark", args=[image.dataset_id])

    response = admin_client.post(
        url, {"relative_path": "faces/g.jpg", "use": "typed", "boxes": "1, 2, 20, 30\n\n5 5 9 9"}, follow=True
    )

    assert messages_of(response) == ["faces/g.jpg is now a gold image."]
    assert sorted(b.box.as_list() for b in GoldBox.objects.filter(image=image)) == [[1, 2, 20, 30], [5, 5, 9, 9]]
    assert '<rect class="box" x="1.00" y="2.00" width="19.00" height="28.00">' in response.content.decode()
    response = admin_client.post(reverse("workflow-gold-unmark", args=[image.pk]), follow=True)
    assert messages_of(response) == ["faces/g.jpg is no longer a gold image."]
    assert not Image.objects.get(pk=image.pk).is_gold


def test_mark_gold_refuses_bad_lines_unknown_paths_and_unapproved_images(admin_client):
    image = ImageFactory(relative_path="x.jpg")
    url = reverse("workflow-gold-mark", args=[image.dataset_id])

    bad = admin_client.post(url, {"relative_path": "x.jpg", "use": "typed", "boxes": "1, 2, 3"}, follow=True)
    unknown = admin_client.post(url, {"relative_path": "nope.jpg", "use": "approved"}, follow=True)
    unapproved = admin_client.post(url, {"relative_path": "x.jpg", "use": "approved"}, follow=True)

    assert messages_of(bad) == ["Line 1: a box needs 4 numbers (x0, y0, x1, y1), got 3."]
    assert messages_of(unknown) == [f"There is no image “nope.jpg” in dataset {image.dataset.name}."]
    assert messages_of(unapproved) == ["x.jpg has no approved boxes yet: approve it first or enter its boxes."]
    assert not GoldBox.objects.exists()


def test_approved_image_can_become_gold_in_one_click(admin_client):
    box = ApprovedBoxFactory(x0=3, y0=4, x1=30, y1=40)
    image = box.approval.image

    page = admin_client.get(reverse("workflow-gold", args=[image.dataset_id]))
    assert f'<input type="hidden" name="image" value="{image.pk}">' in page.content.decode()
    admin_client.post(reverse("workflow-gold-mark", args=[image.dataset_id]), {"image": image.pk, "use": "approved"})

    assert [g.box.as_list() for g in GoldBox.objects.filter(image=image)] == [[3, 4, 30, 40]]


def test_dataset_page_panel_links_to_the_workflow(admin_client):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset, status=Image.Status.REVIEWED)

    html = admin_client.get(reverse("dataset-detail", args=[dataset.pk])).content.decode()

    assert reverse("workflow-batches", args=[dataset.pk]) in html
    assert reverse("workflow-quality", args=[dataset.pk]) in html
    assert f'href="{reverse("workflow-approve", args=[dataset.pk])}">Approve (1)</a>' in html


def test_approve_page_skips_an_image_a_reviewer_changed_after_the_page_was_drawn(admin_client):
    dataset = DatasetFactory()
    a = ImageFactory(dataset=dataset, relative_path="a.jpg", status=Image.Status.REVIEWED)
    b = ImageFactory(dataset=dataset, relative_path="b.jpg", status=Image.Status.REVIEWED)
    for image in (a, b):
        make_review(image, UserFactory(), (10, 8, 30, 32))
    page = admin_client.get(reverse("workflow-approve", args=[dataset.pk])).content.decode()
    posted = re.findall(r'<input type="hidden" name="image" value="([^"]+)">', page)
    assert posted == [f"{a.pk}:0", f"{b.pk}:0"]
    Image.objects.filter(pk=b.pk).update(revision=1)  # a reviewer saved b again meanwhile

    response = admin_client.post(reverse("workflow-approve-images", args=[dataset.pk]), {"image": posted}, follow=True)

    assert messages_of(response) == [
        "Approved 1 image. 1 skipped: changed since the page was shown, no longer waiting for approval, or without "
        "a current review."
    ]
    assert dict(Image.objects.values_list("relative_path", "status")) == {"a.jpg": "approved", "b.jpg": "reviewed"}


def test_admin_edits_the_consolidated_boxes_before_approving(admin_client):
    image = ImageFactory(status=Image.Status.REVIEWED, revision=1)
    make_review(image, UserFactory(), (10, 8, 30, 32))
    page = admin_client.get(reverse("workflow-approve", args=[image.dataset_id])).content.decode()
    # The queue hands box editing to the image viewer; the form endpoint still takes typed boxes.
    viewer = reverse("image-viewer", args=[image.dataset_id, image.pk])
    assert f'<a class="edit-boxes" href="{viewer}">Edit boxes in the viewer</a>' in page

    response = admin_client.post(
        reverse("workflow-approve-image", args=[image.pk]),
        {"revision": "1", "boxes": "10, 8, 30, 32\n40, 4, 60, 44"},
        follow=True,
    )

    assert messages_of(response) == [f"Approved {image.relative_path} with your boxes."]
    approval = Approval.objects.get(image=image, is_current=True)
    assert approval.source == Approval.Source.ADMIN
    assert [b.box.as_list() for b in approval.boxes.order_by("x0")] == [[10, 8, 30, 32], [40, 4, 60, 44]]


def test_edited_boxes_outside_the_image_are_refused(admin_client):
    image = ImageFactory(status=Image.Status.REVIEWED, relative_path="e.jpg")
    make_review(image, UserFactory(), (10, 8, 30, 32))

    response = admin_client.post(
        reverse("workflow-approve-image", args=[image.pk]), {"boxes": "100, 100, 120, 120"}, follow=True
    )

    assert "e.jpg: box [100.0, 100.0, 120.0, 120.0] lies outside the 64x48 image" in messages_of(response)[0]
    assert not Approval.objects.exists()
