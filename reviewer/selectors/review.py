"""Reads for the reviewer's pages and API: my batches and their progress, and everything the editor needs."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from reviewer import policies
from reviewer.models import Assignment, Batch, BatchItem, Image, Lease, Proposal, Review, ReviewBox
from reviewer.services.errors import NotFound


@dataclass(frozen=True)
class BatchProgress:
    batch: Batch
    total: int
    done: int  # images with a current review of mine

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


def batches_of_reviewer(*, reviewer) -> list[BatchProgress]:
    """The batches of my active assignments, oldest first, with how many images I have reviewed in each."""
    batches = (
        Batch.objects.filter(assignments__reviewer=reviewer, assignments__status=Assignment.Status.ACTIVE)
        .select_related("dataset")
        .annotate(total=Count("items", distinct=True))
        .order_by("created_at", "id")
    )
    result = []
    for batch in batches:  # a reviewer has a handful of batches: one small count each reads clearer than a join
        done = (
            Review.objects.filter(reviewer=reviewer, is_current=True, image__batch_items__batch=batch)
            .values("image_id")
            .distinct()
            .count()
        )
        result.append(BatchProgress(batch=batch, total=batch.total, done=done))
    return result


def pool_batches_for(*, reviewer) -> list[Batch]:
    """Pool batches this reviewer has not taken yet."""
    if not policies.is_reviewer(reviewer):
        return []
    return list(
        Batch.objects.filter(is_pool=True)
        .exclude(assignments__reviewer=reviewer)
        .select_related("dataset")
        .annotate(total=Count("items"))
        .order_by("created_at", "id")
    )


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


def image_review_state(*, reviewer, batch_id: int, image_id: int, lease: Lease | None = None) -> dict:
    """Everything the editor shows for one image, as JSON-ready data.

    Proposals are those of the dataset's current detection run. `review` is my current review, if any, so a
    reopened image shows what I saved. Gold status is not revealed: it would change how people review.
    """
    _assignment, item = image_in_batch(reviewer=reviewer, batch_id=batch_id, image_id=image_id)
    image: Image = item.image
    run_id = image.dataset.current_detection_run_id
    proposals = list(Proposal.objects.filter(run_id=run_id, image=image).order_by("ordinal")) if run_id else []
    review = Review.objects.filter(image=image, reviewer=reviewer, is_current=True).prefetch_related("boxes").first()
    positions = list(
        BatchItem.objects.filter(batch_id=batch_id).order_by("position").values_list("image_id", flat=True)
    )
    index = positions.index(image.pk)
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
        "position": index + 1,
        "total": len(positions),
        "prev_id": positions[index - 1] if index > 0 else None,
        "next_id": positions[index + 1] if index + 1 < len(positions) else None,
        "can_save": policies.can_review_image(reviewer, image),
        "detection_run": run_id,
        "proposals": [{"id": p.pk, "box": _box(p), "score": round(p.score, 4)} for p in proposals],
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
        },
        "lease": None if lease is None else {"token": lease.token, "expires_at": lease.expires_at.isoformat()},
    }


def first_image_for(*, reviewer, batch_id: int) -> int | None:
    """Where Start/Continue lands when nothing needs review any more: the batch's first image."""
    return BatchItem.objects.filter(batch_id=batch_id).order_by("position").values_list("image_id", flat=True).first()
