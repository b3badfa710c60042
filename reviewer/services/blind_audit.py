"""The blind audit: a random share of approved images (Dataset.audit_rate) reviewed again by a reviewer who did
not review them, on the ordinary review page (they see the detector's proposals, never the first review).

The audit is an ordinary batch marked `is_audit`, assigned to one reviewer. Its reviews are current reviews of
approved images; they do not change the approval. A face the auditor boxed that the approval current at the
time of the audit did not cover (one-to-one IoU >= 0.5, as gold images are scored) is an audit miss: evidence
for the release gate, and a reason for a second look until a final box covers it.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F

from reviewer import policies
from reviewer.imaging.consolidate import missed_gold
from reviewer.imaging.geometry import Box
from reviewer.models import Approval, ApprovedBox, Assignment, Batch, BatchItem, Dataset, Image, Review, ReviewBox
from reviewer.services.audit import audit_record
from reviewer.services.dataset_settings import dataset_settings_update
from reviewer.services.errors import Conflict, ServiceError

AUDIT_IOU = 0.5
KEPT = (ReviewBox.Fate.ACCEPTED, ReviewBox.Fate.ADJUSTED, ReviewBox.Fate.ADDED)


def audit_batch_create(*, dataset: Dataset, auditor, actor, seed: int | None = None) -> Batch:
    """Draw ceil(audit_rate x approved images) at random among the dataset's approved, non-gold images that no
    audit batch holds yet and that `auditor` never reviewed; write them as an audit batch assigned to `auditor`.

    Refuses: a non-admin actor (Forbidden); an auditor who is not a reviewer, an audit rate of 0 (ServiceError);
    no approved image left to audit (Conflict).
    """
    policies.require_admin(actor, "start an audit", dataset)
    if not policies.is_reviewer(auditor):
        raise ServiceError("The auditor must be an active reviewer.", code="invalid_auditor")
    if dataset.audit_rate <= 0:
        raise ServiceError(f"{dataset.name} has an audit rate of 0: set one first.", code="no_audit_rate")
    approved = Image.objects.filter(dataset=dataset, status=Image.Status.APPROVED, is_gold=False)
    pool = list(
        approved.exclude(batch_items__batch__is_audit=True)
        .exclude(reviews__reviewer=auditor)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not pool:
        raise Conflict(f"{dataset.name} has no approved image left that {auditor.username} could audit blind.")
    size = min(len(pool), max(1, math.ceil(dataset.audit_rate * approved.count())))
    chosen = sorted(random.Random(seed).sample(pool, size))
    with transaction.atomic():
        number = (Batch.objects.filter(dataset=dataset, is_audit=True).count()) + 1
        batch = Batch.objects.create(dataset=dataset, name=f"audit {number}", is_audit=True, created_by=actor)
        BatchItem.objects.bulk_create(BatchItem(batch=batch, image_id=pk, position=n) for n, pk in enumerate(chosen))
        Assignment.objects.create(batch=batch, reviewer=auditor, assigned_by=actor)
        audit_record(actor=actor, verb="audit.started", obj=batch, images=len(chosen), auditor=auditor.username)
    return batch


def audit_start(*, dataset: Dataset, auditor, actor, rate: float | None = None, seed: int | None = None) -> Batch:
    """Set the dataset's audit rate (when `rate` is given) and draw the audit batch, in one transaction: a refused
    audit leaves the rate as it was. What the dataset page's "Start audit" and the API do; refuses as
    audit_batch_create and dataset_settings_update do."""
    with transaction.atomic():
        if rate is not None:
            dataset = dataset_settings_update(dataset=dataset, actor=actor, audit_rate=rate).dataset
        return audit_batch_create(dataset=dataset, auditor=auditor, actor=actor, seed=seed)


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
