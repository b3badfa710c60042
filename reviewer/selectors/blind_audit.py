"""Reads of the blind audit (reviewer.services.blind_audit draws it): what each auditor boxed that the approval
current at the time missed, one-to-one at IoU >= AUDIT_IOU, as gold images are scored."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import F

from reviewer.imaging.consolidate import missed_gold
from reviewer.imaging.geometry import Box
from reviewer.models import Approval, ApprovedBox, Dataset, Review, ReviewBox

AUDIT_IOU = 0.5
KEPT = ReviewBox.KEPT_FATES


def _boxes_by(rows) -> dict[int, list[Box]]:
    out: dict[int, list[Box]] = defaultdict(list)
    for key, *coords in rows:
        out[key].append(Box(*coords))
    return out


def audit_results(*, image_ids: Iterable[int] | None = None, dataset: Dataset | None = None) -> dict[int, tuple]:
    """{image id: (auditor's faces, missed boxes)} for audited images that have an auditor's current review.

    The first review's boxes are those of the latest approval made before the auditor submitted."""
    reviews = Review.objects.filter(
        is_current=True,
        image__batch_items__batch__is_audit=True,
        image__batch_items__batch__assignments__reviewer_id=F("reviewer_id"),
    )
    if image_ids is not None:
        reviews = reviews.filter(image_id__in=list(image_ids))
    if dataset is not None:
        reviews = reviews.filter(image__dataset=dataset)
    facts = list(reviews.distinct().values_list("pk", "image_id", "submitted_at"))
    if not facts:
        return {}
    kept = _boxes_by(
        ReviewBox.objects.filter(review_id__in=[f[0] for f in facts], fate__in=KEPT).values_list(
            "review_id", "x0", "y0", "x1", "y1"
        )
    )
    out = {}
    for review_id, image_id, submitted in facts:
        first = (
            Approval.objects.filter(image_id=image_id, approved_at__lte=submitted)
            .exclude(reviews__pk=review_id)
            .order_by("-approved_at")
            .values_list("pk", flat=True)
            .first()
        )
        if first is None:
            continue
        final = [b.box for b in ApprovedBox.objects.filter(approval_id=first)]
        faces = kept.get(review_id, [])
        missed, _extras = missed_gold(final, faces, iou_threshold=AUDIT_IOU)
        out[image_id] = (len(faces), missed)
    return out


def audit_misses(*, image_ids: Iterable[int]) -> dict[int, list[Box]]:
    return {k: v[1] for k, v in audit_results(image_ids=image_ids).items() if v[1]}
