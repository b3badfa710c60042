import pytest
from django.urls import reverse

from reviewer.models import Approval, Assignment, Batch, GoldBox, Image
from tests.factories import (
    AdminFactory,
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    DatasetFactory,
    GoldBoxFactory,
    ImageFactory,
    UserFactory,
    make_review,
)

pytestmark = pytest.mark.django_db


def test_reviewer_and_anonymous_are_refused_with_json(client, reviewer_user):
    dataset = DatasetFactory()
    url = reverse("api-dataset-batches", args=[dataset.pk])

    anonymous = client.post(url, {"size": 5}, content_type="application/json")
    client.force_login(reviewer_user)
    reviewer = client.post(url, {"size": 5}, content_type="application/json")
    queue = client.get(reverse("api-approval-queue", args=[dataset.pk]))

    assert anonymous.status_code == 401
    assert reviewer.status_code == 403
    assert reviewer.json()["detail"] == "This endpoint is for admins."
    assert queue.status_code == 403
    assert not Batch.objects.exists()


def test_unknown_ids_are_404_json(admin_client):
    response = admin_client.post(reverse("api-image-approve", args=[999999]), {}, content_type="application/json")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_cut_batches_and_list_them(admin_client):
    dataset = DatasetFactory()
    for i in range(3):
        ImageFactory(dataset=dataset, relative_path=f"{i}.jpg")
    url = reverse("api-dataset-batches", args=[dataset.pk])

    created = admin_client.post(url, {"size": 2, "name_prefix": "api"}, content_type="application/json")
    listed = admin_client.get(url)

    assert created.status_code == 201
    assert [(b["name"], b["size"]) for b in created.json()] == [("api-001", 2), ("api-002", 1)]
    assert [(b["name"], b["size"], b["is_pool"]) for b in listed.json()["results"]] == [
        ("api-001", 2, False),
        ("api-002", 1, False),
    ]


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"size": 0}, 400, "Batch size must be a whole number from 1"),
        ({"size": "many"}, 400, "The request has errors: size: A valid integer is required."),
        ({}, 400, "The request has errors: size: This field is required."),
    ],
)
def test_bad_batch_requests(admin_client, body, status, text):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)

    response = admin_client.post(
        reverse("api-dataset-batches", args=[dataset.pk]), body, content_type="application/json"
    )

    assert response.status_code == status
    assert response.json()["detail"].startswith(text)


def test_empty_dataset_is_a_400_with_the_reason(admin_client):
    dataset = DatasetFactory(name="void")

    response = admin_client.post(
        reverse("api-dataset-batches", args=[dataset.pk]), {"size": 3}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "nothing_to_batch"


def test_round_robin_by_username(admin_client):
    dataset = DatasetFactory(reviews_required=2)
    BatchFactory(dataset=dataset, name="b1")
    UserFactory(username="ann")
    UserFactory(username="bob")

    response = admin_client.post(
        reverse("api-dataset-assign", args=[dataset.pk]), {"reviewers": ["ann", "bob"]}, content_type="application/json"
    )

    assert response.status_code == 201
    assert sorted(a["reviewer"] for a in response.json()) == ["ann", "bob"]


def test_assign_unknown_or_non_reviewer_users_is_refused(admin_client):
    batch = BatchFactory()
    AdminFactory(username="boss")
    url = reverse("api-batch-assign", args=[batch.pk])

    unknown = admin_client.post(url, {"reviewers": ["ghost"]}, content_type="application/json")
    admin = admin_client.post(url, {"reviewers": ["boss"]}, content_type="application/json")

    assert unknown.status_code == 400
    assert unknown.json()["errors"]["reviewers"] == ["No such user: ghost."]
    assert admin.status_code == 400
    assert admin.json() == {
        "detail": "User “boss” is not a reviewer: only active reviewers get batches.",
        "code": "not_a_reviewer",
    }
    assert not Assignment.objects.exists()


def test_assigning_the_same_batch_twice_is_409_and_revoke_works(admin_client):
    assignment = AssignmentFactory(reviewer=UserFactory(username="ann"))
    url = reverse("api-batch-assign", args=[assignment.batch_id])

    again = admin_client.post(url, {"reviewers": [str(assignment.reviewer_id)]}, content_type="application/json")
    revoked = admin_client.post(reverse("api-assignment-revoke", args=[assignment.pk]))
    twice = admin_client.post(reverse("api-assignment-revoke", args=[assignment.pk]))

    assert again.status_code == 409
    assert again.json()["code"] == "already_assigned"
    assert revoked.json()["status"] == "revoked"
    assert twice.status_code == 409


def test_quality_reports_gold_miss_rate_and_agreement(admin_client):
    dataset = DatasetFactory(reviews_required=2)
    gold = GoldBoxFactory(image__dataset=dataset, x0=10, y0=10, x1=30, y1=30).image
    plain = ImageFactory(dataset=dataset)
    batch = BatchFactory(dataset=dataset, name="q1")
    BatchItemFactory(batch=batch, image=gold)
    BatchItemFactory(batch=batch, image=plain)
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    AssignmentFactory(batch=batch, reviewer=ann)
    AssignmentFactory(batch=batch, reviewer=bob)
    make_review(gold, ann, (11, 10, 30, 31), seconds_spent=4, gold_misses=0, gold_extras=0)  # found the gold face
    make_review(gold, bob, seconds_spent=8, gold_misses=1, gold_extras=0)  # scored at submit: missed it
    make_review(plain, ann, (1, 1, 20, 20), seconds_spent=6)
    make_review(plain, bob, (1, 1, 20, 20), (40, 20, 60, 40), seconds_spent=10, is_unsure=True)

    data = admin_client.get(reverse("api-dataset-quality", args=[dataset.pk])).json()

    people = {r["reviewer"]: r for r in data["reviewers"]}
    assert people["ann"]["reviewed"] == 2
    assert people["ann"]["total"] == 2
    assert people["ann"]["mean_seconds"] == 5.0
    assert people["ann"]["gold_miss_rate"] == 0.0
    assert people["bob"]["gold_miss_rate"] == 1.0
    assert people["bob"]["unsure"] == 1
    # gold: ann vs bob share nothing (0); plain: 1 match of 1 + 2 boxes = 2/3
    assert people["ann"]["agreement"] == pytest.approx((0 + 2 / 3) / 2, abs=1e-3)
    [row] = data["batches"]
    assert row["reviewed"] == 4
    assert row["total"] == 4
    assert row["percent"] == 100
    assert data["dataset"]["mean_seconds"] == 7.0


def test_queue_approve_one_and_all(admin_client):
    dataset = DatasetFactory(reviews_required=2)
    disputed = ImageFactory(dataset=dataset, relative_path="z.jpg", status=Image.Status.REVIEWED)
    calm = ImageFactory(dataset=dataset, relative_path="a.jpg", status=Image.Status.REVIEWED)
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    make_review(disputed, ann, (10, 10, 30, 30), (40, 5, 60, 25))
    make_review(disputed, bob, (12, 11, 31, 32))
    make_review(calm, ann, has_no_faces=True)
    make_review(calm, bob, has_no_faces=True)

    queue = admin_client.get(reverse("api-approval-queue", args=[dataset.pk])).json()

    assert len(queue["results"]) == 2
    assert queue["next"] is None
    first = queue["results"][0]
    assert first["relative_path"] == "z.jpg"
    assert first["has_disagreement"] is True
    # faces top to bottom; the pair merged into its union, the face only ann boxed kept
    assert first["boxes"] == [{"box": [40, 5, 60, 25], "support": 1}, {"box": [10, 10, 31, 32], "support": 2}]
    assert queue["results"][1]["boxes"] == []

    one = admin_client.post(
        reverse("api-image-approve", args=[disputed.pk]),
        {"expected_revision": first["revision"]},
        content_type="application/json",
    )
    assert one.status_code == 201
    assert one.json()["boxes"] == [[40, 5, 60, 25], [10, 10, 31, 32]]
    assert one.json()["image_status"] == "approved"
    rest = admin_client.post(
        reverse("api-dataset-approve", args=[dataset.pk]), {"all": True}, content_type="application/json"
    )
    assert rest.json() == {"approved": [calm.pk], "skipped": []}
    assert Approval.objects.get(image=calm).boxes.count() == 0


def test_approve_with_admin_boxes_and_refusals(admin_client):
    image = ImageFactory(status=Image.Status.REVIEWED, revision=1)
    pending = ImageFactory(status=Image.Status.DETECTED)
    url = reverse("api-image-approve", args=[image.pk])

    bad = admin_client.post(url, {"boxes": [[1, 2, 3]]}, content_type="application/json")
    stale = admin_client.post(url, {"expected_revision": 0, "boxes": []}, content_type="application/json")
    early = admin_client.post(reverse("api-image-approve", args=[pending.pk]), {}, content_type="application/json")
    good = admin_client.post(url, {"boxes": [[1, 2, 30, 40]], "expected_revision": 1}, content_type="application/json")

    assert bad.status_code == 400
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale"
    assert early.status_code == 409
    assert early.json()["code"] == "not_reviewed"
    assert good.status_code == 201
    assert good.json()["source"] == "admin"
    assert good.json()["boxes"] == [[1, 2, 30, 40]]


def test_approve_many_needs_ids_or_all(admin_client):
    dataset = DatasetFactory()
    url = reverse("api-dataset-approve", args=[dataset.pk])

    neither = admin_client.post(url, {}, content_type="application/json")
    both = admin_client.post(url, {"all": True, "image_ids": [1]}, content_type="application/json")

    assert neither.status_code == 400
    assert both.status_code == 400


def test_send_back_and_gold(admin_client):
    image = ImageFactory(status=Image.Status.REVIEWED)
    make_review(image, UserFactory(), (1, 1, 20, 20))
    admin_client.post(reverse("api-image-approve", args=[image.pk]), {}, content_type="application/json")

    gold = admin_client.post(reverse("api-image-gold", args=[image.pk]), {}, content_type="application/json")
    back = admin_client.post(
        reverse("api-image-send-back", args=[image.pk]), {"reason": "blurry"}, content_type="application/json"
    )
    removed = admin_client.delete(reverse("api-image-gold", args=[image.pk]))

    assert gold.json() == {"id": image.pk, "is_gold": True, "boxes": [[1, 1, 20, 20]]}
    assert back.json()["status"] == "new"
    assert removed.status_code == 204
    assert not GoldBox.objects.exists()


def test_approve_many_with_revisions_skips_changed_images(admin_client):
    dataset = DatasetFactory()
    a = ImageFactory(dataset=dataset, status=Image.Status.REVIEWED, revision=1)
    b = ImageFactory(dataset=dataset, status=Image.Status.REVIEWED, revision=5)
    for image in (a, b):
        make_review(image, UserFactory(), (1, 1, 20, 20))

    response = admin_client.post(
        reverse("api-dataset-approve", args=[dataset.pk]),
        {"image_ids": [a.pk, b.pk], "expected_revisions": {str(a.pk): 1, str(b.pk): 4}},
        content_type="application/json",
    )

    assert response.json() == {"approved": [a.pk], "skipped": [b.pk]}
