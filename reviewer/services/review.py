"""The reviewer's writes: taking a pool batch, and submitting (or resubmitting) the review of one image."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, FilteredRelation, IntegerField, OuterRef, Q, Subquery, Value
from django.utils import timezone

from reviewer import policies
from reviewer.errors import Conflict, Forbidden, NotFound, ServiceError
from reviewer.imaging.consolidate import GOLD_IOU, missed_gold
from reviewer.imaging.geometry import Box, InvalidBox, validate
from reviewer.models import (
    Assignment,
    Batch,
    BatchItem,
    Candidate,
    Image,
    Leak,
    Lease,
    Proposal,
    Review,
    ReviewBox,
    ReviewCandidate,
)
from reviewer.prepared import Prepared
from reviewer.selectors.review import image_in_batch
from reviewer.selectors.safety import REVIEWED, ImageFlags, Region, image_flags, is_covered
from reviewer.services.audit import audit_record
from reviewer.services.lease import lease_check_for_save, lease_release
from reviewer.services.summaries import CurrentReviews, ReviewRow, image_current_reviews, summaries_apply

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
            raise ServiceError(
                f"Unknown candidate fate {item.fate!r}: use boxed, dismissed or left.", code="invalid_fate"
            )
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
    ReviewCandidate per candidate shown to the reviewer: boxed, dismissed, or left (shown, not resolved: it still
    flags the image; none for candidates never shown); scores
    gold images;
    moves the image to in_review or reviewed by its count of current reviews against dataset.reviews_required
    (an approved gold image, still reviewed to score reviewers, stays approved); bumps Image.revision, sets the
    image's second-look mark (the safety net) in the same UPDATE, and releases the lease.

    Refuses: NotFound if the image is not in the reviewer's active assignments (of `batch_id` when given) or
    approved; Conflict (409) if another reviewer holds the lease, the image changed since `revision`, or the
    proposals changed; ServiceError (400) for boxes outside the image or degenerate, proposals without exactly one
    fate, "no faces" with boxes, candidates that are not this image's in the current run, given twice, or boxed
    without an added box. A `request_id` the reviewer already saved with returns that review as it was saved (a
    retry of a save whose answer was lost), writing nothing.

    Cost, the common case (a first review, no leak-check find, not audited): one read that locks the image and
    brings its dataset, lease, proposals, candidates and every fact the checks need, then four writes (review,
    boxes, image, lease) and the audit event.
    """
    if not math.isfinite(seconds_spent) or seconds_spent < 0:
        seconds_spent = -1.0  # refused below, once we know the image is the reviewer's to save (404 first)
    with transaction.atomic():
        found = _submit_context(reviewer=reviewer, image_id=image_id, batch_id=batch_id, request_id=request_id)
        if found is not None and found.saved_review_id is not None:
            return _saved_request(reviewer, image_id, request_id)  # a retry of a save that committed
        if found is None or not found.may_review:
            if batch_id is not None:
                image_in_batch(reviewer=reviewer, batch_id=batch_id, image_id=image_id)  # its words for the 404
            raise NotFound("No such image in your assignments, or it is already approved.")
        if seconds_spent < 0:
            raise ServiceError("seconds_spent must be a number of seconds, zero or more.")
        locked = found.image
        if locked.revision != revision and request_id and (done := _saved_request(reviewer, image_id, request_id)):
            # The same save sent twice at once: this one waited for the image's lock while the first committed,
            # and its read's subqueries ran before that commit (PostgreSQL re-reads only the locked row).
            return done
        lease_check_for_save(reviewer=reviewer, lease=found.lease, token=lease_token)
        if locked.revision != revision:
            raise Conflict(
                "This image changed since you opened it (someone saved or approved it). Your edits are still on "
                "screen; nothing was saved. Reload the image to see the new version.",
                code="stale_revision",
                revision=locked.revision,
            )
        # Checked after the revision: a stale page's boxes may refer to proposals that are gone.
        run_id = locked.dataset.current_detection_run_id
        rows = _parse_fates(fates=fates, proposals=found.proposals, image=locked)
        candidate_rows = _parse_candidate_fates(fates=list(candidates), candidates=found.candidates, rows=rows)
        kept = [row.box for row in rows if row.fate != ReviewBox.Fate.DELETED]
        if has_no_faces and kept:
            raise ServiceError(
                f"You marked 'no faces here' but kept {len(kept)} box(es): delete them or clear the mark.",
                code="no_faces_with_boxes",
            )
        # The image's row lock serialises its saves: its current reviews are read once, and only if it has any.
        before = image_current_reviews(image_id=locked.pk) if found.has_reviews else CurrentReviews(locked.pk, [])
        previous_id = next((r.pk for r in before.reviews if r.reviewer_id == reviewer.pk), None)
        if previous_id is not None:
            Review.objects.filter(pk=previous_id).update(is_current=False)
        review = Review(
            image=locked,
            reviewer=reviewer,
            assignment_id=found.assignment_id,
            detection_run_id=run_id,
            supersedes_id=previous_id,
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
            review.save(force_insert=True)
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
        status = Image.Status.REVIEWED if after.count >= locked.dataset.reviews_required else Image.Status.IN_REVIEW
        if locked.status == Image.Status.APPROVED:  # a gold image, reviewed only to score the reviewer
            status = Image.Status.APPROVED
        locked.status, locked.review_attention = status, attention
        reasons = _second_look_reasons(found=found, after=after, candidate_rows=candidate_rows)
        now = timezone.now()
        Image.objects.filter(pk=locked.pk).update(
            status=status,
            revision=F("revision") + 1,
            review_attention=attention,
            updated_at=now,
            needs_second_look=bool(reasons),
            second_look_reasons=reasons,
            second_look_weight=Image.flag_weight(reasons),
        )
        locked.revision += 1
        locked.updated_at, locked.needs_second_look, locked.second_look_reasons = now, bool(reasons), reasons
        locked.second_look_weight = Image.flag_weight(reasons)
        if found.lease is not None and found.lease.reviewer_id == reviewer.pk:
            lease_release(reviewer=reviewer, image=locked)
        audit_record(
            actor=reviewer,
            verb="review.submitted",
            obj=review,
            image=locked.pk,
            boxes=len(kept),
            supersedes=previous_id,
        )
    return SubmitResult(review=review, image=locked, missed_gold=missed)


@dataclass
class _SubmitContext:
    image: Image  # locked, with its dataset
    lease: Lease | None
    proposals: dict[int, Proposal]
    candidates: dict[int, Candidate]
    assignment_id: int | None
    may_review: bool
    has_reviews: bool  # the image has current reviews (anyone's)
    needs_full_flags: bool  # a leak-check find, an audit batch, a retired review: the safety net reads its own rows
    saved_review_id: int | None


def _submit_context_query(*, reviewer_id: int, image_id: int, batch_id: int | None = None, request_id=None):
    active = Assignment.objects.filter(reviewer_id=reviewer_id, status=Assignment.Status.ACTIVE)
    if batch_id is not None:
        active = active.filter(batch_id=batch_id)
    holding = BatchItem.objects.filter(image_id=OuterRef("pk"), batch__in=active.values("batch_id"))
    run = F("dataset__current_detection_run_id")
    return (
        Image.objects.filter(pk=image_id)
        .order_by()  # one image: the model's ordering would only add a sort under the lock
        .select_related("dataset", "lease")
        .annotate(
            p=FilteredRelation("proposals", condition=Q(proposals__run_id=run)),
            c=FilteredRelation("candidates", condition=Q(candidates__run_id=run)),
            submit_assignment=Subquery(
                active.filter(batch__items__image_id=OuterRef("pk")).order_by("-created_at").values("pk")[:1]
            ),
            submit_in_mine=Exists(holding),
            submit_in_audit=Exists(holding.filter(batch__is_audit=True)),
            submit_has_reviews=Exists(Review.objects.filter(image_id=OuterRef("pk"), is_current=True)),
            submit_open_leak=Exists(Leak.objects.filter(image_id=OuterRef("pk"), resolution="")),
            submit_audited=Exists(BatchItem.objects.filter(image_id=OuterRef("pk"), batch__is_audit=True)),
            # A retired review may hold a "not a face" that outlives it (safety.not_a_face_regions).
            submit_retired=Exists(Review.objects.filter(image_id=OuterRef("pk"), is_current=False)),
            submit_saved=Subquery(
                Review.objects.filter(reviewer_id=reviewer_id, image_id=OuterRef("pk"), client_request_id=request_id)
                .order_by("-submitted_at")
                .values("pk")[:1]
            )
            if request_id is not None
            else Value(None, output_field=IntegerField()),
            **{f"p_{f}": F(f"p__{f}") for f in BOX_COLUMNS},
            **{f"c_{f}": F(f"c__{f}") for f in CANDIDATE_COLUMNS},
        )
        .select_for_update(of=("self",))
    )


_submit_context_prepared = Prepared(_submit_context_query)


def _submit_context(*, reviewer, image_id: int, batch_id: int | None, request_id: str | None) -> _SubmitContext | None:
    """One query: the image locked FOR UPDATE (its row only), its dataset and lease, its proposals and candidates
    of the current run (LEFT JOINs: one row per proposal x candidate, a handful), and as subqueries the reviewer's
    active assignment, whether the reviewer may review it (policies.can_review_image), whether a request id was
    already saved, whether it has current reviews, and whether the safety net must read more than this. Compiled
    once per shape (reviewer.prepared): with or without a batch and a request id."""
    values = {"reviewer_id": reviewer.pk, "image_id": image_id}
    shape = {}
    if batch_id is not None:
        values["batch_id"] = batch_id
    else:
        shape["batch_id"] = None
    if request_id:
        values["request_id"] = request_id
    else:
        shape["request_id"] = None
    rows = _submit_context_prepared.fetch(shape=shape, **values)
    rows = list(rows)
    if not rows:
        return None
    image = rows[0]
    proposals, candidates = {}, {}
    for row in rows:
        for prefix, model, into, columns in (
            ("p", Proposal, proposals, BOX_COLUMNS),
            ("c", Candidate, candidates, CANDIDATE_COLUMNS),
        ):
            pk = getattr(row, f"{prefix}_id")
            if pk is not None and pk not in into:
                into[pk] = model(image_id=image.pk, **{f: getattr(row, f"{prefix}_{f}") for f in columns})
    try:
        lease = image.lease
    except Lease.DoesNotExist:
        lease = None
    if image.status == Image.Status.APPROVED and not image.is_gold:
        may_review = image.submit_in_audit
    else:
        may_review = image.submit_in_mine
    return _SubmitContext(
        image=image,
        lease=lease,
        proposals=dict(sorted(proposals.items(), key=lambda kv: kv[1].ordinal)),
        candidates=dict(sorted(candidates.items(), key=lambda kv: kv[1].ordinal)),
        assignment_id=image.submit_assignment if batch_id is not None else None,
        may_review=may_review and policies.is_reviewer(reviewer),
        has_reviews=image.submit_has_reviews,
        needs_full_flags=image.submit_open_leak or image.submit_audited or image.submit_retired,
        saved_review_id=image.submit_saved,
    )


BOX_COLUMNS = ("id", "x0", "y0", "x1", "y1", "run_id", "ordinal", "score", "source")
CANDIDATE_COLUMNS = (*BOX_COLUMNS, "bucket")


def _second_look_reasons(*, found: _SubmitContext, after, candidate_rows: list[ReviewCandidate]) -> list[dict]:
    """The image's second-look reasons after this save (safety.image_flags), from what the save already holds:
    the kept boxes of every current review, the run's candidates and proposals, and the candidates resolved by
    this review. An approved image, a leak-check find, an audit batch or another reviewer's current review (their
    resolved candidates) send it to image_flags, which reads its own rows (the new review is written by then)."""
    image = found.image
    others = [r for r in after.reviews if r.reviewer_id != after.reviews[-1].reviewer_id]
    simple = not found.needs_full_flags and image.status != Image.Status.APPROVED
    if simple and not (found.candidates and others):
        flags = ImageFlags(image_id=image.pk, boxes=[b for r in after.reviews for b in r.boxes])
        resolved = {row.candidate_id for row in candidate_rows if row.fate in ReviewCandidate.RESOLVED}
        for c in found.candidates.values():
            flags.suggested += 1
            if c.pk not in resolved and not is_covered(c.box, flags.boxes):
                flags.regions.append(Region("candidate", c.box, c.score, c.pk, bucket=c.bucket))
        flags.suggested += len(found.proposals)
    else:
        flags = image_flags([image])[image.pk]
    return flags.reasons(is_reviewed=image.status in REVIEWED)


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
