"""The admin's image viewer page: who may open it, and what it hands the editor."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from reviewer.models import Export, Image, Leak
from tests.factories import (
    AdminFactory,
    ApprovalFactory,
    ApprovedBoxFactory,
    CandidateFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    ProposalFactory,
    UserFactory,
    make_review,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def image():
    dataset = DatasetFactory(reviews_required=2)
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    image = ImageFactory(dataset=dataset, status=Image.Status.REVIEWED)
    ProposalFactory(image=image, run=run, ordinal=0, score=0.81234, x0=10, y0=8, x1=30, y1=32)
    ProposalFactory(image=image, run=DetectionRunFactory(dataset=dataset), ordinal=0)  # an older run: not shown
    CandidateFactory(image=image, run=run, ordinal=0, score=0.12, x0=40, y0=20, x1=56, y1=38)
    make_review(image, UserFactory(username="rob"), (10, 8, 30, 32), (40, 20, 56, 38))
    make_review(image, UserFactory(username="ann"), (12, 9, 31, 33), is_unsure=True)
    older = Export.objects.create(dataset=dataset, status=Export.Status.DONE)
    Leak.objects.create(export=older, image=image, kind=Leak.Kind.RESIDUAL, score=0.6, x0=1, y0=2, x1=9, y1=12)
    export = Export.objects.create(dataset=dataset, status=Export.Status.DONE)
    Leak.objects.create(export=export, image=image, kind=Leak.Kind.MISSED, score=0.7, x0=1, y0=2, x1=9, y1=12)
    return image


def viewer_url(image):
    return reverse("image-viewer", args=[image.dataset_id, image.pk])


def state_of(response) -> dict:
    match = re.search(r'<script id="vw-initial" type="application/json">(.*?)</script>', response.content.decode())
    return json.loads(match.group(1))


def test_admin_sees_final_boxes_proposals_candidates_leaks_and_each_review(admin_client, image):
    response = admin_client.get(viewer_url(image))
    assert response.status_code == 200
    state = state_of(response)
    assert (state["width"], state["height"], state["revision"]) == (image.width, image.height, image.revision)
    # Not approved yet: the final boxes are the reviews merged (the union of the overlapping pair).
    assert state["final"] == {
        "source": "2 current reviews merged, not approved yet",
        "boxes": [[10, 8, 31, 33], [40, 20, 56, 38]],
        "is_approved": False,
    }
    assert [p["box"] for p in state["proposals"]] == [[10, 8, 30, 32]]
    assert state["proposals"][0]["score"] == 0.8123
    assert [c["box"] for c in state["candidates"]] == [[40, 20, 56, 38]]
    newest = image.leaks.order_by("-export_id").first().export_id  # the older export's find is not shown
    assert state["leaks"] == [{"export": newest, "kind": "missed", "box": [1, 2, 9, 12], "score": 0.7}]
    assert [(r["reviewer"], len(r["boxes"]), r["is_unsure"]) for r in state["reviews"]] == [
        ("rob", 2, False),
        ("ann", 1, True),
    ]
    assert state["can_save"] is True
    assert state["approve_url"] == reverse("api-image-approve", args=[image.pk])
    assert "/static/veil/review/viewer.js" in response.content.decode()


def test_approved_boxes_are_the_final_boxes_once_approved(admin_client, image):
    approval = ApprovalFactory(image=image, approved_by=AdminFactory(username="ada"), source="admin")
    ApprovedBoxFactory(approval=approval, x0=5, y0=6, x1=25, y1=30)
    Image.objects.filter(pk=image.pk).update(status=Image.Status.APPROVED)
    state = state_of(admin_client.get(viewer_url(image)))
    assert state["final"] == {
        "source": "approved by ada (set by an admin)",
        "boxes": [[5, 6, 25, 30]],
        "is_approved": True,
    }


def test_an_image_not_reviewed_yet_opens_read_only(admin_client, image):
    Image.objects.filter(pk=image.pk).update(status=Image.Status.DETECTED)
    response = admin_client.get(viewer_url(image))
    assert state_of(response)["can_save"] is False
    assert 'id="vw-save" class="primary" data-action="save"' in response.content.decode()
    assert "disabled>Save as approved" in response.content.decode()


def test_reviewers_get_404_anonymous_users_the_login_page(reviewer_client, image):
    assert reviewer_client.get(viewer_url(image)).status_code == 404
    response = Client().get(viewer_url(image))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_image_under_another_dataset_or_unknown_is_404(admin_client, image):
    other = DatasetFactory()
    assert admin_client.get(reverse("image-viewer", args=[other.pk, image.pk])).status_code == 404
    assert admin_client.get(reverse("image-viewer", args=[image.dataset_id, 999_999])).status_code == 404


def test_the_viewer_reads_a_fixed_number_of_queries(admin_client, image, django_assert_num_queries):
    for _ in range(5):  # more reviews must not mean more queries
        make_review(image, UserFactory())
    with django_assert_num_queries(9):
        assert admin_client.get(viewer_url(image)).status_code == 200


def test_thumbnails_of_the_queue_and_grid_and_the_leak_list_link_to_the_viewer(admin_client, image):
    url = viewer_url(image)
    assert url in admin_client.get(reverse("workflow-approve", args=[image.dataset_id])).content.decode()
    assert url in admin_client.get(reverse("dataset-detail", args=[image.dataset_id])).content.decode()
    export = image.leaks.order_by("-export_id").first().export
    assert url in admin_client.get(reverse("export-detail", args=[export.pk])).content.decode()
    Image.objects.filter(pk=image.pk).update(is_gold=True)
    assert url in admin_client.get(reverse("workflow-gold", args=[image.dataset_id])).content.decode()
