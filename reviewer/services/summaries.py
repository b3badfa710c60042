"""The summaries that need geometry: review agreement per assignment, and each image's place in the approval
queue (`Image.review_attention`). Counts are kept by database triggers (reviewer/models/triggers.py); these two
cannot be, so the services that change an image's current reviews call this module in their transaction:

    before = image_current_reviews(image_id=...)    # before the write
    ... write reviews ...
    after = image_current_reviews(image_id=...)
    summaries_apply(before=before, after=after)      # agreement deltas per assignment, review_attention

`reviews_recompute()` rebuilds both from the rows (the migration and `manage.py counters_reconcile`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import F

from reviewer.imaging.consolidate import consolidate, pair_agreement
from reviewer.imaging.geometry import Box
from reviewer.models import Assignment, BatchItem, Image, Review, ReviewBox, triggers

ATTENTION_UNSURE = 0  # a reviewer said "unsure": the admin looks first
ATTENTION_DISPUTED = 1  # reviewers boxed different faces, or disagree on "no faces here"
ATTENTION_AGREED = 2
KEPT_FATES = ReviewBox.KEPT_FATES


@dataclass
class ReviewRow:
    pk: int
    reviewer_id: int
    has_no_faces: bool
    is_unsure: bool
    boxes: list[Box] = field(default_factory=list)


@dataclass
class CurrentReviews:
    """The current reviews of one image, with the boxes each leaves on it."""

    image_id: int
    reviews: list[ReviewRow]

    def with_review(self, review: ReviewRow) -> CurrentReviews:
        """The current reviews after `review` became its reviewer's current review (computed, not read: the caller
        holds the image's row lock, so nothing else changed)."""
        others = [r for r in self.reviews if r.reviewer_id != review.reviewer_id]
        return CurrentReviews(image_id=self.image_id, reviews=[*others, review])

    @property
    def count(self) -> int:
        return len(self.reviews)

    def agreement_by_reviewer(self) -> dict[int, tuple[float, int]]:
        """Sum and number of pair agreements (F1) each reviewer's review contributes on this image; it counts for
        every assignment of that reviewer whose batch holds the image, as the trigger-kept sums do."""
        out: dict[int, list] = defaultdict(lambda: [0.0, 0])
        for review in self.reviews:
            for other in self.reviews:
                if other.pk != review.pk:
                    out[review.reviewer_id][0] += pair_agreement(review.boxes, other.boxes)
                    out[review.reviewer_id][1] += 1
        return {k: (v[0], v[1]) for k, v in out.items()}

    @property
    def attention(self) -> int:
        if any(r.is_unsure for r in self.reviews):
            return ATTENTION_UNSURE
        consolidation = consolidate([r.boxes for r in self.reviews])
        if not consolidation.is_unanimous or len({r.has_no_faces for r in self.reviews}) > 1:
            return ATTENTION_DISPUTED
        return ATTENTION_AGREED


def image_current_reviews(*, image_id: int) -> CurrentReviews:
    """One query: the image's current reviews joined to their boxes (kept fates only)."""
    rows = (
        Review.objects.filter(image_id=image_id, is_current=True)
        .order_by("reviewer_id", "boxes__id")
        .values_list(
            "pk", "reviewer_id", "has_no_faces", "is_unsure", "boxes__fate",
            "boxes__x0", "boxes__y0", "boxes__x1", "boxes__y1",
        )
    )  # fmt: skip
    by_pk: dict[int, ReviewRow] = {}
    for pk, reviewer_id, no_faces, unsure, fate, x0, y0, x1, y1 in rows:
        review = by_pk.setdefault(pk, ReviewRow(pk, reviewer_id, no_faces, unsure))
        if fate in KEPT_FATES:
            review.boxes.append(Box(x0, y0, x1, y1))
    return CurrentReviews(image_id=image_id, reviews=list(by_pk.values()))


def summaries_apply(*, before: CurrentReviews, after: CurrentReviews, update_image: bool = True) -> int:
    """Move each assignment's agreement sums by what changed on this image; set its review_attention unless
    the caller writes it in its own UPDATE (`update_image=False`). Returns the new review_attention.

    Writes: one UPDATE per reviewer whose agreement changed (none when the image has a single review) and,
    with update_image, one UPDATE of the image.
    """
    old, new = before.agreement_by_reviewer(), after.agreement_by_reviewer()
    for reviewer_id in sorted(old.keys() | new.keys()):  # sorted: concurrent writers lock rows in one order
        d_sum = new.get(reviewer_id, (0.0, 0))[0] - old.get(reviewer_id, (0.0, 0))[0]
        d_n = new.get(reviewer_id, (0.0, 0))[1] - old.get(reviewer_id, (0.0, 0))[1]
        if d_n or abs(d_sum) > 1e-12:
            Assignment.objects.filter(reviewer_id=reviewer_id, batch__items__image_id=after.image_id).update(
                agreement_sum=F("agreement_sum") + d_sum, agreement_n=F("agreement_n") + d_n
            )
    attention = after.attention if after.reviews else ATTENTION_AGREED
    if update_image:
        Image.objects.filter(pk=after.image_id).exclude(review_attention=attention).update(review_attention=attention)
    return attention


def reviews_recompute(*, chunk: int = 2000) -> None:
    """Rebuild every assignment's agreement and every image's review_attention from the current reviews.

    Reads the reviewed images in chunks of `chunk` ids; writes only rows whose value changes. Used by the
    migration that added them and by `manage.py counters_reconcile`.
    """
    Assignment.objects.exclude(agreement_sum=0, agreement_n=0).update(agreement_sum=0, agreement_n=0)
    sums: dict[int, list] = defaultdict(lambda: [0.0, 0])
    attention: dict[int, list[int]] = defaultdict(list)
    image_ids = Review.objects.filter(is_current=True).values_list("image_id", flat=True).distinct().order_by()
    image_ids = sorted(set(image_ids))
    assignments = {(b, r): pk for pk, b, r in Assignment.objects.values_list("pk", "batch_id", "reviewer_id")}
    for start in range(0, len(image_ids), chunk):
        ids = image_ids[start : start + chunk]
        rows = (
            Review.objects.filter(image_id__in=ids, is_current=True)
            .order_by("image_id", "reviewer_id", "boxes__id")
            .values_list(
                "image_id", "pk", "reviewer_id", "has_no_faces", "is_unsure", "boxes__fate",
                "boxes__x0", "boxes__y0", "boxes__x1", "boxes__y1",
            )
        )  # fmt: skip
        by_image: dict[int, dict[int, ReviewRow]] = defaultdict(dict)
        for image_id, pk, reviewer_id, no_faces, unsure, fate, x0, y0, x1, y1 in rows:
            review = by_image[image_id].setdefault(pk, ReviewRow(pk, reviewer_id, no_faces, unsure))
            if fate in KEPT_FATES:
                review.boxes.append(Box(x0, y0, x1, y1))
        batches_of: dict[int, list[int]] = defaultdict(list)
        for image_id, batch_id in BatchItem.objects.filter(image_id__in=ids).values_list("image_id", "batch_id"):
            batches_of[image_id].append(batch_id)
        for image_id, reviews in by_image.items():
            current = CurrentReviews(image_id=image_id, reviews=list(reviews.values()))
            for reviewer_id, (total, n) in current.agreement_by_reviewer().items():
                for batch_id in batches_of.get(image_id, []):
                    assignment_id = assignments.get((batch_id, reviewer_id))
                    if assignment_id is not None:
                        sums[assignment_id][0] += total
                        sums[assignment_id][1] += n
            attention[current.attention].append(image_id)
    with transaction.atomic():
        for assignment_id, (total, n) in sums.items():
            Assignment.objects.filter(pk=assignment_id).update(agreement_sum=total, agreement_n=n)
        for value, ids in attention.items():
            for start in range(0, len(ids), chunk):
                Image.objects.filter(pk__in=ids[start : start + chunk]).exclude(review_attention=value).update(
                    review_attention=value
                )


def counters_reconcile() -> None:
    """Recompute every counter and summary (trigger-kept and geometric) from the rows, in one transaction."""
    with transaction.atomic():
        triggers.recompute(connection)
        reviews_recompute()
