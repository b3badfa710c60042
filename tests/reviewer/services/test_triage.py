"""Resolving triage flags: a face sends the image back, not a face dismisses a leak-check find; refusals."""

from __future__ import annotations

import pytest

from reviewer.errors import Forbidden, NotFound, ServiceError
from reviewer.models import AuditEvent, Export, Image, Leak
from reviewer.services.triage import flag_resolve
from tests.factories import UserFactory
from tests.reviewer.selectors.test_triage import flagged_dataset

pytestmark = pytest.mark.django_db


def test_face_on_a_candidate_sends_its_image_back_with_the_place_in_the_reason(admin_user):
    dataset, candidates = flagged_dataset(n_images=1, per_image=1)
    [candidate] = candidates
    sent = flag_resolve(dataset=dataset, kind="candidate", pk=candidate.pk, resolution="face", actor=admin_user)
    assert sent == [candidate.image_id]
    image = Image.objects.get(pk=candidate.image_id)
    assert image.status == Image.Status.NEW  # back in the queues (no detection result in this fixture)
    assert not image.reviews.filter(is_current=True).exists()
    event = AuditEvent.objects.get(verb="image.sent_back")
    assert event.data["reason"] == "triage: a face at [50, 50, 60, 60] (candidate, score 0.10)"


def test_not_a_face_dismisses_a_leak_find_and_is_refused_on_a_candidate(admin_user):
    dataset, candidates = flagged_dataset(n_images=1, per_image=1)
    export = Export.objects.create(dataset=dataset, status=Export.Status.DONE, images_done=1,
                                   options={"leak_check": True})  # fmt: skip
    leak = Leak.objects.create(export=export, image=candidates[0].image, kind="missed", score=0.5,
                               x0=200, y0=100, x1=230, y1=140)  # fmt: skip
    assert flag_resolve(dataset=dataset, kind="leak", pk=leak.pk, resolution="not_face", actor=admin_user) == []
    leak.refresh_from_db()
    assert (leak.resolution, leak.resolved_by) == ("not_a_face", admin_user)
    with pytest.raises(ServiceError) as exc:
        flag_resolve(dataset=dataset, kind="candidate", pk=candidates[0].pk, resolution="not_face", actor=admin_user)
    assert "Only a reviewer's review says a candidate is not a face" in exc.value.message
    assert Image.objects.get(pk=candidates[0].image_id).status == Image.Status.REVIEWED


def test_refused_for_a_reviewer_and_for_another_datasets_flag(admin_user):
    dataset, candidates = flagged_dataset(n_images=1, per_image=1)
    other, _ = flagged_dataset(n_images=1, per_image=1)
    with pytest.raises(Forbidden):
        flag_resolve(dataset=dataset, kind="candidate", pk=candidates[0].pk, resolution="face", actor=UserFactory())
    with pytest.raises(NotFound):
        flag_resolve(dataset=other, kind="candidate", pk=candidates[0].pk, resolution="face", actor=admin_user)
    with pytest.raises(NotFound):
        flag_resolve(dataset=dataset, kind="leak", pk=999, resolution="face", actor=admin_user)
    assert Image.objects.get(pk=candidates[0].image_id).status == Image.Status.REVIEWED
