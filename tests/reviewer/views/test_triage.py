"""The triage page's form (the mouse path, and browsers without JavaScript): the same resolutions as the keys."""

from __future__ import annotations

import pytest

from reviewer.models import CandidateDismissal, Image
from tests.reviewer.selectors.test_triage import flagged_dataset

pytestmark = pytest.mark.django_db


def test_the_not_a_face_button_dismisses_a_candidate_and_says_so(admin_client):
    dataset, candidates = flagged_dataset(n_images=1, per_image=2)
    page = admin_client.get(f"/datasets/{dataset.pk}/triage").content.decode()
    assert page.count('value="not_face"') == 2
    assert " disabled>" not in page

    response = admin_client.post(
        f"/datasets/{dataset.pk}/triage/resolve",
        {"kind": "candidate", "flag": candidates[0].pk, "resolution": "not_face"},
        follow=True,
    )

    assert "Marked as not a face." in response.content.decode()
    assert CandidateDismissal.objects.filter(candidate=candidates[0]).exists()
    assert Image.objects.get(pk=candidates[0].image_id).status == Image.Status.REVIEWED
    again = admin_client.post(
        f"/datasets/{dataset.pk}/triage/resolve",
        {"kind": "candidate", "flag": candidates[0].pk, "resolution": "not_face"},
        follow=True,
    )
    assert "already marked as not a face" in again.content.decode()
