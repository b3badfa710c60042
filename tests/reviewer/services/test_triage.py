"""Resolving triage flags: a face sends the image back, not a face dismisses a leak-check find or a candidate for
good; refusals."""

from __future__ import annotations

import pytest

from reviewer.errors import Conflict, Forbidden, NotFound
from reviewer.models import AuditEvent, CandidateDismissal, Export, Image, Leak
from reviewer.selectors.safety import image_flags, open_candidates
from reviewer.services.gate import flag_resolutions
from reviewer.services.triage import flag_resolve
from tests.factories import CandidateFactory, DetectionRunFactory, UserFactory
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


def test_not_a_face_dismisses_a_leak_find_and_a_candidate_for_good(admin_user):
    dataset, candidates = flagged_dataset(n_images=1, per_image=2)
    export = Export.objects.create(dataset=dataset, status=Export.Status.DONE, images_done=1,
                                   options={"leak_check": True})  # fmt: skip
    leak = Leak.objects.create(export=export, image=candidates[0].image, kind="missed", score=0.5,
                               x0=200, y0=100, x1=230, y1=140)  # fmt: skip
    assert flag_resolve(dataset=dataset, kind="leak", pk=leak.pk, resolution="not_face", actor=admin_user) == []
    leak.refresh_from_db()
    assert (leak.resolution, leak.resolved_by) == ("not_a_face", admin_user)

    dismissed, other = candidates
    assert flag_resolve(dataset=dataset, kind="candidate", pk=dismissed.pk, resolution="not_face",
                        actor=admin_user) == []  # fmt: skip
    row = CandidateDismissal.objects.get(candidate=dismissed)
    assert (row.dismissed_by, row.image_id, row.box, row.bucket) == (admin_user, dismissed.image_id, dismissed.box,
                                                                     dismissed.bucket)  # fmt: skip
    image = Image.objects.get(pk=dismissed.image_id)
    assert image.status == Image.Status.REVIEWED  # nothing sent back
    assert [c.pk for c in open_candidates([image])[image.pk]] == [other.pk]
    assert [r.ref for r in image_flags([image])[image.pk].regions] == [other.pk]
    assert image.second_look_reasons[0]["count"] == 1
    assert AuditEvent.objects.filter(verb="candidate.dismissed", object_id=str(image.pk)).count() == 1
    # The gate learns a "not a face" of that candidate's bucket.
    assert flag_resolutions(dataset=dataset)[dismissed.bucket or "unmeasured"] == (0, 1)
    # Said once: a second "not a face", or a "face" after it, is refused.
    with pytest.raises(Conflict, match="already marked as not a face"):
        flag_resolve(dataset=dataset, kind="candidate", pk=dismissed.pk, resolution="not_face", actor=admin_user)
    # And the region is never flagged again on a later run: a new candidate in the same place is not open.
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    again = CandidateFactory(image=image, run=run, x0=dismissed.x0, y0=dismissed.y0, x1=dismissed.x1,
                             y1=dismissed.y1)  # fmt: skip
    assert again.pk not in [c.pk for c in open_candidates([image]).get(image.pk, [])]


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
