"""Leases: who may save a review of an image right now, and handing out the next image without doubles.

A lease is one row per image (a OneToOne), so the database itself refuses a second holder; the token it carries
is checked on save, so a page whose lease was superseded by a newer one cannot save over it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from crowd import interface as crowd
from reviewer import policies
from reviewer.errors import Conflict, NotFound
from reviewer.models import Assignment, BatchItem, Image, Lease, Review
from reviewer.prepared import Prepared
from reviewer.selectors.review import batch_items_with_place, items_needing_review, place_of


def _expiry(image: Image):
    """The dataset's lease length when an admin set one, else settings.VEIL_LEASE_SECONDS."""
    seconds = image.dataset.lease_seconds or settings.VEIL_LEASE_SECONDS
    return timezone.now() + timedelta(seconds=seconds)


def lease_acquire(*, reviewer, image: Image) -> Lease | None:
    """Take or renew the lease of `image` for `reviewer`, for the dataset's lease length.

    Renewing keeps the token; taking over an expired lease of someone else, or one whose holder has saved the
    image since, makes a new one. A reviewer who has a current review of the image gets no lease (None) and
    loses any they held: they no longer need the image, and a lease of theirs must not keep it from the others
    who do (a save of theirs, changing their answer, needs none). Refuses with NotFound when the reviewer may
    not review the image and Conflict while another reviewer's lease runs.
    """
    if not policies.can_review_image(reviewer, image):
        raise NotFound("No such image in your assignments, or it is already approved.")
    if Review.objects.filter(image=image, reviewer=reviewer, is_current=True).exists():
        Lease.objects.filter(image=image, reviewer=reviewer).delete()
        return None
    with transaction.atomic():
        lease = _lease_take(reviewer=reviewer, image=image)
        live = Lease.objects.filter(reviewer=reviewer, expires_at__gt=timezone.now()).count()
        if live > settings.VEIL_LEASES_PER_REVIEWER:
            _leases_trim(reviewer_id=reviewer.pk, keep=lease)
    return lease


def _leases_trim(*, reviewer_id: int, keep: Lease) -> None:
    """Keep at most VEIL_LEASES_PER_REVIEWER leases for the reviewer: `keep` (just taken) and the most recently
    renewed others; the rest are released. The review page holds the image on screen, the one fetched ahead
    and those whose saves are in flight (a save whose lease was released still goes through while nobody else
    took the image); a client walking next with a growing `exclude` would otherwise hold a whole batch."""
    others = Lease.objects.filter(reviewer_id=reviewer_id).exclude(pk=keep.pk).order_by("-expires_at", "-pk")
    kept = list(others.values_list("pk", flat=True)[: settings.VEIL_LEASES_PER_REVIEWER - 1])
    Lease.objects.filter(reviewer_id=reviewer_id).exclude(pk=keep.pk).exclude(pk__in=kept).delete()


def _holder_has_saved(lease: Lease) -> bool:
    return Review.objects.filter(image_id=lease.image_id, reviewer_id=lease.reviewer_id, is_current=True).exists()


def _lease_take(*, reviewer, image: Image, known_free: bool = False, nested: bool = False) -> Lease:
    """lease_acquire once the caller knows the reviewer may review the image (two queries). `known_free`: the
    caller read the image with its lease in a query that locked the image, and it had none: one INSERT (the
    one-row-per-image constraint still refuses a second holder if another request raced us). `nested`: the
    caller's transaction ends with any Conflict raised here, so no savepoint is needed (two round trips each)."""
    now = timezone.now()
    with transaction.atomic(savepoint=not nested):
        lease = None if known_free else Lease.objects.select_for_update().filter(image=image).first()
        if lease is None:
            try:
                with transaction.atomic(savepoint=not nested):
                    return Lease.objects.create(
                        image=image,
                        reviewer=reviewer,
                        token=secrets.token_hex(16),
                        acquired_at=now,
                        expires_at=_expiry(image),
                    )
            except IntegrityError as exc:  # another reviewer inserted the row between our read and our write
                raise Conflict("Another reviewer has just opened this image.", code="leased") from exc
        if lease.reviewer_id != reviewer.pk:
            if lease.expires_at > now and not _holder_has_saved(lease):
                raise Conflict(
                    "Another reviewer is working on this image. You can look at it but not save it.", code="leased"
                )
            lease.reviewer = reviewer
            lease.token = secrets.token_hex(16)
            lease.acquired_at = now
        lease.expires_at = _expiry(image)
        lease.save()
        return lease


def _lease_renew_or_take(*, reviewer, image: Image) -> Lease:
    """_lease_take for an image read (and locked) with its lease row, if any, as `image.lease`, inside a
    transaction that a Conflict ends: no lease is one INSERT; my own lease is renewed by one conditional UPDATE
    (it keeps its token); anything else, or a lease that changed since it was read, goes through _lease_take's
    locked read."""
    lease = image.lease if hasattr(image, "lease") else None  # hasattr: False when no lease row came with it
    if lease is None:
        return _lease_take(reviewer=reviewer, image=image, known_free=True, nested=True)
    if lease.reviewer_id == reviewer.pk:
        expires_at = _expiry(image)
        if Lease.objects.filter(pk=lease.pk, reviewer=reviewer, token=lease.token).update(expires_at=expires_at):
            lease.expires_at = expires_at
            return lease
    return _lease_take(reviewer=reviewer, image=image, nested=True)


def lease_release(*, reviewer, image: Image) -> None:
    """Give the image back so another reviewer can take it at once. Does nothing if the lease is not ours."""
    Lease.objects.filter(image=image, reviewer=reviewer).delete()


def lease_check_for_save(*, reviewer, lease: Lease | None, token: str) -> None:
    """Refuse a save that would overwrite another reviewer's work in progress, or that comes from a page whose
    lease was superseded. `lease` is the image's lease, read inside the save's transaction with the locked image
    (review_submit reads both in one query).

    Our own lease with the same token (or a page that sends none) lets the save through. Our own lease under
    another token means the image was opened again after this page's lease ended (another tab, or taken back
    after it ran out): that page's save is refused with 409. A lease nobody holds any more lets the save through:
    the image revision, checked separately, catches anything that changed meanwhile.
    """
    if lease is None:
        return
    if lease.reviewer_id == reviewer.pk:
        if token and token != lease.token:
            raise Conflict(
                "This page's lease on the image was replaced by a newer one (the image was opened again, in "
                "another tab or after the lease ran out). Nothing was saved; reload the image to continue there.",
                code="lease_superseded",
            )
        return
    if lease.expires_at > timezone.now():
        raise Conflict(
            "Your lease on this image expired and another reviewer has taken it. Your edits are still on screen; "
            "nothing was saved.",
            code="lease_lost",
        )


def _active_assignment_query(*, reviewer_id: int, batch_id: int):
    return (
        Assignment.objects.select_related("batch", "batch__dataset")
        .filter(batch_id=batch_id, reviewer_id=reviewer_id, status=Assignment.Status.ACTIVE)
        .annotate(invite_limit=crowd.invite_image_limit_subquery(reviewer_id=reviewer_id))
        .order_by("pk")[:1]
    )


_active_assignment = Prepared(_active_assignment_query)


def active_assignment(*, reviewer, batch_id: int) -> Assignment:
    """The reviewer's active assignment of the batch, with its batch and dataset, and `invite_limit`: the images
    a crowd invite asked of this reviewer in the batch (None for no limit), read in the same query."""
    found = _active_assignment.fetch(reviewer_id=reviewer.pk, batch_id=batch_id)
    if not found or not policies.is_reviewer(reviewer):
        raise NotFound("No such batch among your assignments.")
    return found[0]


def _next_item_query(*, reviewer_id, batch_id, now, is_audit: bool, later: bool, after_image_id=None, **excluded):
    """The next item of the batch that needs the reviewer, with its image (locked with SKIP LOCKED on
    PostgreSQL; SQLite serialises writers), dataset, lease and BatchPlace: after `after_image_id`'s position
    when `later`, else from the start up to it. `excluded`: x0, x1, ... image ids to pass over."""
    items = items_needing_review(reviewer_id=reviewer_id, batch_id=batch_id, is_audit=is_audit, now=now).exclude(
        image_id__in=[excluded[f"x{i}"] for i in range(len(excluded))]
    )
    after_position = Coalesce(
        Subquery(BatchItem.objects.filter(batch_id=batch_id, image_id=after_image_id).values("position")[:1]), -1
    )
    window = items.filter(position__gt=after_position) if later else items.filter(position__lte=after_position)
    my_leases = (
        Lease.objects.filter(reviewer_id=reviewer_id, expires_at__gt=now)
        .order_by()
        .values("reviewer_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    item = batch_items_with_place(
        window.select_related("image", "image__dataset", "image__lease").select_for_update(
            skip_locked=True, of=("image",)
        )
    ).annotate(my_leases=Coalesce(Subquery(my_leases), 0))
    if not is_audit:  # an audit batch hands out approved images on purpose
        item = item.exclude(image__status=Image.Status.APPROVED, image__is_gold=False)
    return item[:1]


_next_item = Prepared(_next_item_query)


def image_next_for_review(
    *, reviewer, batch_id: int, after_image_id: int | None = None, exclude_ids: tuple[int, ...] = ()
) -> tuple[Image, Lease] | None:
    """Lease and return the next image of the batch that needs this reviewer (its `batch_place` set, a
    BatchPlace), or None when none is left.

    Looks after `after_image_id`'s position first, then wraps around. Never hands one image to two reviewers:
    candidates are locked with SKIP LOCKED on PostgreSQL (SQLite serialises writers), and the one-row-per-image
    lease refuses a second holder if two requests still race. A reviewer holds at most VEIL_LEASES_PER_REVIEWER
    leases: taking one more releases the least recently renewed of the others.
    """
    assignment = active_assignment(reviewer=reviewer, batch_id=batch_id)
    # A crowd invite asked for this many images: only then are the reviewer's reviews in the batch counted.
    if assignment.invite_limit is not None and not policies.has_images_left(reviewer, assignment.batch):
        return None
    excluded = {f"x{i}": pk for i, pk in enumerate(i for i in (*exclude_ids, after_image_id) if i is not None)}
    values = {"reviewer_id": reviewer.pk, "batch_id": assignment.batch_id, **excluded}
    if after_image_id is not None:
        values["after_image_id"] = after_image_id
    # One query per try: the next item and its image, locked with SKIP LOCKED (PostgreSQL; SQLite serialises
    # writers), later positions first, then wrapping around to what was skipped. The image comes from the
    # reviewer's active assignment and is not approved (gold aside), so the lease needs no second policy check.
    # The query is compiled once per shape (reviewer.prepared): only the ids and the clock change between calls.
    for later in (True, False):
        if not later and after_image_id is None:
            break
        shape = {"is_audit": assignment.batch.is_audit, "later": later}
        if after_image_id is None:
            shape["after_image_id"] = None
        for _attempt in range(3):
            try:
                with transaction.atomic():
                    found = _next_item.fetch(shape=shape, now=timezone.now(), **values)
                    if not found:
                        break
                    item = found[0]
                    lease = _lease_renew_or_take(reviewer=reviewer, image=item.image)
                    if item.my_leases >= settings.VEIL_LEASES_PER_REVIEWER:  # read with the item: no query unless
                        _leases_trim(reviewer_id=reviewer.pk, keep=lease)
                    item.image.batch_place = place_of(item)  # read with it: image_review_state reads it again
                    return item.image, lease
            except Conflict:
                continue  # leased by someone else between our read and our write (rolled back): try the next one
    return None
