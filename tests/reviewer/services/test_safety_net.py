"""The safety net's candidates through the services: what each fate a person gives one does to the flags and to
the release gate, and that a region a person resolved is never flagged again, on a later run or export."""

from __future__ import annotations

import pytest

from reviewer.imaging.geometry import Box
from reviewer.models import Image, ReviewCandidate
from reviewer.selectors.safety import image_flags, not_a_face_regions, open_candidates
from reviewer.services.approval import image_approve
from reviewer.services.gate import flag_resolutions, gate_check
from reviewer.services.lease import lease_acquire
from reviewer.services.review import BoxFate, CandidateFate, review_submit
from reviewer.services.safety import second_look_update
from tests.factories import (
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    CandidateFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    ProposalFactory,
)

pytestmark = pytest.mark.django_db
FACE = Box(30, 10, 50, 30)
SPOT = Box(100, 60, 124, 90)
ELSEWHERE = Box(140, 10, 160, 40)


@pytest.fixture
def setup(reviewer_user):
    dataset = DatasetFactory()
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    batch = BatchFactory(dataset=dataset)
    AssignmentFactory(batch=batch, reviewer=reviewer_user)
    image = ImageFactory(dataset=dataset, status=Image.Status.DETECTED, relative_path="crowd.jpg")
    BatchItemFactory(batch=batch, image=image, position=0)
    ProposalFactory(image=image, run=run, ordinal=0, x0=2, y0=2, x1=20, y1=22)
    boxed = CandidateFactory(image=image, run=run, bucket="agree", x0=FACE.x0, y0=FACE.y0, x1=FACE.x1, y1=FACE.y1)
    dismissed = CandidateFactory(image=image, run=run, bucket="retinaface",
                                 x0=SPOT.x0, y0=SPOT.y0, x1=SPOT.x1, y1=SPOT.y1)  # fmt: skip
    left = CandidateFactory(image=image, run=run, bucket="centerface",
                            x0=ELSEWHERE.x0, y0=ELSEWHERE.y0, x1=ELSEWHERE.x1, y1=ELSEWHERE.y1)  # fmt: skip
    return dataset, run, batch, image, (boxed, dismissed, left)


def submit(reviewer, image, batch, *, candidates=(), added=()):
    image.refresh_from_db()
    token = lease_acquire(reviewer=reviewer, image=image).token
    fates = [BoxFate(fate="accepted", proposal_id=p.pk) for p in image.proposals.all()]
    fates += [BoxFate(fate="added", box=box) for box in added]
    return review_submit(reviewer=reviewer, image_id=image.pk, batch_id=batch.pk, lease_token=token,
                         revision=image.revision, fates=fates, candidates=list(candidates))  # fmt: skip


def test_each_candidate_fate_at_submit_boxed_dismissed_and_left(setup, reviewer_user, admin_user):
    dataset, _run, batch, image, (boxed, dismissed, left) = setup
    submit(reviewer_user, image, batch, added=[FACE],
           candidates=[CandidateFate(boxed.pk, "boxed"), CandidateFate(dismissed.pk, "dismissed")])  # fmt: skip
    image.refresh_from_db()
    # Boxed: its box hides it. Dismissed: a person's "not a face". Left (no fate): open, with its bucket.
    assert image.second_look_reasons == [{"code": "candidates", "count": 1, "buckets": {"centerface": 1}}]
    [flags] = image_flags([image]).values()
    assert [(r.kind, r.box, r.bucket) for r in flags.regions] == [("candidate", ELSEWHERE, "centerface")]
    assert list(open_candidates([image])[image.pk]) == [left]
    # The gate learns from the two resolved: one face in `agree`, one non-face in `retinaface`.
    assert flag_resolutions(dataset=dataset) == {"agree": (1, 1), "retinaface": (0, 1)}
    image_approve(image=image, actor=admin_user)
    report = gate_check(dataset=dataset)
    [term] = [b for b in report.estimate.buckets if b.open]
    assert (term.bucket, term.open, term.share, term.measured, term.more_needed) == ("centerface", 1, 1.0, False, 20)
    assert report.as_dict()["buckets"][0]["bucket"] == "agree"


def test_a_candidate_shown_and_left_stays_open_and_teaches_the_gate_nothing(setup, reviewer_user):
    """The review page records "left" for a candidate it showed that nobody resolved: not a "not a face"."""
    dataset, _run, batch, image, (boxed, dismissed, left) = setup
    submit(reviewer_user, image, batch, added=[FACE],
           candidates=[CandidateFate(boxed.pk, "boxed"), CandidateFate(dismissed.pk, "dismissed"),
                       CandidateFate(left.pk, "left")])  # fmt: skip
    assert ReviewCandidate.objects.get(candidate=left).fate == "left"
    image.refresh_from_db()
    assert list(open_candidates([image])[image.pk]) == [left]
    assert [r.box for r in image_flags([image])[image.pk].regions] == [ELSEWHERE]
    assert flag_resolutions(dataset=dataset) == {"agree": (1, 1), "retinaface": (0, 1)}


def test_a_region_dismissed_once_is_never_flagged_again_on_a_later_run(setup, reviewer_user, admin_user):
    dataset, _run, batch, image, (boxed, dismissed, left) = setup
    submit(reviewer_user, image, batch, added=[FACE], candidates=[
        CandidateFate(boxed.pk, "boxed"), CandidateFate(dismissed.pk, "dismissed"), CandidateFate(left.pk, "dismissed"),
    ])  # fmt: skip
    image_approve(image=image, actor=admin_user)
    # A new detection run finds the same three places again (a little shifted) and one new one.
    later = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = later
    dataset.save()
    for box in (Box(31, 11, 51, 31), Box(101, 61, 125, 91), Box(141, 11, 161, 41), Box(60, 70, 84, 100)):
        CandidateFactory(image=image, run=later, x0=box.x0, y0=box.y0, x1=box.x1, y1=box.y1)
    second_look_update(image_ids=[image.pk])
    image.refresh_from_db()
    # Only the new place is open: the boxed face is under its final box, the two dismissed stay dismissed though
    # the reviews that said so refer to the old run's candidates.
    assert image.second_look_reasons == [{"code": "candidates", "count": 1}]
    [flags] = image_flags([image]).values()
    assert [r.box for r in flags.regions] == [Box(60, 70, 84, 100)]
    assert sorted(b.as_list() for b in not_a_face_regions([image.pk])[image.pk]) == [
        SPOT.as_list(),
        ELSEWHERE.as_list(),
    ]


def test_a_dismissal_outlives_the_review_that_made_it(setup, reviewer_user, admin_user):
    """Sent back and reviewed again by someone who says nothing about the candidate: still not a face."""
    from reviewer.services.approval import image_send_back

    _dataset, _run, batch, image, (_boxed, dismissed, _left) = setup
    submit(reviewer_user, image, batch, added=[FACE], candidates=[CandidateFate(dismissed.pk, "dismissed")])
    image_approve(image=image, actor=admin_user)
    image_send_back(image=image, actor=admin_user, reason="second look")
    assert not ReviewCandidate.objects.filter(candidate=dismissed, review__is_current=True).exists()
    submit(reviewer_user, image, batch, added=[FACE])  # the fast path at submit knows the retired review
    image.refresh_from_db()
    assert image.second_look_reasons == [{"code": "candidates", "count": 1, "buckets": {"centerface": 1}}]


def test_a_candidate_the_export_listed_is_measured_once_as_a_candidate(setup, reviewer_user, admin_user):
    from reviewer.models import Export, Leak

    dataset, _run, batch, image, (_boxed, dismissed, left) = setup
    submit(reviewer_user, image, batch, candidates=[CandidateFate(dismissed.pk, "dismissed")])
    image_approve(image=image, actor=admin_user)
    export = Export.objects.create(dataset=dataset, status=Export.Status.DONE, images_done=1,
                                   options={"leak_check": True})  # fmt: skip
    for box in (left.box, Box(60, 70, 84, 100)):  # the open candidate the export listed; a find of its own
        Leak.objects.create(export=export, image=image, kind="missed", score=0.3, resolution="not_a_face",
                            x0=box.x0, y0=box.y0, x1=box.x1, y1=box.y1)  # fmt: skip
    assert flag_resolutions(dataset=dataset) == {"retinaface": (0, 1), "leak_missed": (0, 1)}
