"""Reads for the reviewer's pages and API: my batches and their progress, and everything the editor needs."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from crowd import interface as crowd
from reviewer import policies
from reviewer.errors import NotFound
from reviewer.models import Assignment, Batch, BatchItem, Candidate, Image, Lease, Proposal, Review, ReviewBox
from reviewer.prepared import Prepared


def batch_items_needing_review(*, reviewer, batch: Batch):
    """Items of `batch` that still need this reviewer: no current review of theirs, not reviewed or approved
    yet (gold images excepted), not a gold image they answered in a qualification round (they saw its faces in
    the feedback: it would check nothing), and not leased right now to someone else who still needs it. Ordered by
    position."""
    return items_needing_review(reviewer_id=reviewer.pk, batch_id=batch.pk, is_audit=batch.is_audit, now=timezone.now())


def _leased_by_other(*, reviewer_id: int, now):
    """Live leases of the outer item's image held by another reviewer who still needs it. A lease whose holder
    has a current review of the image hides nothing: it is left over from a renewal that landed after the save
    (or a page that renewed a saved image), and it would otherwise keep the image from everyone else for as long
    as it is renewed."""
    holder_saved = Review.objects.filter(image=OuterRef("image_id"), reviewer=OuterRef("reviewer_id"), is_current=True)
    return (
        Lease.objects.filter(image=OuterRef("image_id"), expires_at__gt=now)
        .exclude(reviewer_id=reviewer_id)
        .filter(~Exists(holder_saved))
    )


def items_needing_review(*, reviewer_id: int, batch_id: int, is_audit: bool, now):
    """batch_items_needing_review from ids and the clock (reviewer.prepared compiles it once with markers)."""
    mine = Review.objects.filter(image=OuterRef("image_id"), reviewer_id=reviewer_id, is_current=True)
    leased_by_other = _leased_by_other(reviewer_id=reviewer_id, now=now)
    items = BatchItem.objects.filter(batch_id=batch_id).exclude(_seen_in_round(reviewer_id))
    if not is_audit:  # an audit batch holds approved images on purpose
        # Gold images keep being handed out after they have enough reviews (or are approved): they score people.
        items = items.exclude(image__status__in=[Image.Status.REVIEWED, Image.Status.APPROVED], image__is_gold=False)
    return items.filter(~Exists(mine), ~Exists(leased_by_other)).order_by("position")


def _seen_in_round(reviewer_id) -> Q:
    """A gold image the reviewer answered in a qualification round (of the item's OuterRef image)."""
    return Q(image__is_gold=True) & Q(crowd.answered_in_qualification(reviewer_id=reviewer_id))


@dataclass(frozen=True)
class BatchProgress:
    batch: Batch
    total: int
    done: int  # images with a current review of mine
    left: int = 0  # images that still need me (not enough reviews yet, not leased to someone else)

    @property
    def percent(self) -> int:
        """My share of the work this batch has for me: once nothing is left, it is done, whatever the total."""
        return round(100 * self.done / (self.done + self.left)) if self.done + self.left else 100

    @property
    def covered_by_others(self) -> int:
        """Images that need nothing from me: others gave them every review they need (k), or hold them now."""
        return max(self.total - self.done - self.left, 0)


def batches_of_reviewer(*, reviewer) -> list[BatchProgress]:
    """The batches of my active assignments, oldest first, with how many images I have reviewed in each.

    What I have done is the assignment's `reviewed` column (kept by triggers: my current reviews of the batch's
    images); only what is left for me is counted from the batch's items, one subquery per batch."""
    mine = Review.objects.filter(reviewer=reviewer, is_current=True, image_id=OuterRef("image_id"))
    # What batch_items_needing_review counts, for every batch at once.
    leased_by_other = _leased_by_other(reviewer_id=reviewer.pk, now=timezone.now())
    left = (
        BatchItem.objects.filter(batch=OuterRef("batch_id"))
        .filter(
            Q(batch__is_audit=True)
            | Q(image__is_gold=True)
            | ~Q(image__status__in=[Image.Status.REVIEWED, Image.Status.APPROVED])
        )
        .filter(~Exists(mine), ~Exists(leased_by_other))
        .exclude(_seen_in_round(reviewer.pk))
        .order_by()
        .values("batch")
        .annotate(n=Count("id"))
        .values("n")
    )
    assignments = (
        Assignment.objects.filter(reviewer=reviewer, status=Assignment.Status.ACTIVE)
        .select_related("batch__dataset")
        .annotate(left=Coalesce(Subquery(left), 0))
        .order_by("batch__created_at", "batch_id")
    )  # one query
    return [BatchProgress(batch=a.batch, total=a.batch.size, done=a.reviewed, left=a.left) for a in assignments]


def pool_batches_for(*, reviewer) -> list[Batch]:
    """Pool batches this reviewer has not taken yet and may take (qualified, invited to the dataset)."""
    if not policies.is_reviewer(reviewer):
        return []
    batches = list(
        Batch.objects.filter(is_pool=True)
        .exclude(assignments__reviewer=reviewer)
        .select_related("dataset")
        .order_by("created_at", "id")
    )
    for batch in batches:
        batch.total = batch.size
    return [batch for batch in batches if policies.can_take_pool_batch(reviewer, batch)]


def image_in_batch(*, reviewer, batch_id: int, image_id: int) -> tuple[Assignment, BatchItem]:
    """The reviewer's active assignment and the batch item of `image_id`; NotFound for anything else."""
    assignment = (
        Assignment.objects.select_related("batch", "batch__dataset")
        .filter(batch_id=batch_id, reviewer=reviewer, status=Assignment.Status.ACTIVE)
        .first()
    )
    if assignment is None or not policies.is_reviewer(reviewer):
        raise NotFound("No such batch among your assignments.")
    item = BatchItem.objects.select_related("image", "image__dataset").filter(batch_id=batch_id, image_id=image_id)
    item = item.first()
    if item is None:
        raise NotFound("No such image in this batch.")
    return assignment, item


def status_for_reviewer(image: Image, *, reviewed_by_me: bool) -> str:
    """The status a reviewer is shown. A gold image is approved (its boxes are known) yet stays reviewable;
    showing "approved" would tell the reviewer it is gold, so it reads as any image still in review does."""
    if not (image.is_gold and image.status == Image.Status.APPROVED):
        return image.status
    if not reviewed_by_me:
        return Image.Status.DETECTED
    return Image.Status.REVIEWED if image.dataset.reviews_required <= 1 else Image.Status.IN_REVIEW


def _box(obj) -> list[float]:
    return [obj.x0, obj.y0, obj.x1, obj.y1]


@dataclass(frozen=True)
class BatchPlace:
    """Where an image sits in its batch: 0-based index by position, the batch's size, its neighbours' ids."""

    index: int
    total: int
    prev_id: int | None
    next_id: int | None


def batch_items_with_place(items):
    """`items` (BatchItems of one batch) annotated with each one's BatchPlace fields, read in the same query as
    the item: the editor's "3 of 200" and its previous/next links cost no query of their own."""
    same = BatchItem.objects.filter(batch_id=OuterRef("batch_id"))
    counted = same.order_by().values("batch_id").annotate(n=Count("pk")).values("n")
    return items.annotate(
        place_index=Coalesce(Subquery(counted.filter(position__lt=OuterRef("position"))), 0),
        place_total=Subquery(counted),
        place_prev=Subquery(
            same.filter(position__lt=OuterRef("position")).order_by("-position").values("image_id")[:1]
        ),
        place_next=Subquery(same.filter(position__gt=OuterRef("position")).order_by("position").values("image_id")[:1]),
    )


def place_of(item) -> BatchPlace:
    return BatchPlace(index=item.place_index, total=item.place_total, prev_id=item.place_prev, next_id=item.place_next)


BOX_COLUMNS = ("id", "x0", "y0", "x1", "y1", "ordinal", "score", "source")


def _boxes_query(*, image_id: int, run_id: int):
    return (
        Proposal.objects.filter(run_id=run_id, image_id=image_id)
        .order_by()
        .annotate(kind=Value(0))
        .values_list("kind", *BOX_COLUMNS)
        .union(
            Candidate.objects.filter(run_id=run_id, image_id=image_id)
            .order_by()
            .annotate(kind=Value(1))
            .values_list("kind", *BOX_COLUMNS),
            all=True,
        )
        .order_by("kind", "ordinal")
    )


_boxes_prepared = Prepared(_boxes_query)


def _boxes_of(*, image_id: int, run_id: int) -> tuple[list[Proposal], list[Candidate]]:
    """The image's proposals and candidates of the run, by ordinal: one query (UNION ALL)."""
    rows = _boxes_prepared.fetch(image_id=image_id, run_id=run_id)
    proposals, candidates = [], []
    for kind, *values in rows:
        fields = dict(zip(BOX_COLUMNS, values, strict=True))
        (candidates if kind else proposals).append(
            (Candidate if kind else Proposal)(run_id=run_id, image_id=image_id, **fields)
        )
    return proposals, candidates


def image_review_state(
    *,
    reviewer,
    batch_id: int,
    image_id: int,
    lease: Lease | None = None,
    leased_image: Image | None = None,
    place: BatchPlace | None = None,
) -> dict:
    """Everything the editor shows for one image, as JSON-ready data.

    Proposals and candidates are those of the dataset's current detection run (candidates are shown on a key,
    dimmed). `review` is my current review, if any, so a reopened image shows what I saved. Gold status is not
    revealed: it would change how people review. `leased_image` (with `lease`) is an image
    image_next_for_review has just handed me: it is in my batch, I may save it and I have no current review of
    it, so none of that is read again; nor is its `place` in the batch when the caller read it with the image
    (batch_items_with_place).
    """
    if leased_image is not None:
        image, can_save = leased_image, True
    else:
        _assignment, item = image_in_batch(reviewer=reviewer, batch_id=batch_id, image_id=image_id)
        image, can_save = item.image, None
    run_id = image.dataset.current_detection_run_id
    proposals, candidates = _boxes_of(image_id=image.pk, run_id=run_id) if run_id else ([], [])
    review = None
    if leased_image is None:
        review = Review.objects.filter(image=image, reviewer=reviewer, is_current=True)
        review = review.prefetch_related("boxes", "candidate_fates").first()
    place = place or getattr(leased_image, "batch_place", None)
    if place is None:
        positions = list(
            BatchItem.objects.filter(batch_id=batch_id).order_by("position").values_list("image_id", flat=True)
        )
        index = positions.index(image.pk)
        place = BatchPlace(
            index=index,
            total=len(positions),
            prev_id=positions[index - 1] if index > 0 else None,
            next_id=positions[index + 1] if index + 1 < len(positions) else None,
        )
    if lease is None:
        lease = Lease.objects.filter(image=image, reviewer=reviewer, expires_at__gt=timezone.now()).first()
    return {
        "id": image.pk,
        "batch": batch_id,
        "name": image.relative_path,
        "width": image.width,
        "height": image.height,
        "status": status_for_reviewer(image, reviewed_by_me=review is not None),
        "revision": image.revision,
        "display_url": reverse("image-display", args=[image.pk]),
        "page_url": reverse("review-image", args=[batch_id, image.pk]),
        "position": place.index + 1,
        "total": place.total,
        "prev_id": place.prev_id,
        "next_id": place.next_id,
        "can_save": policies.can_review_image(reviewer, image) if can_save is None else can_save,
        "detection_run": run_id,
        "proposals": [{"id": p.pk, "box": _box(p), "score": round(p.score, 4)} for p in proposals],
        "candidates": [
            {"id": c.pk, "box": _box(c), "score": round(c.score, 4), "source": c.source} for c in candidates
        ],
        "review": None
        if review is None
        else {
            "id": review.pk,
            "has_no_faces": review.has_no_faces,
            "is_unsure": review.is_unsure,
            "boxes": [
                {"proposal": b.proposal_id, "fate": b.fate, "box": _box(b)}
                for b in review.boxes.all()
                if b.fate in ReviewBox.Fate.values
            ],
            "candidates": [{"candidate": c.candidate_id, "fate": c.fate} for c in review.candidate_fates.all()],
        },
        "lease": None if lease is None else {"token": lease.token, "expires_at": lease.expires_at.isoformat()},
        "sent_back": _sent_back(image) if review is None else None,
    }


def _sent_back(image: Image) -> dict | None:
    """Who sent the image back to review and why, while it waits for its new review (not once approved again)."""
    if not image.sent_back or image.status == Image.Status.APPROVED:
        return None
    return {"by": image.sent_back.get("by", ""), "reason": image.sent_back.get("reason", "")}


def first_image_for(*, reviewer, batch_id: int) -> int | None:
    """Where Start/Continue lands when nothing needs review any more: the batch's first image."""
    return BatchItem.objects.filter(batch_id=batch_id).order_by("position").values_list("image_id", flat=True).first()


def first_image_reviewed_by(*, reviewer, batch_id: int) -> int | None:
    """The first image of the batch (by position) with a current review of mine: where "Open" lands."""
    return (
        BatchItem.objects.filter(batch_id=batch_id, image__reviews__reviewer=reviewer, image__reviews__is_current=True)
        .order_by("position")
        .values_list("image_id", flat=True)
        .first()
    )


def reviews_of_image(*, image: Image) -> QuerySet[Review]:
    """Every review of the image, current and superseded, with its boxes and their fates (the API's list)."""
    return Review.objects.filter(image=image).select_related("reviewer").prefetch_related("boxes", "candidate_fates")
