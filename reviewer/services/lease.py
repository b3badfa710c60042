"""Leases: who may save a review of an image right now, and handing out the next image without doubles.

A lease is one row per image (a OneToOne), so the database itself refuses a second holder; the token it carries
proves that a save comes from a page that opened the image through a lease.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from reviewer import policies
from reviewer.models import Assignment, Batch, BatchItem, Image, Lease, Review
from reviewer.services.errors import Conflict, NotFound


def _expiry():
    return timezone.now() + timedelta(seconds=settings.VEIL_LEASE_SECONDS)


def lease_acquire(*, reviewer, image: Image) -> Lease:
    """Take or renew the lease of `image` for `reviewer`, for settings.VEIL_LEASE_SECONDS.

    Renewing keeps the token; taking over an expired lease of someone else makes a new one. Refuses with
    NotFound when the reviewer may not review the image and Conflict while another reviewer's lease runs.
    """
    if not policies.can_review_image(reviewer, image):
        raise NotFound("No such image in your assignments, or it is already approved.")
    return _lease_take(reviewer=reviewer, image=image)


def _lease_take(*, reviewer, image: Image) -> Lease:
    """lease_acquire once the caller knows the reviewer may review the image (two queries)."""
    now = timezone.now()
    with transaction.atomic():
        lease = Lease.objects.select_for_update().filter(image=image).first()
        if lease is None:
            try:
                with transaction.atomic():
                    return Lease.objects.create(
                        image=image,
                        reviewer=reviewer,
                        token=secrets.token_hex(16),
                        acquired_at=now,
                        expires_at=_expiry(),
                    )
            except IntegrityError as exc:  # another reviewer inserted the row between our read and our write
                raise Conflict("Another reviewer has just opened this image.", code="leased") from exc
        if lease.reviewer_id != reviewer.pk:
            if lease.expires_at > now:
                raise Conflict(
                    "Another reviewer is working on this image. You can look at it but not save it.", code="leased"
                )
            lease.reviewer = reviewer
            lease.token = secrets.token_hex(16)
            lease.acquired_at = now
        lease.expires_at = _expiry()
        lease.save()
        return lease


def lease_release(*, reviewer, image: Image) -> None:
    """Give the image back so another reviewer can take it at once. Does nothing if the lease is not ours."""
    Lease.objects.filter(image=image, reviewer=reviewer).delete()


def lease_check_for_save(*, reviewer, image: Image, token: str) -> None:
    """Refuse a save that would overwrite another reviewer's work in progress; call inside the save's transaction.

    Our own lease (any token: it is the same person) or a lease nobody holds any more lets the save through:
    the image revision, checked separately, catches anything that changed meanwhile.
    """
    lease = Lease.objects.select_for_update().filter(image=image).first()
    if lease is None or lease.reviewer_id == reviewer.pk:
        return
    if lease.expires_at > timezone.now():
        raise Conflict(
            "Your lease on this image expired and another reviewer has taken it. Your edits are still on screen; "
            "nothing was saved.",
            code="lease_lost",
        )


def batch_items_needing_review(*, reviewer, batch: Batch):
    """Items of `batch` that still need this reviewer: no current review of theirs, not reviewed or approved
    yet (gold images excepted), and not leased to someone else right now. Ordered by position."""
    now = timezone.now()
    mine = Review.objects.filter(image=OuterRef("image_id"), reviewer=reviewer, is_current=True)
    leased_by_other = Lease.objects.filter(image=OuterRef("image_id"), expires_at__gt=now).exclude(reviewer=reviewer)
    return (
        BatchItem.objects.filter(batch=batch)
        # Gold images keep being handed out after they have enough reviews (or are approved): they score people.
        .exclude(image__status__in=[Image.Status.REVIEWED, Image.Status.APPROVED], image__is_gold=False)
        .filter(~Exists(mine), ~Exists(leased_by_other))
        .order_by("position")
    )


def active_assignment(*, reviewer, batch_id: int) -> Assignment:
    assignment = (
        Assignment.objects.select_related("batch", "batch__dataset")
        .filter(batch_id=batch_id, reviewer=reviewer, status=Assignment.Status.ACTIVE)
        .first()
    )
    if assignment is None or not policies.is_reviewer(reviewer):
        raise NotFound("No such batch among your assignments.")
    return assignment


def image_next_for_review(
    *, reviewer, batch_id: int, after_image_id: int | None = None, exclude_ids: tuple[int, ...] = ()
) -> tuple[Image, Lease] | None:
    """Lease and return the next image of the batch that needs this reviewer, or None when none is left.

    Looks after `after_image_id`'s position first, then wraps around. Never hands one image to two reviewers:
    candidates are locked with SKIP LOCKED on PostgreSQL (SQLite serialises writers), and the one-row-per-image
    lease refuses a second holder if two requests still race.
    """
    assignment = active_assignment(reviewer=reviewer, batch_id=batch_id)
    items = batch_items_needing_review(reviewer=reviewer, batch=assignment.batch).exclude(
        image_id__in=[i for i in (*exclude_ids, after_image_id) if i is not None]
    )
    after_position = Coalesce(
        Subquery(BatchItem.objects.filter(batch=assignment.batch, image_id=after_image_id).values("position")[:1]),
        -1,
    )
    # One query per try: the next item and its image, locked with SKIP LOCKED (PostgreSQL; SQLite serialises
    # writers), later positions first, then wrapping around to what was skipped. The image comes from the
    # reviewer's active assignment and is not approved (gold aside), so the lease needs no second policy check.
    for later in (True, False):
        window = items.filter(position__gt=after_position) if later else items.filter(position__lte=after_position)
        if not later and after_image_id is None:
            break
        for _attempt in range(3):
            with transaction.atomic():
                item = (
                    window.select_related("image", "image__dataset")
                    .select_for_update(skip_locked=True, of=("image",))
                    .exclude(image__status=Image.Status.APPROVED, image__is_gold=False)
                    .first()
                )
                if item is None:
                    break
                try:
                    return item.image, _lease_take(reviewer=reviewer, image=item.image)
                except Conflict:
                    continue  # leased by someone else between our read and our write: try the next one
    return None
