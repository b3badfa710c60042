"""The reviewer's writes: taking a pool batch, and submitting (or resubmitting) the review of one image."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from reviewer import policies
from reviewer.imaging.consolidate import missed_gold
from reviewer.imaging.geometry import Box, InvalidBox, validate
from reviewer.models import Assignment, Batch, Candidate, Image, Proposal, Review, ReviewBox, ReviewCandidate
from reviewer.services.audit import audit_record
from reviewer.services.errors import Conflict, Forbidden, NotFound, ServiceError
from reviewer.services.lease import active_assignment, lease_check_for_save, lease_release
from reviewer.services.safety import second_look_update
from reviewer.services.summaries import ReviewRow, image_reviews_snapshot, summaries_apply

GOLD_IOU = 0.5
# A review that took longer than this was left open, not worked on: cap it so time statistics stay honest.
MAX_SECONDS_SPENT = 3600.0


@dataclass(frozen=True)
class BoxFate:
    """What the reviewer did with one box: a proposal's fate (box only when adjusted) or an added box."""

    fate: str
    proposal_id: int | None = None
    box: Box | None = None


@dataclass(frozen=True)
class CandidateFate:
    """What the reviewer made of one candidate shown to them: turned into a box (boxed) or dismissed."""

    candidate_id: int
    fate: str


@dataclass
class SubmitResult:
    review: Review
    image: Image
    # Gold boxes no kept box overlapped (IoU >= 0.5): shown to the reviewer as "you missed a face here".
    missed_gold: list[Box] = field(default_factory=list)


def batch_take(*, reviewer, batch: Batch) -> Assignment:
    """Take a pool batch: creates (or reactivates) the reviewer's active assignment of it.

    Refuses with NotFound for batches that are not in the pool or users who are not reviewers, and with
    Forbidden before the reviewer passed the dataset's qualification round (policies.can_take_pool_batch).
    """
    if not policies.is_reviewer(reviewer) or not batch.is_pool:
        raise NotFound("No such batch in the pool.")
    if not policies.can_take_pool_batch(reviewer, batch):
        raise Forbidden("Pass this dataset's qualification round before taking its pool batches.", code="not_qualified")
    with transaction.atomic():
        assignment, created = Assignment.objects.get_or_create(
            batch=batch, reviewer=reviewer, defaults={"status": Assignment.Status.ACTIVE}
        )
        if not created and assignment.status == Assignment.Status.REVOKED:
            raise NotFound("This batch was taken away from you; ask an admin.")
        if created:
            audit_record(actor=reviewer, verb="batch.taken", obj=assignment, batch=batch.pk)
    return assignment


def _parse_fates(*, fates: list[BoxFate], proposals: dict[int, Proposal], image: Image) -> list[ReviewBox]:
    """Check every shown proposal gets exactly one fate and every box fits the image; build unsaved rows."""
    rows: list[ReviewBox] = []
    seen: set[int] = set()
    for item in fates:
        if item.fate not in ReviewBox.Fate.values:
            raise ServiceError(f"Unknown fate {item.fate!r}: use accepted, adjusted, deleted or added.")
        if item.fate == ReviewBox.Fate.ADDED:
            if item.proposal_id is not None:
                raise ServiceError("An added box has no proposal.")
            box = item.box
        else:
            proposal = proposals.get(item.proposal_id)
            if proposal is None:
                raise Conflict(
                    f"Proposal {item.proposal_id} is not among this image's current proposals; reload the image.",
                    code="proposals_changed",
                )
            if item.proposal_id in seen:
                raise ServiceError(f"Proposal {item.proposal_id} was given two fates; each gets exactly one.")
            seen.add(item.proposal_id)
            box = item.box if item.fate == ReviewBox.Fate.ADJUSTED else proposal.box
        if box is None:
            raise ServiceError(f"A box with fate {item.fate!r} needs its coordinates.")
        try:
            box = validate(box, image.width, image.height)
        except InvalidBox as exc:
            raise ServiceError(f"Box refused: {exc}.", code="invalid_box") from exc
        row = ReviewBox(proposal_id=item.proposal_id, fate=item.fate)
        row.set_box(box)
        rows.append(row)
    missing = set(proposals) - seen
    if missing:
        raise ServiceError(f"Every proposal shown needs a fate; missing for {sorted(missing)}.", code="missing_fates")
    return rows


def _parse_candidate_fates(
    *, fates: list[CandidateFate], candidates: dict[int, Candidate], rows: list[ReviewBox]
) -> list[ReviewCandidate]:
    """Check each fate names a candidate of this image in the current run, once, with a known fate."""
    out: list[ReviewCandidate] = []
    seen: set[int] = set()
    for item in fates:
        if item.fate not in ReviewCandidate.Fate.values:
            raise ServiceError(f"Unknown candidate fate {item.fate!r}: use boxed or dismissed.", code="invalid_fate")
        if item.candidate_id not in candidates:
            raise ServiceError(
                f"Candidate {item.candidate_id} is not a candidate of this image in its current detection run.",
                code="unknown_candidate",
            )
        if item.candidate_id in seen:
            raise ServiceError(f"Candidate {item.candidate_id} was given two fates; each gets at most one.")
        seen.add(item.candidate_id)
        out.append(ReviewCandidate(candidate_id=item.candidate_id, fate=item.fate))
    boxed = sum(1 for row in out if row.fate == ReviewCandidate.Fate.BOXED)
    added = sum(1 for row in rows if row.fate == ReviewBox.Fate.ADDED)
    if boxed > added:
        raise ServiceError(
            f"{boxed} candidate(s) marked boxed but only {added} added box(es): a boxed candidate's box is saved "
            "as an added box.",
            code="boxed_without_box",
        )
    return out


def _score_gold(image: Image, kept: list[Box]) -> tuple[int, int, list[Box]]:
    """One-to-one matching of kept boxes to gold boxes at IoU >= 0.5: (misses, extras, missed boxes)."""
    missed, extras = missed_gold(kept, [g.box for g in image.gold_boxes.all()], iou_threshold=GOLD_IOU)
    return len(missed), extras, missed


def review_submit(
    *,
    reviewer,
    image_id: int,
    batch_id: int | None,
    lease_token: str,
    revision: int,
    fates: list[BoxFate],
    has_no_faces: bool = False,
    is_unsure: bool = False,
    seconds_spent: float = 0.0,
    request_id: str | None = None,
    candidates: list[CandidateFate] = (),
) -> SubmitResult:
    """Save one reviewer's answer for one image in one transaction.

    Writes a Review (current; the reviewer's previous current review of the image, if any, becomes not current
    and is linked by `supersedes`) with one ReviewBox per shown proposal and per added box, and one
    ReviewCandidate per candidate the reviewer boxed or saw and dismissed (none for candidates never shown); scores
    gold images;
    moves the image to in_review or reviewed by its count of current reviews against dataset.reviews_required
    (an approved gold image, still reviewed to score reviewers, stays approved); bumps Image.revision and
    releases the lease.

    Refuses: NotFound if the image is not in the reviewer's active assignments (or approved); Conflict (409) if
    another reviewer holds the lease, the image changed since `revision`, or the proposals changed; ServiceError
    (400) for boxes outside the image or degenerate, proposals without exactly one fate, "no faces" with boxes,
    candidates that are not this image's in the current run, given twice, or boxed without an added box.
    A `request_id` the reviewer already saved with returns that review as it was saved (a retry of a save
    whose answer was lost), writing nothing.
    """
    if request_id and (done := _saved_request(reviewer, image_id, request_id)) is not None:
        return done
    image = Image.objects.select_related("dataset").filter(pk=image_id).first()
    if image is None or not policies.can_review_image(reviewer, image):
        raise NotFound("No such image in your assignments, or it is already approved.")
    assignment = active_assignment(reviewer=reviewer, batch_id=batch_id) if batch_id is not None else None
    if not math.isfinite(seconds_spent) or seconds_spent < 0:
        raise ServiceError("seconds_spent must be a number of seconds, zero or more.")
    with transaction.atomic():
        locked = Image.objects.select_for_update().get(pk=image.pk)
        if request_id and (done := _saved_request(reviewer, image_id, request_id)) is not None:
            return done  # the same save, sent twice at once: the first has just committed
        lease_check_for_save(reviewer=reviewer, image=locked, token=lease_token)
        if locked.revision != revision:
            raise Conflict(
                "This image changed since you opened it (someone saved or approved it). Your edits are still on "
                "screen; nothing was saved. Reload the image to see the new version.",
                code="stale_revision",
                revision=locked.revision,
            )
        if locked.status == Image.Status.APPROVED and not policies.can_review_image(reviewer, locked):
            raise Conflict("This image was approved meanwhile; it can no longer be changed.", code="approved")
        # Checked after the revision: a stale page's boxes may refer to proposals that are gone.
        run_id = image.dataset.current_detection_run_id  # the dataset came with the image: no query
        proposals = {p.pk: p for p in Proposal.objects.filter(run_id=run_id, image=image)} if run_id else {}
        rows = _parse_fates(fates=fates, proposals=proposals, image=locked)
        known = {c.pk: c for c in Candidate.objects.filter(run_id=run_id, image=image)} if run_id and candidates else {}
        candidate_rows = _parse_candidate_fates(fates=list(candidates), candidates=known, rows=rows)
        kept = [row.box for row in rows if row.fate != ReviewBox.Fate.DELETED]
        if has_no_faces and kept:
            raise ServiceError(
                f"You marked 'no faces here' but kept {len(kept)} box(es): delete them or clear the mark.",
                code="no_faces_with_boxes",
            )
        before = image_reviews_snapshot(image_id=locked.pk)
        previous = Review.objects.select_for_update().filter(image=locked, reviewer=reviewer, is_current=True).first()
        if previous is not None:
            previous.is_current = False
            previous.save(update_fields=["is_current"])
        review = Review(
            image=locked,
            reviewer=reviewer,
            assignment=assignment,
            detection_run_id=run_id,
            supersedes=previous,
            has_no_faces=has_no_faces,
            is_unsure=is_unsure,
            seconds_spent=min(seconds_spent, MAX_SECONDS_SPENT),
            started_at=timezone.now() - timedelta(seconds=min(seconds_spent, MAX_SECONDS_SPENT)),
            client_request_id=request_id or None,
        )
        missed: list[Box] = []
        if locked.is_gold:
            review.gold_misses, review.gold_extras, missed = _score_gold(locked, kept)
        try:
            review.save()
        except IntegrityError as exc:  # two saves of one reviewer raced past the lock (SQLite without it)
            raise Conflict("This image was just saved from another window.", code="stale_revision") from exc
        for row in rows:
            row.review = review
        ReviewBox.objects.bulk_create(rows)
        for row in candidate_rows:
            row.review = review
        ReviewCandidate.objects.bulk_create(candidate_rows)
        after = before.with_review(ReviewRow(review.pk, reviewer.pk, has_no_faces, is_unsure, kept))
        attention = summaries_apply(before=before, after=after, update_image=False)
        status = Image.Status.REVIEWED if after.count >= image.dataset.reviews_required else Image.Status.IN_REVIEW
        if locked.status == Image.Status.APPROVED:  # a gold image, reviewed only to score the reviewer
            status = Image.Status.APPROVED
        Image.objects.filter(pk=locked.pk).update(
            status=status, revision=F("revision") + 1, review_attention=attention, updated_at=timezone.now()
        )
        lease_release(reviewer=reviewer, image=locked)
        audit_record(
            actor=reviewer,
            verb="review.submitted",
            obj=review,
            image=locked.pk,
            boxes=len(kept),
            supersedes=previous.pk if previous else None,
        )
    second_look_update(image_ids=[locked.pk])  # the safety net: flags for the approval queue
    locked.refresh_from_db()
    return SubmitResult(review=review, image=locked, missed_gold=missed)


def _saved_request(reviewer, image_id: int, request_id: str) -> SubmitResult | None:
    review = Review.objects.filter(reviewer=reviewer, image_id=image_id, client_request_id=request_id).first()
    if review is None:
        return None
    image = Image.objects.get(pk=image_id)
    missed: list[Box] = []
    if review.gold_misses is not None:
        kept = [b.box for b in review.boxes.exclude(fate=ReviewBox.Fate.DELETED)]
        _, _, missed = _score_gold(image, kept)
    return SubmitResult(review=review, image=image, missed_gold=missed)
