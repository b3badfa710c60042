"""Leases, next-image and review submit: what a reviewer saves, and every way a save is refused."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from reviewer.errors import Conflict, NotFound, ServiceError
from reviewer.imaging.geometry import Box
from reviewer.models import Assignment, Image, Lease, Review, ReviewBox, ReviewCandidate
from reviewer.selectors.review import batch_items_needing_review, batches_of_reviewer
from reviewer.selectors.safety import image_flags
from reviewer.services.lease import image_next_for_review, lease_acquire
from reviewer.services.review import BoxFate, CandidateFate, batch_take, review_submit
from tests.factories import (
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    CandidateFactory,
    DatasetFactory,
    DetectionRunFactory,
    GoldBoxFactory,
    ImageFactory,
    ProposalFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def make_batch(reviewer, n=3, *, reviews_required=1, proposals=True):
    dataset = DatasetFactory(reviews_required=reviews_required)
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    batch = BatchFactory(dataset=dataset)
    images = []
    for i in range(n):
        image = ImageFactory(dataset=dataset, status=Image.Status.DETECTED)
        BatchItemFactory(batch=batch, image=image, position=i)
        if proposals:
            ProposalFactory(image=image, run=run, ordinal=0, score=0.9, x0=10, y0=8, x1=30, y1=32)
        images.append(image)
    AssignmentFactory(batch=batch, reviewer=reviewer)
    return batch, images


def submit(reviewer, image, batch, *, fates=None, token=None, revision=None, **kwargs):
    image.refresh_from_db()
    if token is None:
        lease = lease_acquire(reviewer=reviewer, image=image)
        token = lease.token if lease else ""  # an image I saved before takes no lease
    if fates is None:
        fates = [BoxFate(fate="accepted", proposal_id=p.pk) for p in image.proposals.all()]
    return review_submit(
        reviewer=reviewer,
        image_id=image.pk,
        batch_id=batch.pk,
        lease_token=token,
        revision=image.revision if revision is None else revision,
        fates=fates,
        **kwargs,
    )


def test_submit_saves_every_fate_in_original_pixels_and_marks_the_image_reviewed(reviewer_user):
    batch, [image, *_] = make_batch(reviewer_user)
    second = ProposalFactory(image=image, run=image.dataset.current_detection_run, ordinal=1, x0=40, y0=5, x1=60, y1=30)
    third = ProposalFactory(image=image, run=image.dataset.current_detection_run, ordinal=2, x0=1, y0=1, x1=9, y1=9)
    first = image.proposals.get(ordinal=0)
    result = submit(
        reviewer_user,
        image,
        batch,
        fates=[
            BoxFate(fate="accepted", proposal_id=first.pk),
            BoxFate(fate="adjusted", proposal_id=second.pk, box=Box(41.5, 6.25, 58.75, 29.5)),
            BoxFate(fate="deleted", proposal_id=third.pk),
            BoxFate(fate="added", box=Box(2, 30, 12, 46)),
        ],
        is_unsure=True,
        seconds_spent=7.5,
    )
    review = result.review
    boxes = {(b.proposal_id, b.fate): b.box.as_list() for b in review.boxes.all()}
    assert boxes == {
        (first.pk, "accepted"): [10, 8, 30, 32],
        (second.pk, "adjusted"): [41.5, 6.25, 58.75, 29.5],
        (third.pk, "deleted"): [1, 1, 9, 9],
        (None, "added"): [2, 30, 12, 46],
    }
    assert review.is_unsure
    assert not review.has_no_faces
    assert review.seconds_spent == 7.5
    assert review.assignment.batch == batch
    assert review.detection_run == image.dataset.current_detection_run
    image.refresh_from_db()
    assert image.status == Image.Status.REVIEWED
    assert image.revision == 1
    assert not Lease.objects.filter(image=image).exists()


def test_image_stays_in_review_until_it_has_enough_current_reviews(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1, reviews_required=2)
    other = UserFactory()
    AssignmentFactory(batch=batch, reviewer=other)
    submit(reviewer_user, image, batch)
    image.refresh_from_db()
    assert image.status == Image.Status.IN_REVIEW
    submit(other, image, batch)
    image.refresh_from_db()
    assert image.status == Image.Status.REVIEWED
    assert image.revision == 2


def test_reopening_makes_a_new_current_review_that_supersedes_the_old_one(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1, reviews_required=2)
    old = submit(reviewer_user, image, batch).review
    proposal = image.proposals.get()
    new = submit(reviewer_user, image, batch, fates=[BoxFate(fate="deleted", proposal_id=proposal.pk)]).review
    old.refresh_from_db()
    assert not old.is_current
    assert new.is_current
    assert new.supersedes == old
    assert Review.objects.filter(image=image, is_current=True).count() == 1
    image.refresh_from_db()
    # Still one reviewer's answer: the second review of the same person does not count twice.
    assert image.status == Image.Status.IN_REVIEW


def test_every_proposal_needs_exactly_one_fate(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1)
    proposal = image.proposals.get()
    with pytest.raises(ServiceError, match="needs a fate"):
        submit(reviewer_user, image, batch, fates=[])
    with pytest.raises(ServiceError, match="two fates"):
        submit(
            reviewer_user,
            image,
            batch,
            fates=[BoxFate(fate="accepted", proposal_id=proposal.pk), BoxFate(fate="deleted", proposal_id=proposal.pk)],
        )
    with pytest.raises(ServiceError, match="no proposal"):
        submit(reviewer_user, image, batch, fates=[BoxFate(fate="added", proposal_id=proposal.pk, box=Box(1, 1, 5, 5))])
    assert not Review.objects.exists()


def test_unknown_proposal_is_a_conflict_asking_to_reload(reviewer_user):
    batch, [image, other] = make_batch(reviewer_user, n=2)
    foreign = other.proposals.get()
    fates = [
        BoxFate(fate="accepted", proposal_id=image.proposals.get().pk),
        BoxFate(fate="deleted", proposal_id=foreign.pk),
    ]
    with pytest.raises(Conflict, match="reload"):
        submit(reviewer_user, image, batch, fates=fates)


def test_boxes_are_clamped_to_the_image_and_degenerate_ones_refused(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1, proposals=False)  # 64x48
    result = submit(reviewer_user, image, batch, fates=[BoxFate(fate="added", box=Box(-5, 40, 20, 60))])
    assert result.review.boxes.get().box.as_list() == [0, 40, 20, 48]
    for bad, message in [
        (Box(10, 10, 10, 20), "inverted or empty"),
        (Box(70, 10, 90, 20), "outside the 64x48 image"),
        (Box(float("nan"), 1, 5, 5), "not a finite number"),
    ]:
        with pytest.raises(ServiceError, match=message) as excinfo:
            submit(reviewer_user, image, batch, fates=[BoxFate(fate="added", box=bad)])
        assert excinfo.value.http_status == 400


def test_no_faces_with_kept_boxes_is_refused(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1)
    with pytest.raises(ServiceError, match="no faces here"):
        submit(reviewer_user, image, batch, has_no_faces=True)
    proposal = image.proposals.get()
    review = submit(
        reviewer_user, image, batch, has_no_faces=True, fates=[BoxFate(fate="deleted", proposal_id=proposal.pk)]
    ).review
    assert review.has_no_faces


def test_images_outside_my_active_assignments_are_not_found(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1)
    stranger = UserFactory()
    with pytest.raises(NotFound):
        submit(stranger, image, batch, token="x")
    Assignment.objects.filter(reviewer=reviewer_user).update(status=Assignment.Status.REVOKED)
    with pytest.raises(NotFound):
        submit(reviewer_user, image, batch, token="x")
    with pytest.raises(NotFound):
        lease_acquire(reviewer=reviewer_user, image=image)


def test_approved_images_can_no_longer_be_changed(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1)
    token = lease_acquire(reviewer=reviewer_user, image=image).token
    Image.objects.filter(pk=image.pk).update(status=Image.Status.APPROVED)
    with pytest.raises(NotFound, match="approved"):
        submit(reviewer_user, image, batch, token=token)


def test_lease_is_renewed_for_its_holder_and_refused_to_others(reviewer_user, settings):
    settings.VEIL_LEASE_SECONDS = 120
    batch, [image] = make_batch(reviewer_user, n=1)
    other = UserFactory()
    AssignmentFactory(batch=batch, reviewer=other)
    first = lease_acquire(reviewer=reviewer_user, image=image)
    again = lease_acquire(reviewer=reviewer_user, image=image)
    assert again.token == first.token
    assert again.expires_at >= first.expires_at
    assert 110 < (again.expires_at - timezone.now()).total_seconds() <= 120
    with pytest.raises(Conflict, match="Another reviewer is working on this image"):
        lease_acquire(reviewer=other, image=image)
    Lease.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    taken = lease_acquire(reviewer=other, image=image)
    assert taken.reviewer == other
    assert taken.token != first.token


def test_save_after_lease_expired_and_taken_by_someone_else_is_refused(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1)
    other = UserFactory()
    AssignmentFactory(batch=batch, reviewer=other)
    token = lease_acquire(reviewer=reviewer_user, image=image).token
    Lease.objects.filter(image=image).update(expires_at=timezone.now() - timedelta(seconds=1))
    lease_acquire(reviewer=other, image=image)
    with pytest.raises(Conflict, match="another reviewer has taken it") as excinfo:
        submit(reviewer_user, image, batch, token=token)
    assert excinfo.value.http_status == 409
    assert not Review.objects.exists()


def test_save_after_lease_expired_that_nobody_took_goes_through(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1)
    token = lease_acquire(reviewer=reviewer_user, image=image).token
    Lease.objects.filter(image=image).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert submit(reviewer_user, image, batch, token=token).review.is_current


def test_a_save_from_a_superseded_lease_is_refused_and_the_current_lease_saves(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1)
    old = lease_acquire(reviewer=reviewer_user, image=image).token
    Lease.objects.filter(image=image).update(expires_at=timezone.now() - timedelta(seconds=1))
    Lease.objects.filter(image=image).delete()  # ran out and was cleared; the image is opened again in a new tab
    new = lease_acquire(reviewer=reviewer_user, image=image).token
    assert new != old
    with pytest.raises(Conflict, match="replaced by a newer one") as excinfo:
        submit(reviewer_user, image, batch, token=old)
    assert (excinfo.value.http_status, excinfo.value.code) == (409, "lease_superseded")
    assert not Review.objects.exists()
    assert submit(reviewer_user, image, batch, token=new).review.is_current


def test_a_retried_save_with_the_same_request_id_answers_as_saved_and_writes_nothing(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1)
    token = lease_acquire(reviewer=reviewer_user, image=image).token
    first = submit(reviewer_user, image, batch, token=token, revision=0, request_id="save-0001-abcd")
    # The answer was lost after the commit; the page sends the same save again, with its old revision and token.
    again = submit(reviewer_user, image, batch, token=token, revision=0, request_id="save-0001-abcd")
    assert again.review.pk == first.review.pk
    assert again.image.revision == first.image.revision == 1
    assert again.image.status == Image.Status.REVIEWED
    assert Review.objects.filter(image=image).count() == 1
    assert ReviewBox.objects.filter(review__image=image).count() == 1
    # Another save of the same stale revision (a new request id) is still the 409 it should be.
    with pytest.raises(Conflict, match="changed since you opened it"):
        submit(reviewer_user, image, batch, token=token, revision=0, request_id="save-0002-abcd")


@pytest.mark.django_db(transaction=True)
def test_the_same_save_sent_twice_at_once_answers_both_as_saved_and_writes_one_review():
    """A double send racing on the image's lock: the second waits while the first commits, then answers with the
    first's review, never a 409 "nothing was saved" (each thread on its own connection; PostgreSQL locks)."""
    reviewer = UserFactory()
    batch, [image] = make_batch(reviewer, n=1)
    token = lease_acquire(reviewer=reviewer, image=image).token
    proposal = image.proposals.get().pk
    barrier = threading.Barrier(2)
    answers: list = []

    def send():
        try:
            barrier.wait()
            result = review_submit(
                reviewer=reviewer, image_id=image.pk, batch_id=batch.pk, lease_token=token, revision=0,
                fates=[BoxFate(fate="accepted", proposal_id=proposal)], request_id="double-0001-abcd",
            )  # fmt: skip
            answers.append(result.review.pk)
        except Exception as exc:  # the assertion below shows it
            answers.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    saved = Review.objects.get(image=image)
    assert answers == [saved.pk, saved.pk]
    assert ReviewBox.objects.filter(review__image=image).count() == 1
    assert Image.objects.get(pk=image.pk).revision == 1


def test_a_request_id_is_per_reviewer(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1)
    other = UserFactory()
    AssignmentFactory(batch=batch, reviewer=other)
    Image.objects.filter(pk=image.pk).update(status=Image.Status.DETECTED)
    mine = submit(reviewer_user, image, batch, request_id="same-id-0001")
    theirs = submit(other, image, batch, request_id="same-id-0001")  # a different reviewer's save, not a retry
    assert theirs.review.pk != mine.review.pk
    assert theirs.review.reviewer == other


def test_stale_revision_is_refused(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1)
    opened_at = image.revision
    submit(reviewer_user, image, batch)
    with pytest.raises(Conflict, match="changed since you opened it") as excinfo:
        submit(reviewer_user, image, batch, revision=opened_at)
    assert excinfo.value.extra["revision"] == opened_at + 1
    assert Review.objects.count() == 1


def test_gold_images_are_scored_and_misses_returned(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1, proposals=False)
    Image.objects.filter(pk=image.pk).update(is_gold=True)
    GoldBoxFactory(image=image, x0=10, y0=8, x1=30, y1=32)
    GoldBoxFactory(image=image, x0=40, y0=10, x1=56, y1=30)
    result = submit(
        reviewer_user,
        image,
        batch,
        fates=[BoxFate(fate="added", box=Box(11, 9, 30, 31)), BoxFate(fate="added", box=Box(0, 36, 8, 46))],
    )
    assert (result.review.gold_misses, result.review.gold_extras) == (1, 1)
    assert [b.as_list() for b in result.missed_gold] == [[40, 10, 56, 30]]


def test_non_gold_reviews_have_no_score(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1)
    review = submit(reviewer_user, image, batch).review
    assert review.gold_misses is None
    assert review.gold_extras is None


def test_next_image_follows_batch_order_and_skips_what_is_done_or_leased(reviewer_user):
    batch, images = make_batch(reviewer_user, n=4)
    other = UserFactory()
    AssignmentFactory(batch=batch, reviewer=other)
    submit(reviewer_user, images[0], batch)
    lease_acquire(reviewer=other, image=images[1])
    image, lease = image_next_for_review(reviewer=reviewer_user, batch_id=batch.pk)
    assert image == images[2]
    assert lease.reviewer == reviewer_user
    # After the current image, then wrapping around; the current one is never handed back.
    image, _ = image_next_for_review(reviewer=reviewer_user, batch_id=batch.pk, after_image_id=images[2].pk)
    assert image == images[3]
    image, _ = image_next_for_review(reviewer=reviewer_user, batch_id=batch.pk, after_image_id=images[3].pk)
    assert image == images[2]
    assert (
        image_next_for_review(
            reviewer=reviewer_user, batch_id=batch.pk, after_image_id=images[3].pk, exclude_ids=(images[2].pk,)
        )
        is None
    )


def test_next_image_never_hands_one_image_to_two_reviewers(reviewer_user):
    batch, images = make_batch(reviewer_user, n=3)
    others = [UserFactory() for _ in range(3)]
    for other in others:
        AssignmentFactory(batch=batch, reviewer=other)
    handed = [image_next_for_review(reviewer=r, batch_id=batch.pk) for r in [reviewer_user, *others]]
    got = [h[0].pk for h in handed if h]
    assert sorted(got) == sorted(i.pk for i in images)
    assert handed[-1] is None  # three images, four reviewers: the fourth gets nothing rather than a shared one


def test_next_image_skips_images_reviewed_enough_or_approved(reviewer_user):
    batch, images = make_batch(reviewer_user, n=2)
    Image.objects.filter(pk=images[0].pk).update(status=Image.Status.REVIEWED)
    Image.objects.filter(pk=images[1].pk).update(status=Image.Status.APPROVED)
    assert image_next_for_review(reviewer=reviewer_user, batch_id=batch.pk) is None


def test_next_image_needs_an_active_assignment(reviewer_user):
    batch, _ = make_batch(reviewer_user, n=1)
    with pytest.raises(NotFound):
        image_next_for_review(reviewer=UserFactory(), batch_id=batch.pk)


def test_taking_a_pool_batch_assigns_it_once(reviewer_user):
    pool = BatchFactory(is_pool=True)
    first = batch_take(reviewer=reviewer_user, batch=pool)
    again = batch_take(reviewer=reviewer_user, batch=pool)
    assert first == again
    assert first.status == Assignment.Status.ACTIVE
    with pytest.raises(NotFound):
        batch_take(reviewer=reviewer_user, batch=BatchFactory(is_pool=False))
    first.status = Assignment.Status.REVOKED
    first.save()
    with pytest.raises(NotFound, match="taken away"):
        batch_take(reviewer=reviewer_user, batch=pool)


def test_review_box_rows_cover_each_proposal_once(reviewer_user):
    batch, [image] = make_batch(reviewer_user, n=1)
    review = submit(reviewer_user, image, batch).review
    assert list(review.boxes.values_list("fate", flat=True)) == [ReviewBox.Fate.ACCEPTED]


@pytest.mark.django_db(transaction=True)
def test_reviewers_racing_for_the_next_image_never_share_one():
    """Real concurrent requests, each thread on its own database connection (SKIP LOCKED on PostgreSQL)."""
    reviewers = [UserFactory() for _ in range(6)]
    batch, images = make_batch(reviewers[0], n=4)
    for reviewer in reviewers[1:]:
        AssignmentFactory(batch=batch, reviewer=reviewer)
    barrier = threading.Barrier(len(reviewers))
    handed: dict[int, int | None] = {}

    def take(reviewer):
        try:
            barrier.wait()
            found = image_next_for_review(reviewer=reviewer, batch_id=batch.pk)
            handed[reviewer.pk] = found[0].pk if found else None
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(r,)) for r in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got = [image_id for image_id in handed.values() if image_id is not None]
    assert len(handed) == len(reviewers)
    assert len(got) == len(set(got)) == len(images)
    assert {lease.reviewer_id: lease.image_id for lease in Lease.objects.all()} == {
        reviewer: image for reviewer, image in handed.items() if image is not None
    }


def test_approved_gold_images_stay_reviewable_and_approved(reviewer_user):
    batch, [image, other] = make_batch(reviewer_user, n=2)
    Image.objects.filter(pk=image.pk).update(status=Image.Status.APPROVED, is_gold=True)
    Image.objects.filter(pk=other.pk).update(status=Image.Status.APPROVED)
    GoldBoxFactory(image=image, x0=10, y0=8, x1=30, y1=32)
    found, _ = image_next_for_review(reviewer=reviewer_user, batch_id=batch.pk)
    assert found == image
    result = submit(reviewer_user, image, batch)
    assert result.review.gold_misses == 0
    image.refresh_from_db()
    assert image.status == Image.Status.APPROVED
    assert image_next_for_review(reviewer=reviewer_user, batch_id=batch.pk) is None


def _candidates(image, n=2):
    run = image.dataset.current_detection_run
    return [
        CandidateFactory(image=image, run=run, ordinal=i, x0=35 + 10 * i, y0=5, x1=44 + 10 * i, y1=15) for i in range(n)
    ]


def test_candidate_fates_are_stored_and_the_boxed_one_saved_as_an_added_box(reviewer_user):
    batch, images = make_batch(reviewer_user, n=1)
    image = images[0]
    boxed, dismissed, never_shown = _candidates(image, n=3)
    fates = [BoxFate(fate="accepted", proposal_id=image.proposals.get().pk), BoxFate(fate="added", box=boxed.box)]
    result = submit(
        reviewer_user,
        image,
        batch,
        fates=fates,
        candidates=[CandidateFate(boxed.pk, "boxed"), CandidateFate(dismissed.pk, "dismissed")],
    )
    rows = ReviewCandidate.objects.filter(review=result.review).order_by("candidate__ordinal")
    assert [(r.candidate_id, r.fate) for r in rows] == [(boxed.pk, "boxed"), (dismissed.pk, "dismissed")]
    assert not ReviewCandidate.objects.filter(candidate=never_shown).exists()
    added = ReviewBox.objects.get(review=result.review, fate="added")
    assert [added.x0, added.y0, added.x1, added.y1] == [35, 5, 44, 15]


def test_candidate_fates_boxed_dismissed_and_shown_and_left_and_only_the_left_one_still_flags(reviewer_user):
    """A candidate shown and left open is recorded (the reviewer saw it) but not resolved: the image stays
    flagged for a second look with that one region; boxed and dismissed ones no longer flag."""
    batch, images = make_batch(reviewer_user, n=1)
    image = images[0]
    boxed, dismissed, left = _candidates(image, n=3)
    fates = [BoxFate(fate="accepted", proposal_id=image.proposals.get().pk), BoxFate(fate="added", box=boxed.box)]
    shown = [CandidateFate(boxed.pk, "boxed"), CandidateFate(dismissed.pk, "dismissed"), CandidateFate(left.pk, "left")]
    result = submit(reviewer_user, image, batch, fates=fates, candidates=shown)
    rows = ReviewCandidate.objects.filter(review=result.review).order_by("candidate__ordinal")
    assert [(r.candidate_id, r.fate) for r in rows] == [
        (boxed.pk, "boxed"),
        (dismissed.pk, "dismissed"),
        (left.pk, "left"),
    ]
    image.refresh_from_db()
    assert image.needs_second_look
    assert image.second_look_reasons == [{"code": "candidates", "count": 1}]
    [region] = image_flags([image])[image.pk].regions
    assert (region.kind, region.ref) == ("candidate", left.pk)


@pytest.mark.parametrize(
    ("which", "fate", "message"),
    [
        ("unknown", "dismissed", "is not a candidate of this image in its current detection run"),
        ("other_image", "dismissed", "is not a candidate of this image in its current detection run"),
        ("old_run", "dismissed", "is not a candidate of this image in its current detection run"),
        ("mine", "ignored", "Unknown candidate fate 'ignored': use boxed, dismissed or left."),
        ("mine", "boxed", "marked boxed but only 0 added box(es)"),
        ("twice", "dismissed", "was given two fates"),
    ],
)
def test_hostile_candidate_fates_are_refused_and_nothing_is_saved(reviewer_user, which, fate, message):
    batch, images = make_batch(reviewer_user, n=2)
    image, other = images
    [mine] = _candidates(image, n=1)
    [theirs] = _candidates(other, n=1)
    stale = CandidateFactory(image=image, run=DetectionRunFactory(dataset=image.dataset), ordinal=0)
    ids = {"unknown": [999_999], "other_image": [theirs.pk], "old_run": [stale.pk], "mine": [mine.pk]}
    ids["twice"] = [mine.pk, mine.pk]
    with pytest.raises(ServiceError) as exc:
        submit(reviewer_user, image, batch, candidates=[CandidateFate(i, fate) for i in ids[which]])
    assert message in str(exc.value)
    assert exc.value.http_status == 400
    assert not Review.objects.exists()
    assert not ReviewCandidate.objects.exists()


def test_a_review_without_candidates_writes_no_candidate_rows(reviewer_user):
    batch, images = make_batch(reviewer_user, n=1)
    _candidates(images[0])
    submit(reviewer_user, images[0], batch)
    assert Review.objects.count() == 1
    assert not ReviewCandidate.objects.exists()


def test_a_lease_left_by_a_reviewer_who_saved_the_image_hides_it_from_nobody(reviewer_user):
    """A renewal that raced past the save left a live lease of someone who no longer needs the image."""
    batch, images = make_batch(reviewer_user, n=3, reviews_required=2)
    other = UserFactory()
    AssignmentFactory(batch=batch, reviewer=other)
    submit(reviewer_user, images[0], batch)
    now = timezone.now()
    Lease.objects.create(
        image=images[0], reviewer=reviewer_user, token="left-over", acquired_at=now, expires_at=now + timedelta(hours=1)
    )
    [progress] = batches_of_reviewer(reviewer=other)
    assert (progress.done, progress.left) == (0, 3)
    assert [i.image_id for i in batch_items_needing_review(reviewer=other, batch=batch)] == [i.pk for i in images]
    image, lease = image_next_for_review(reviewer=other, batch_id=batch.pk)
    assert image == images[0]
    assert (lease.reviewer, Lease.objects.get(image=images[0]).reviewer) == (other, other)
    assert lease.token != "left-over"


def test_lease_acquire_gives_no_lease_on_an_image_i_have_saved(reviewer_user):
    batch, [image, *_] = make_batch(reviewer_user, n=2, reviews_required=2)
    submit(reviewer_user, image, batch)
    other = UserFactory()
    AssignmentFactory(batch=batch, reviewer=other)
    assert lease_acquire(reviewer=reviewer_user, image=image) is None
    assert not Lease.objects.filter(image=image).exists()
    # A lease of mine that raced past the save is dropped, and another reviewer takes over one that remains.
    now = timezone.now()
    Lease.objects.create(image=image, reviewer=reviewer_user, token="t", acquired_at=now, expires_at=now + timedelta(1))
    assert lease_acquire(reviewer=other, image=image).reviewer == other
    # Changing my answer needs no lease while nobody else holds one.
    Lease.objects.filter(image=image).delete()
    assert submit(reviewer_user, image, batch, token="").review.supersedes_id is not None


def test_a_reviewer_holds_a_few_leases_however_far_next_is_walked(reviewer_user, settings):
    """A client calling next with a growing exclude list used to lease the whole batch."""
    settings.VEIL_LEASES_PER_REVIEWER = 4
    batch, images = make_batch(reviewer_user, n=8)
    handed = []
    for _ in images:
        image, lease = image_next_for_review(reviewer=reviewer_user, batch_id=batch.pk, exclude_ids=tuple(handed))
        assert Lease.objects.get(image=image).token == lease.token  # the image handed out is leased
        handed.append(image.pk)
    assert handed == [i.pk for i in images]
    held = Lease.objects.filter(reviewer=reviewer_user)
    assert held.count() == 4
    assert set(held.values_list("image_id", flat=True)) == set(handed[-4:])  # the most recent ones
    # Opening images one by one (the lease call) is held to the same number.
    for image in images[:3]:
        lease_acquire(reviewer=reviewer_user, image=image)
    assert held.count() == 4
    assert images[2].pk in held.values_list("image_id", flat=True)
