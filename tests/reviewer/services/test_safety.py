"""The second look: which images the approval queue puts first and why, and leak-check finds sent back."""

from __future__ import annotations

import pytest

from reviewer.errors import Conflict, Forbidden, ServiceError
from reviewer.imaging.geometry import Box
from reviewer.models import AuditEvent, Candidate, Export, Image, Leak, ReviewCandidate
from reviewer.selectors.safety import flagged_regions
from reviewer.selectors.workflow import approval_queue
from reviewer.services.approval import image_approve
from reviewer.services.leaks import leak_dismiss, leaks_send_back
from reviewer.services.lease import lease_acquire
from reviewer.services.review import BoxFate, review_submit
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
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(reviewer_user):
    dataset = DatasetFactory()
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    batch = BatchFactory(dataset=dataset)
    AssignmentFactory(batch=batch, reviewer=reviewer_user)
    images = []
    for i in range(3):
        image = ImageFactory(dataset=dataset, status=Image.Status.DETECTED, relative_path=f"p/{i}.jpg")
        BatchItemFactory(batch=batch, image=image, position=i)
        ProposalFactory(image=image, run=run, ordinal=0, x0=2, y0=2, x1=20, y1=22)
        images.append(image)
    return dataset, run, batch, images


def submit(reviewer, image, batch, fates=None, **kwargs):
    image.refresh_from_db()
    token = lease_acquire(reviewer=reviewer, image=image).token
    if fates is None:
        fates = [BoxFate(fate="accepted", proposal_id=p.pk) for p in image.proposals.all()]
    return review_submit(reviewer=reviewer, image_id=image.pk, batch_id=batch.pk, lease_token=token,
                         revision=image.revision, fates=fates, **kwargs)  # fmt: skip


def test_an_unresolved_candidate_flags_the_image_at_submit(setup, reviewer_user):
    _dataset, run, batch, images = setup
    CandidateFactory(image=images[0], run=run, x0=30, y0=10, x1=50, y1=30)
    CandidateFactory(image=images[1], run=run, x0=4, y0=4, x1=18, y1=20)  # under the accepted proposal: hidden
    submit(reviewer_user, images[0], batch)
    submit(reviewer_user, images[1], batch)
    first, second = (Image.objects.get(pk=i.pk) for i in images[:2])
    assert first.needs_second_look is True
    assert first.second_look_reasons == [{"code": "candidates", "count": 1}]
    assert second.needs_second_look is False
    assert second.second_look_reasons == []


def test_a_candidate_of_an_older_run_does_not_count(setup, reviewer_user):
    dataset, _run, batch, images = setup
    CandidateFactory(image=images[0], run=DetectionRunFactory(dataset=dataset))
    submit(reviewer_user, images[0], batch)
    assert Image.objects.get(pk=images[0].pk).needs_second_look is False


def test_a_dismissed_or_boxed_candidate_is_resolved(setup, reviewer_user):
    _dataset, run, batch, images = setup
    candidate = CandidateFactory(image=images[0], run=run, x0=30, y0=10, x1=50, y1=30)
    result = submit(reviewer_user, images[0], batch)
    assert Image.objects.get(pk=images[0].pk).needs_second_look is True
    ReviewCandidate.objects.create(review=result.review, candidate=candidate, fate="dismissed")
    second_look_update(image_ids=[images[0].pk])
    assert Image.objects.get(pk=images[0].pk).needs_second_look is False
    # A box added over it (what "turn into a box" saves) resolves it as well, with no fate row at all.
    other = CandidateFactory(image=images[1], run=run, x0=30, y0=10, x1=50, y1=30)
    proposal = images[1].proposals.get()
    submit(reviewer_user, images[1], batch, fates=[BoxFate(fate="accepted", proposal_id=proposal.pk),
                                                   BoxFate(fate="added", box=other.box)])  # fmt: skip
    assert Image.objects.get(pk=images[1].pk).needs_second_look is False


def test_no_box_where_the_detector_suggests_faces_is_flagged(setup, reviewer_user):
    _dataset, run, batch, images = setup
    CandidateFactory(image=images[0], run=run)
    proposal = images[0].proposals.get()
    submit(reviewer_user, images[0], batch, fates=[BoxFate(fate="deleted", proposal_id=proposal.pk)])
    image = Image.objects.get(pk=images[0].pk)
    assert image.second_look_reasons == [{"code": "candidates", "count": 1}, {"code": "no_box", "count": 2}]


def test_the_approval_queue_puts_flagged_images_first_with_their_reasons(setup, reviewer_user):
    dataset, run, batch, images = setup
    CandidateFactory(image=images[2], run=run)
    for image in images:
        submit(reviewer_user, image, batch)
    queue = approval_queue(dataset)
    assert [e.image.relative_path for e in queue] == ["p/2.jpg", "p/0.jpg", "p/1.jpg"]
    assert queue[0].needs_attention
    assert queue[0].image.second_look_reasons == [{"code": "candidates", "count": 1}]


def test_approval_recomputes_the_flags_from_the_final_boxes(setup, reviewer_user, admin_user):
    _dataset, run, batch, images = setup
    CandidateFactory(image=images[0], run=run, x0=30, y0=10, x1=50, y1=30)
    submit(reviewer_user, images[0], batch)
    image_approve(image=images[0], actor=admin_user, boxes=[Box(2, 2, 20, 22), Box(30, 10, 50, 30)])
    assert Image.objects.get(pk=images[0].pk).needs_second_look is False


def make_leaks(dataset, run, admin_user, reviewer_user, batch, images):
    for image in images:
        submit(reviewer_user, image, batch)
        image_approve(image=image, actor=admin_user)
    export = Export.objects.create(dataset=dataset, status=Export.Status.DONE, images_done=3,
                                   options={"leak_check": True})  # fmt: skip
    leaks = [
        Leak.objects.create(export=export, image=images[0], kind="missed", score=0.4, x0=30, y0=10, x1=50, y1=30),
        Leak.objects.create(export=export, image=images[1], kind="residual", score=0.3, x0=3, y0=3, x1=19, y1=21),
    ]
    from reviewer.services.safety import second_look_after_leak_check

    second_look_after_leak_check(export=export)
    return export, leaks


def test_leak_finds_flag_their_images(setup, reviewer_user, admin_user):
    dataset, run, batch, images = setup
    _export, _leaks = make_leaks(dataset, run, admin_user, reviewer_user, batch, images)
    first, second, third = (Image.objects.get(pk=i.pk) for i in images)
    assert first.second_look_reasons == [{"code": "leak_missed", "count": 1}]
    assert second.second_look_reasons == [{"code": "leak_residual", "count": 1}]
    assert third.needs_second_look is False
    listed = {image.relative_path: [r.kind for r in f.regions] for image, f in flagged_regions(dataset=dataset)}
    assert listed == {"p/0.jpg": ["missed"], "p/1.jpg": ["residual"]}


def test_a_leak_find_on_an_unresolved_candidate_is_one_flag_until_the_candidate_is_dismissed(
    setup, reviewer_user, admin_user
):
    dataset, run, batch, images = setup
    candidate = CandidateFactory(image=images[0], run=run, x0=32, y0=12, x1=52, y1=32)  # where the leak is found
    CandidateFactory(image=images[0], run=run, x0=100, y0=100, x1=120, y1=124)  # elsewhere: a flag of its own
    make_leaks(dataset, run, admin_user, reviewer_user, batch, images)
    first = Image.objects.get(pk=images[0].pk)
    assert first.second_look_reasons == [{"code": "candidates", "count": 2}]
    [(_image, flags)] = [(i, f) for i, f in flagged_regions(dataset=dataset) if i.pk == first.pk]
    assert sorted(r.kind for r in flags.regions) == ["candidate", "candidate"]
    # "Not a face" on the candidate settles the find in the same place too (IoU 0.68 >= 0.5): a person's word
    # on a region is not asked for again.
    approval_review = first.reviews.get(is_current=True)
    ReviewCandidate.objects.create(review=approval_review, candidate=candidate, fate="dismissed")
    second_look_update(image_ids=[first.pk])
    first.refresh_from_db()
    assert first.second_look_reasons == [{"code": "candidates", "count": 1}]


def test_a_find_that_only_touches_a_dismissed_region_is_still_shown_to_an_admin(setup, reviewer_user, admin_user):
    dataset, run, batch, images = setup
    candidate = CandidateFactory(image=images[0], run=run, x0=36, y0=16, x1=60, y1=40)  # IoU 0.25 with the find
    make_leaks(dataset, run, admin_user, reviewer_user, batch, images)
    first = Image.objects.get(pk=images[0].pk)
    ReviewCandidate.objects.create(review=first.reviews.get(is_current=True), candidate=candidate, fate="dismissed")
    second_look_update(image_ids=[first.pk])
    first.refresh_from_db()
    assert first.second_look_reasons == [{"code": "leak_missed", "count": 1}]


def test_one_leak_sent_back_goes_to_review_with_a_candidate_where_the_face_is(setup, reviewer_user, admin_user):
    dataset, run, batch, images = setup
    export, leaks = make_leaks(dataset, run, admin_user, reviewer_user, batch, images)
    result = leaks_send_back(export=export, actor=admin_user, leak_ids=[leaks[0].pk])
    assert result.sent_back == [images[0].pk]
    first, second = Image.objects.get(pk=images[0].pk), Image.objects.get(pk=images[1].pk)
    assert first.status == Image.Status.DETECTED
    assert second.status == Image.Status.APPROVED
    candidate = Candidate.objects.get(image=first, source="recall_pass")
    assert candidate.box.as_list() == [30, 10, 50, 30]
    event = AuditEvent.objects.get(verb="image.sent_back", object_id=str(first.pk))
    assert "missed face at [30, 10, 50, 30]" in event.data["reason"]


def test_all_flagged_leaks_go_back_at_once(setup, reviewer_user, admin_user):
    dataset, run, batch, images = setup
    export, _leaks = make_leaks(dataset, run, admin_user, reviewer_user, batch, images)
    result = leaks_send_back(export=export, actor=admin_user)
    assert sorted(result.sent_back) == [images[0].pk, images[1].pk]
    statuses = dict(Image.objects.filter(dataset=dataset).values_list("relative_path", "status"))
    assert statuses == {"p/0.jpg": "detected", "p/1.jpg": "detected", "p/2.jpg": "approved"}


def test_send_back_refuses_reviewers_and_other_exports_finds(setup, reviewer_user, admin_user):
    dataset, run, batch, images = setup
    export, leaks = make_leaks(dataset, run, admin_user, reviewer_user, batch, images)
    with pytest.raises(Forbidden):
        leaks_send_back(export=export, actor=reviewer_user)
    other = Export.objects.create(dataset=dataset, status=Export.Status.DONE)
    with pytest.raises(ServiceError, match="not open finds of this export"):
        leaks_send_back(export=other, actor=admin_user, leak_ids=[leaks[0].pk])
    assert Image.objects.get(pk=images[0].pk).status == Image.Status.APPROVED


def test_a_leak_dismissed_as_not_a_face_stops_flagging(setup, reviewer_user, admin_user):
    dataset, run, batch, images = setup
    _export, leaks = make_leaks(dataset, run, admin_user, reviewer_user, batch, images)
    leak_dismiss(leak=leaks[1], actor=admin_user)
    assert Image.objects.get(pk=images[1].pk).needs_second_look is False
    assert Leak.objects.get(pk=leaks[1].pk).resolved_by == admin_user
    assert AuditEvent.objects.filter(verb="leak.dismissed", object_id=str(leaks[1].pk)).exists()
    with pytest.raises(Conflict, match="already resolved"):
        leak_dismiss(leak=leaks[1], actor=admin_user)
    with pytest.raises(Forbidden):
        leak_dismiss(leak=leaks[0], actor=UserFactory())


def test_a_residual_find_is_stale_once_the_final_boxes_change(setup, reviewer_user, admin_user):
    from reviewer.models import ExportItem

    dataset, run, batch, images = setup
    export, _leaks = make_leaks(dataset, run, admin_user, reviewer_user, batch, images)
    ExportItem.objects.create(export=export, image=images[1], output_path="p/1.jpg", source_sha256="x",
                              output_sha256="y", boxes=[[2.0, 2.0, 20.0, 22.0]])  # fmt: skip
    second_look_update(image_ids=[images[1].pk])
    assert Image.objects.get(pk=images[1].pk).second_look_reasons == [{"code": "leak_residual", "count": 1}]
    # Re-approved with the same box: the blur that failed is still the one that would go out.
    image_approve(image=images[1], actor=admin_user, boxes=[Box(2, 2, 20, 22)])
    assert Image.objects.get(pk=images[1].pk).needs_second_look is True
    # A larger box: the find was about a blur that no longer applies; the next leak check looks again.
    image_approve(image=images[1], actor=admin_user, boxes=[Box(0, 0, 24, 26)])
    assert Image.objects.get(pk=images[1].pk).needs_second_look is False


def test_review_and_leak_events_know_their_dataset_for_the_audit_log(setup, reviewer_user, admin_user):
    dataset, run, batch, images = setup
    _export, leaks = make_leaks(dataset, run, admin_user, reviewer_user, batch, images)

    leak_dismiss(leak=leaks[1], actor=admin_user)

    for verb in ("review.submitted", "leak.dismissed"):
        events = AuditEvent.objects.filter(verb=verb)
        assert events.exists()
        assert set(events.values_list("dataset_id", flat=True)) == {dataset.pk}, verb
