"""The review API as the page uses it: JSON in and out, 404 for what is not mine, 409 and 400 with sentences."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reviewer.models import Image, Lease, Review, ReviewCandidate
from tests.factories import (
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    CandidateFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    ProposalFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(reviewer_user):
    dataset = DatasetFactory()
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    batch = BatchFactory(dataset=dataset)
    for i in range(3):
        image = ImageFactory(dataset=dataset, status=Image.Status.DETECTED)
        BatchItemFactory(batch=batch, image=image, position=i)
        ProposalFactory(image=image, run=run, ordinal=0, score=0.75, x0=10, y0=8, x1=30, y1=32)
    AssignmentFactory(batch=batch, reviewer=reviewer_user)
    return batch


def images_of(batch):
    return [item.image for item in batch.items.order_by("position")]


def url(batch, image=None, action=""):
    base = f"/api/review/batches/{batch.pk}/"
    return base + (f"images/{image.pk}{action}" if image else action)


def post(client, path, data=None):
    return client.post(path, data or {}, content_type="application/json")


def test_next_leases_the_first_image_and_returns_what_the_page_draws(reviewer_client, batch):
    first = images_of(batch)[0]
    response = post(reviewer_client, url(batch, action="next"))
    assert response.status_code == 200
    data = response.json()["image"]
    assert data["id"] == first.pk
    assert (data["width"], data["height"]) == (64, 48)
    assert (data["position"], data["total"]) == (1, 3)
    assert data["display_url"] == f"/images/{first.pk}/display"
    assert data["proposals"] == [{"id": first.proposals.get().pk, "box": [10, 8, 30, 32], "score": 0.75}]
    assert data["review"] is None
    assert "is_gold" not in data
    assert data["lease"]["token"] == Lease.objects.get(image=first).token


def test_submit_round_trip_then_reopen_shows_my_review(reviewer_client, batch):
    image = images_of(batch)[0]
    state = post(reviewer_client, url(batch, action="next")).json()["image"]
    proposal = state["proposals"][0]["id"]
    response = post(
        reviewer_client,
        url(batch, image, "/review"),
        {
            "lease_token": state["lease"]["token"],
            "revision": state["revision"],
            "boxes": [
                {"proposal": proposal, "fate": "adjusted", "box": [12.5, 8, 31, 33.25]},
                {"proposal": None, "fate": "added", "box": [40, 10, 50, 20]},
            ],
            "is_unsure": True,
            "seconds_spent": 3.2,
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "reviewed"
    assert response.json()["revision"] == 1
    assert response.json()["gold"] is None
    reopened = reviewer_client.get(url(batch, image)).json()
    assert reopened["review"]["is_unsure"] is True
    assert sorted((b["fate"], b["box"]) for b in reopened["review"]["boxes"]) == [
        ("added", [40, 10, 50, 20]),
        ("adjusted", [12.5, 8, 31, 33.25]),
    ]
    assert reopened["revision"] == 1


def test_stale_save_is_409_with_a_sentence(reviewer_client, batch):
    image = images_of(batch)[0]
    state = post(reviewer_client, url(batch, action="next")).json()["image"]
    Image.objects.filter(pk=image.pk).update(revision=5)
    response = post(
        reviewer_client,
        url(batch, image, "/review"),
        {"lease_token": state["lease"]["token"], "revision": state["revision"], "boxes": []},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "stale_revision"
    assert "changed since you opened it" in response.json()["detail"]
    assert not Review.objects.exists()


def test_lease_taken_by_another_reviewer_is_409_for_lease_and_save(client, reviewer_user, batch):
    image = images_of(batch)[0]
    other = UserFactory()
    AssignmentFactory(batch=batch, reviewer=other)
    client.force_login(reviewer_user)
    state = post(client, url(batch, action="next")).json()["image"]
    Lease.objects.filter(image=image).update(expires_at=timezone.now() - timedelta(seconds=5))
    client.force_login(other)
    assert post(client, url(batch, image, "/lease")).status_code == 200
    client.force_login(reviewer_user)
    lease = post(client, url(batch, image, "/lease"))
    assert lease.status_code == 409
    assert "Another reviewer is working on this image" in lease.json()["detail"]
    proposal = state["proposals"][0]["id"]
    response = post(
        client,
        url(batch, image, "/review"),
        {"lease_token": state["lease"]["token"], "revision": 0, "boxes": [{"proposal": proposal, "fate": "accepted"}]},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "lease_lost"


def test_bad_boxes_are_400_with_the_reason(reviewer_client, batch):
    image = images_of(batch)[0]
    state = post(reviewer_client, url(batch, action="next")).json()["image"]
    proposal = state["proposals"][0]["id"]
    base = {"lease_token": state["lease"]["token"], "revision": 0}
    cases = [
        ([{"proposal": proposal, "fate": "adjusted", "box": [20, 20, 10, 30]}], "inverted or empty"),
        ([{"proposal": proposal, "fate": "accepted"}, {"fate": "added", "box": [1, 2, 3]}], "box: Ensure this field"),
        ([{"proposal": proposal, "fate": "rotated"}], "is not a valid choice"),
        ([], "needs a fate"),
    ]
    for boxes, message in cases:
        response = post(reviewer_client, url(batch, image, "/review"), {**base, "boxes": boxes})
        assert response.status_code == 400, boxes
        assert message in response.json()["detail"], response.json()
    assert not Review.objects.exists()


def test_other_reviewers_images_are_404_json(client, batch):
    stranger = UserFactory()
    client.force_login(stranger)
    image = images_of(batch)[0]
    for response in [
        client.get(url(batch, image)),
        post(client, url(batch, image, "/lease")),
        post(client, url(batch, image, "/review"), {"revision": 0, "boxes": []}),
        post(client, url(batch, action="next")),
    ]:
        assert response.status_code == 404
        assert response.json()["detail"] == "No such batch among your assignments."


def test_image_of_another_batch_is_404_even_within_my_assignment(reviewer_client, batch):
    elsewhere = ImageFactory(dataset=batch.dataset)
    assert reviewer_client.get(url(batch, elsewhere)).status_code == 404
    assert reviewer_client.get(f"/api/review/batches/{batch.pk}/images/999999").status_code == 404


def test_anonymous_and_admins_get_no_review_api(client, admin_client, batch):
    image = images_of(batch)[0]
    assert admin_client.get(url(batch, image)).status_code == 404
    client.logout()
    assert client.get(url(batch, image)).status_code == 401


def test_next_returns_null_when_the_batch_is_done(reviewer_client, batch):
    Image.objects.filter(batch_items__batch=batch).update(status=Image.Status.REVIEWED)
    response = post(reviewer_client, url(batch, action="next"))
    assert response.status_code == 200
    assert response.json() == {"image": None}


def test_taking_a_pool_batch(reviewer_client):
    pool = BatchFactory(is_pool=True)
    response = post(reviewer_client, f"/api/review/batches/{pool.pk}/take")
    assert response.status_code == 201
    assert post(reviewer_client, f"/api/review/batches/{BatchFactory().pk}/take").status_code == 404


def test_a_save_from_a_superseded_lease_is_409_with_a_sentence(reviewer_client, batch):
    image = images_of(batch)[0]
    state = post(reviewer_client, url(batch, action="next")).json()["image"]
    Lease.objects.filter(image=image).delete()  # the lease ran out and was cleared
    assert post(reviewer_client, url(batch, image, "/lease")).status_code == 200  # opened again in another tab
    proposal = state["proposals"][0]["id"]
    body = {
        "lease_token": state["lease"]["token"],
        "revision": 0,
        "boxes": [{"proposal": proposal, "fate": "accepted"}],
    }
    response = post(reviewer_client, url(batch, image, "/review"), body)
    assert response.status_code == 409
    assert response.json()["code"] == "lease_superseded"
    assert "replaced by a newer one" in response.json()["detail"]
    assert not Review.objects.exists()


def test_a_submit_that_committed_then_lost_its_answer_is_saved_on_retry_not_409(reviewer_client, batch, monkeypatch):
    from django.db import OperationalError

    image = images_of(batch)[0]
    state = post(reviewer_client, url(batch, action="next")).json()["image"]
    proposal = state["proposals"][0]["id"]
    body = {
        "lease_token": state["lease"]["token"],
        "revision": 0,
        "boxes": [{"proposal": proposal, "fate": "accepted"}],
        "request_id": "3f2b8c1e9a7d4e5f8a6b0c1d2e3f4a5b",
    }
    import api.views.review as views

    real_status = views.status_for_reviewer

    def drop_once(*args, **kwargs):  # the connection dies after the commit, before the answer is built
        monkeypatch.setattr(views, "status_for_reviewer", real_status)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views, "status_for_reviewer", drop_once)
    failed = post(reviewer_client, url(batch, image, "/review"), body)
    assert failed.status_code == 503
    assert failed.json()["code"] == "database_unavailable"
    assert "Try again" in failed.json()["detail"]
    saved = Review.objects.get(image=image)  # it did commit

    retry = post(reviewer_client, url(batch, image, "/review"), body)
    assert retry.status_code == 201
    assert retry.json()["review"] == saved.pk
    assert retry.json()["revision"] == 1
    assert retry.json()["status"] == Image.Status.REVIEWED
    assert Review.objects.filter(image=image).count() == 1


def test_a_request_id_that_is_not_a_token_is_400(reviewer_client, batch):
    image = images_of(batch)[0]
    state = post(reviewer_client, url(batch, action="next")).json()["image"]
    body = {"lease_token": state["lease"]["token"], "revision": 0, "boxes": [], "request_id": "a b"}
    response = post(reviewer_client, url(batch, image, "/review"), body)
    assert response.status_code == 400
    assert "request_id" in response.json()["detail"]


def test_candidates_reach_the_page_and_their_fates_round_trip(reviewer_client, batch):
    image = images_of(batch)[0]
    run = batch.dataset.current_detection_run
    first = CandidateFactory(image=image, run=run, ordinal=0, score=0.31, x0=40, y0=20, x1=56, y1=38)
    second = CandidateFactory(image=image, run=run, ordinal=1, source="recall_pass", x0=2, y0=2, x1=9, y1=9)
    CandidateFactory(image=images_of(batch)[1], run=run, ordinal=0)
    state = post(reviewer_client, url(batch, action="next")).json()["image"]
    assert state["candidates"] == [
        {"id": first.pk, "box": [40, 20, 56, 38], "score": 0.31, "source": "low_score"},
        {"id": second.pk, "box": [2, 2, 9, 9], "score": 0.2, "source": "recall_pass"},
    ]
    body = {
        "lease_token": state["lease"]["token"],
        "revision": state["revision"],
        "boxes": [
            {"proposal": state["proposals"][0]["id"], "fate": "accepted"},
            {"proposal": None, "fate": "added", "box": [40, 20, 56, 38]},
        ],
        "candidates": [{"id": first.pk, "fate": "boxed"}, {"id": second.pk, "fate": "dismissed"}],
    }
    assert post(reviewer_client, url(batch, image, "/review"), body).status_code == 201
    fates = ReviewCandidate.objects.order_by("candidate__ordinal").values_list("candidate_id", "fate")
    assert list(fates) == [(first.pk, "boxed"), (second.pk, "dismissed")]
    reopened = reviewer_client.get(url(batch, image)).json()
    assert reopened["review"]["candidates"] == [
        {"candidate": first.pk, "fate": "boxed"},
        {"candidate": second.pk, "fate": "dismissed"},
    ]


def test_hostile_candidate_fates_are_400_with_a_sentence(reviewer_client, batch):
    image, other = images_of(batch)[:2]
    run = batch.dataset.current_detection_run
    theirs = CandidateFactory(image=other, run=run, ordinal=0)
    mine = CandidateFactory(image=image, run=run, ordinal=0)
    state = post(reviewer_client, url(batch, action="next")).json()["image"]
    base = {
        "lease_token": state["lease"]["token"],
        "revision": state["revision"],
        "boxes": [{"proposal": state["proposals"][0]["id"], "fate": "accepted"}],
    }
    cases = [
        ([{"id": 987654, "fate": "dismissed"}], "Candidate 987654 is not a candidate of this image"),
        ([{"id": theirs.pk, "fate": "dismissed"}], f"Candidate {theirs.pk} is not a candidate of this image"),
        ([{"id": mine.pk, "fate": "maybe"}], 'candidates.0.fate: "maybe" is not a valid choice.'),
        ([{"fate": "boxed"}], "candidates.0.id: This field is required."),
        ({"id": mine.pk}, "candidates"),
    ]
    for candidates, message in cases:
        response = post(reviewer_client, url(batch, image, "/review"), {**base, "candidates": candidates})
        assert response.status_code == 400, candidates
        assert message in response.json()["detail"], response.json()
    assert not Review.objects.exists()


def test_a_lease_posted_after_my_save_does_not_keep_the_image_from_the_second_reviewer(client, reviewer_user, batch):
    """Reviews per image 2: the page's lease renewal lands after the save (the issue 20 reproduction)."""
    batch.dataset.reviews_required = 2
    batch.dataset.save()
    first = images_of(batch)[0]
    other = UserFactory()
    AssignmentFactory(batch=batch, reviewer=other)
    client.force_login(reviewer_user)
    state = post(client, url(batch, action="next")).json()["image"]
    proposal = state["proposals"][0]["id"]
    saved = post(
        client,
        url(batch, first, "/review"),
        {"lease_token": state["lease"]["token"], "revision": 0, "boxes": [{"proposal": proposal, "fate": "accepted"}]},
    )
    assert saved.status_code == 201
    renewal = post(client, url(batch, first, "/lease"))
    assert renewal.status_code == 200
    assert (renewal.json()["token"], renewal.json()["expires_at"]) == (None, None)
    assert not Lease.objects.filter(image=first).exists()

    client.force_login(other)
    assert post(client, url(batch, action="next")).json()["image"]["id"] == first.pk
    assert Lease.objects.get(image=first).reviewer == other
    assert client.get("/api/review/batches/").json()[0]["percent"] == 0


def test_a_sent_back_image_says_who_sent_it_back_and_why_until_it_is_approved(reviewer_client, batch, admin_user):
    from reviewer.services.approval import image_approve, image_send_back
    from tests.factories import make_review

    first, second = images_of(batch)[:2]
    assert post(reviewer_client, url(batch, action="next")).json()["image"]["sent_back"] is None
    make_review(first, UserFactory())
    Image.objects.filter(pk=first.pk).update(status=Image.Status.REVIEWED)
    image_send_back(image=first, actor=admin_user, reason="the child on the left has no box")

    state = reviewer_client.get(url(batch, first)).json()
    assert state["sent_back"] == {"by": admin_user.username, "reason": "the child on the left has no box"}
    assert reviewer_client.get(url(batch, second)).json()["sent_back"] is None

    make_review(first, UserFactory())
    Image.objects.filter(pk=first.pk).update(status=Image.Status.REVIEWED)
    image_approve(image=Image.objects.get(pk=first.pk), actor=admin_user)
    assert reviewer_client.get(url(batch, first)).json()["sent_back"] is None
