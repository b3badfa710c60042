"""Approval: an admin signs off an image's final boxes, consolidated from its current reviews, or sends it back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reviewer import policies
from reviewer.errors import Conflict, NotFound, ServiceError
from reviewer.imaging.geometry import Box, InvalidBox, validate
from reviewer.models import Approval, ApprovedBox, AuditEvent, Dataset, DetectionResult, Image, Lease, Review, User
from reviewer.selectors.workflow import ReviewFacts, consolidate_reviews, current_reviews_by_image
from reviewer.services.audit import audit_record
from reviewer.services.safety import second_look_update
from reviewer.services.summaries import ATTENTION_AGREED, CurrentReviews, image_current_reviews, summaries_apply

# What only admins may do here, in policies.require_admin\'s "Only admins ...".
_ADMIN_WORK = "approve images"

# Id lists go to the database in slices: SQLite refuses more than 32766 parameters in one query.
ID_CHUNK = 5000


@dataclass
class ApproveResult:
    approved: list[int] = field(default_factory=list)  # image ids
    skipped: list[int] = field(default_factory=list)  # ids asked for that were not waiting for approval


def image_approve(
    *,
    image: Image,
    actor: User,
    boxes: Sequence[Box] | None = None,
    expected_revision: int | None = None,
    note: str = "",
) -> Approval:
    """Approve one image: its final boxes become the ones exports blur.

    Without `boxes`, the final boxes are the image's current reviews consolidated (recall first, see
    reviewer.imaging.consolidate) and the approval's source is "reviews"; with `boxes` the admin sets them
    (source "admin", checked against the image and clamped). Writes a new current Approval (the previous
    one, if any, stops being current) with its ApprovedBox rows and the reviews it used, sets the image's
    status to "approved", bumps its revision, drops any lease on it, and records an audit event.
    Refuses: a non-admin actor; an image that is not "reviewed" (or "approved", to re-approve) (Conflict);
    an image with no current review when no boxes are given; a stale `expected_revision` (Conflict); bad boxes.
    """
    policies.require_admin(actor, _ADMIN_WORK)
    with transaction.atomic():
        locked = Image.objects.select_for_update().filter(pk=image.pk).first()
        if locked is None:
            raise NotFound("That image does not exist.")
        if expected_revision is not None and locked.revision != expected_revision:
            raise Conflict(
                f"{locked.relative_path} changed since you loaded it (revision {locked.revision}, you had "
                f"{expected_revision}). Reload and check it again.",
                code="stale",
            )
        _check_approvable(locked)
        reviews = current_reviews_by_image([locked.pk]).get(locked.pk, [])
        if boxes is None:
            if not reviews:
                raise Conflict(f"{locked.relative_path} has no current review to approve.", code="no_reviews")
            final = consolidate_reviews(reviews).boxes
            source = Approval.Source.REVIEWS
        else:
            try:
                final = [validate(b, locked.width, locked.height) for b in boxes]
            except InvalidBox as exc:
                raise ServiceError(f"{locked.relative_path}: {exc}", code="invalid_box") from exc
            source = Approval.Source.ADMIN
        [approval] = approvals_write(
            [(locked, final, reviews)], actor=actor, source=source, note=note, verb="image.approved"
        )
        image.status, image.revision = Image.Status.APPROVED, locked.revision + 1
    return approval


def images_approve(
    *,
    dataset: Dataset,
    actor: User,
    image_ids: Iterable[int] | None = None,
    expected_revisions: dict[int, int] | None = None,
) -> ApproveResult:
    """Approve, from their consolidated current reviews, the dataset's images that wait for approval.

    `image_ids=None` approves all of them ("approve all remaining"); otherwise only those ids (a page of the
    queue), and ids that are not waiting any more (approved or sent back meanwhile, another dataset's,
    unknown) are returned as skipped, not approved. With `expected_revisions` ({image id: revision} as the
    admin saw them), an image changed since (a reviewer saved again) is skipped too: the admin approves what
    they looked at or nothing. Same writes as image_approve for each image, in one transaction, in bulk.
    Refuses: a non-admin actor.
    """
    policies.require_admin(actor, _ADMIN_WORK)
    with transaction.atomic():
        waiting = Image.objects.select_for_update().filter(dataset=dataset, status=Image.Status.REVIEWED)
        asked = None
        if image_ids is not None:
            asked = list(dict.fromkeys(int(i) for i in image_ids))
            waiting = waiting.filter(pk__in=asked)
        images = list(waiting.order_by("relative_path"))
        # Read as a subquery: a dataset's worth of ids would pass SQLite's limit on query parameters.
        reviewed = Image.objects.filter(dataset=dataset, status=Image.Status.REVIEWED)
        by_image = current_reviews_by_image(reviewed.filter(pk__in=asked) if asked is not None else reviewed)
        work = []
        for image in images:
            reviews = by_image.get(image.pk, [])
            if expected_revisions and expected_revisions.get(image.pk, image.revision) != image.revision:
                continue
            if reviews:  # "reviewed" with no current review cannot be consolidated: leave it for a person
                work.append((image, consolidate_reviews(reviews).boxes, reviews))
        approvals_write(work, actor=actor, source=Approval.Source.REVIEWS, note="", verb="image.approved")
        approved = [image.pk for image, _, _ in work]
        done = set(approved)
        skipped = [i for i in (asked if asked is not None else [im.pk for im in images]) if i not in done]
    return ApproveResult(approved=approved, skipped=skipped)


def _check_approvable(image: Image) -> None:
    if image.status not in (Image.Status.REVIEWED, Image.Status.APPROVED):
        raise Conflict(
            f"{image.relative_path} is not reviewed yet (status: {image.get_status_display()}); only images "
            f"with enough reviews ({image.dataset.reviews_required}) can be approved.",
            code="not_reviewed",
        )


def approvals_write(
    work: list[tuple[Image, list[Box], list[ReviewFacts]]], *, actor: User, source: str, note: str, verb: str
) -> list[Approval]:
    """The one write path of approvals (reviews, an admin's boxes, imported annotations): for each (image, final
    boxes, the reviews they came from) a current approval with its boxes, the image approved with its revision
    bumped, its lease dropped, an audit event, and the safety net's second look updated; ids in chunks, so a
    dataset's worth passes SQLite's parameter limit. The caller holds the images' row locks."""
    if not work:
        return []
    ids = [image.pk for image, _, _ in work]
    chunks = [ids[i : i + ID_CHUNK] for i in range(0, len(ids), ID_CHUNK)]
    # The old approval stops being current first: the database allows one current approval per image.
    for chunk in chunks:
        Approval.objects.filter(image_id__in=chunk, is_current=True).update(is_current=False)
    approvals = Approval.objects.bulk_create(
        [Approval(image=image, approved_by=actor, source=source, note=note, is_current=True) for image, _, _ in work]
    )
    ApprovedBox.objects.bulk_create(
        [
            ApprovedBox(approval=approval, x0=b.x0, y0=b.y0, x1=b.x1, y1=b.y1)
            for approval, (_, boxes, _) in zip(approvals, work, strict=True)
            for b in boxes
        ]
    )
    through = Approval.reviews.through
    through.objects.bulk_create(
        [
            through(approval_id=approval.pk, review_id=review.pk)
            for approval, (_, _, reviews) in zip(approvals, work, strict=True)
            for review in reviews
        ]
    )
    for chunk in chunks:
        Image.objects.filter(pk__in=chunk).update(
            status=Image.Status.APPROVED, revision=F("revision") + 1, updated_at=timezone.now()
        )
        Lease.objects.filter(image_id__in=chunk).delete()  # nobody reviews an approved image
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor=actor,
                verb=verb,
                object_type=Image._meta.label_lower,
                object_id=str(image.pk),
                data={
                    "approval": approval.pk,
                    "source": source,
                    "boxes": [b.rounded().as_list() for b in boxes],
                    "reviews": [r.pk for r in reviews],
                },
            )
            for approval, (image, boxes, reviews) in zip(approvals, work, strict=True)
        ]
    )
    second_look_update(image_ids=ids)  # the final boxes changed: so may what they leave uncovered
    return approvals


def image_send_back(*, image: Image, actor: User, reason: str = "") -> Image:
    """Send an image back to its reviewers: they review it afresh, and it must be approved again.

    Its current approval (if any) stops being current, its current reviews stop being current (both are kept
    as history), its status returns to "detected" (or "new" if no detection ever ran on it) so the reviewers'
    queues offer it again, its revision is bumped (open review pages see a stale image and reload), leases
    are dropped, the image keeps who sent it back and why (Image.sent_back, shown on the review page), and an
    audit event records the reason. A gold image sent back with nothing flagged on it keeps the retired reviews as
    its gate evidence (Image.gold_evidence_reviews): its known faces, not the safety net, prompted the second look,
    so its misses still measure the reviews of every other image.
    Refuses: a non-admin actor, and an image with nothing to send back ("new"/"detected": no review yet).
    """
    policies.require_admin(actor, _ADMIN_WORK)
    with transaction.atomic():
        locked = Image.objects.select_for_update().filter(pk=image.pk).first()
        if locked is None:
            raise NotFound("That image does not exist.")
        if locked.status in (Image.Status.NEW, Image.Status.DETECTED):
            raise Conflict(
                f"{locked.relative_path} has not been reviewed yet (status: {locked.get_status_display()}); "
                "there is nothing to send back.",
                code="not_reviewed",
            )
        approvals = list(locked.approvals.filter(is_current=True).values_list("pk", flat=True))
        locked.approvals.filter(is_current=True).update(is_current=False)
        before = image_current_reviews(image_id=locked.pk)
        retired = [review.pk for review in before.reviews]
        Review.objects.filter(pk__in=retired).update(is_current=False)
        summaries_apply(before=before, after=CurrentReviews(image_id=locked.pk, reviews=[]), update_image=False)
        Lease.objects.filter(image=locked).delete()
        previous = locked.status
        # Detected means "the detector has looked", even when it proposed no box: only an image it never ran
        # on goes back to "new".
        was_detected = locked.detection_results.filter(status=DetectionResult.Status.DONE).exists()
        locked.status = Image.Status.DETECTED if was_detected or locked.proposals.exists() else Image.Status.NEW
        locked.revision += 1
        locked.review_attention = ATTENTION_AGREED
        # What the reviewers see on the review page: who sent it back, and why.
        locked.sent_back = {"by": actor.username, "reason": reason[:1000], "at": timezone.now().isoformat()}
        fields = ["status", "revision", "review_attention", "sent_back", "updated_at"]
        if locked.is_gold and locked.gold_evidence_reviews is None and retired and not locked.needs_second_look:
            locked.gold_evidence_reviews = retired  # see Image.gold_evidence_reviews: the gate keeps their misses
            fields.append("gold_evidence_reviews")
        locked.save(update_fields=fields)
        second_look_update(image_ids=[locked.pk])
        audit_record(
            actor=actor,
            verb="image.sent_back",
            obj=locked,
            previous_status=previous,
            approvals=approvals,
            reviews=retired,
            reason=reason[:1000],
        )
    image.status, image.revision = locked.status, locked.revision
    return locked
