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

from django.db import transaction

from reviewer import policies
from reviewer.errors import Conflict, ServiceError
from reviewer.models import Assignment, Batch, BatchItem, Dataset, Image
from reviewer.services.audit import audit_record
from reviewer.services.dataset_settings import dataset_settings_update


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
