"""Batches, assignments and gold images: how a dataset's images reach reviewers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import Exists, OuterRef

from reviewer import policies
from reviewer.errors import Conflict, ServiceError
from reviewer.imaging.consolidate import GOLD_IOU, missed_gold
from reviewer.imaging.geometry import Box, InvalidBox, validate
from reviewer.models import (
    Assignment,
    AuditEvent,
    Batch,
    BatchItem,
    Dataset,
    GoldBox,
    Image,
    Lease,
    Review,
    ReviewBox,
    User,
)
from reviewer.services.audit import audit_record
from reviewer.services.summaries import KEPT_FATES

# What only admins may do here, in policies.require_admin\'s "Only admins ...".
_ADMIN_WORK = "manage batches, assignments and gold images"

MAX_BATCH_SIZE = 100_000
_PREFIX_RE = re.compile(r"^[\w .-]{1,150}$")


def gold_positions(size: int, gold_count: int, seed: int) -> list[int]:
    """Where in a batch of `size` items the `gold_count` gold images go: one in each equal slice of the batch,
    at a place within the slice that the seed (the batch id) varies, so gold never sits at the same position in
    every batch and reviewers cannot learn where it is.
    """
    total = size + gold_count
    positions = []
    for g in range(gold_count):
        lo = g * total // gold_count
        hi = max(lo, (g + 1) * total // gold_count - 1)
        positions.append(lo + (seed * 7919 + g * 104729) % (hi - lo + 1))
    return positions


def batch_sizes(total: int, size: int) -> list[int]:
    """How `total` images are cut into batches of about `size`: full batches and one smaller last batch, except
    that a remainder under half a batch is spread over the full batches (41 by 20 gives 21 + 20, not 20 + 20 + 1:
    a batch of one is a chore to hand out and tells nobody anything)."""
    full, remainder = divmod(total, size)
    if full and remainder and remainder * 2 < size:
        sizes = [size] * full
        for i in range(remainder):
            sizes[i % full] += 1
        return sizes
    return [size] * full + ([remainder] if remainder else [])


def batches_create(
    *,
    dataset: Dataset,
    actor: User,
    size: int,
    is_pool: bool = False,
    gold_per_batch: int = 0,
    name_prefix: str = "",
) -> list[Batch]:
    """Cut the dataset's images that are in no batch yet into batches of `size`, ordered by relative path; a
    remainder under half a batch is spread over the others (see batch_sizes).

    Writes Batch and BatchItem rows (one INSERT for all batches, one for all items) and one audit event.
    Gold images (is_gold with known boxes) are not cut
    into batches; instead `gold_per_batch` of them are mixed into every batch, taken round-robin, at spread-out
    positions. Names continue the dataset's numbering: "<prefix>-001", "<prefix>-002"...
    Refuses: a non-admin actor, size < 1, gold_per_batch < 0, gold wanted when the dataset has no gold image
    (or fewer than asked), a bad prefix, and a dataset with no image left to batch.
    """
    policies.require_admin(actor, _ADMIN_WORK)
    if not isinstance(size, int) or size < 1 or size > MAX_BATCH_SIZE:
        raise ServiceError(f"Batch size must be a whole number from 1 to {MAX_BATCH_SIZE}; got {size!r}.")
    if not isinstance(gold_per_batch, int) or gold_per_batch < 0:
        raise ServiceError(f"Gold images per batch must be 0 or more; got {gold_per_batch!r}.")
    prefix = (name_prefix or "batch").strip()
    if not _PREFIX_RE.match(prefix):
        raise ServiceError("A batch name prefix has 1 to 150 letters, digits, spaces, dots, dashes or underscores.")
    with transaction.atomic():
        Dataset.objects.select_for_update().get(pk=dataset.pk)  # two admins cutting at once would collide
        image_ids = list(
            # The partial index image_unbatched_path: no anti-join over every image and batch item.
            Image.objects.filter(dataset=dataset, is_gold=False, is_batched=False)
            .order_by("relative_path")
            .values_list("id", flat=True)
        )
        if not image_ids:
            raise ServiceError(
                f"Dataset “{dataset.name}” has no image left to put in a batch: every image is in a batch "
                "already, or it has none.",
                code="nothing_to_batch",
            )
        gold_ids: list[int] = []
        if gold_per_batch:
            gold_ids = list(
                Image.objects.filter(dataset=dataset, is_gold=True)
                .order_by("relative_path")
                .values_list("id", flat=True)
            )
            if len(gold_ids) < gold_per_batch:
                raise ServiceError(
                    f"{gold_per_batch} gold images per batch were asked for but dataset “{dataset.name}” has "
                    f"{len(gold_ids)}. Mark images as gold first, or ask for fewer.",
                    code="not_enough_gold",
                )
        number = _next_batch_number(dataset, prefix)
        sizes = batch_sizes(len(image_ids), size)
        batches = Batch.objects.bulk_create(
            [
                Batch(dataset=dataset, name=f"{prefix}-{number + n:03d}", is_pool=is_pool, created_by=actor)
                for n in range(len(sizes))
            ]
        )
        items: list[BatchItem] = []
        gold_cursor = 0
        start = 0
        for batch, chunk_size in zip(batches, sizes, strict=True):
            chunk = image_ids[start : start + chunk_size]
            start += chunk_size
            golds = [gold_ids[(gold_cursor + g) % len(gold_ids)] for g in range(gold_per_batch)]
            gold_cursor += gold_per_batch
            slots = dict(zip(gold_positions(len(chunk), len(golds), batch.pk), golds, strict=True))
            regular = iter(chunk)
            for position in range(len(chunk) + len(golds)):
                image_id = slots.get(position) or next(regular)
                items.append(BatchItem(batch=batch, image_id=image_id, position=position))
            batch.size = len(chunk) + len(golds)  # the triggers keep the column; the caller sees it too
        BatchItem.objects.bulk_create(items, batch_size=5000)
        audit_record(
            actor=actor,
            verb="batches.created",
            obj=dataset,
            batches=[b.name for b in batches],
            size=size,
            images=len(image_ids),
            is_pool=is_pool,
            gold_per_batch=gold_per_batch,
        )
    return batches


def _next_batch_number(dataset: Dataset, prefix: str) -> int:
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)$")
    numbers = [
        int(m.group(1))
        for name in Batch.objects.filter(dataset=dataset, name__startswith=f"{prefix}-").values_list("name", flat=True)
        if (m := pattern.match(name))
    ]
    return max(numbers, default=0) + 1


def _check_reviewers(reviewers: Iterable[User]) -> list[User]:
    checked = []
    for user in reviewers:
        if not policies.is_reviewer(user):
            why = "is inactive" if not user.is_active else "is not a reviewer"
            raise ServiceError(
                f"User “{user.username}” {why}: only active reviewers get batches.", code="not_a_reviewer"
            )
        if user not in checked:
            checked.append(user)
    return checked


def batch_assign(*, batch: Batch, reviewers: Sequence[User], actor: User) -> list[Assignment]:
    """Give `batch` to each of `reviewers`: one active Assignment row per reviewer, and an audit event each.

    A revoked assignment of the same reviewer is made active again (the database keeps one row per batch and
    reviewer, so nobody can hold the same batch twice). Refuses: a non-admin actor, users who are not active
    reviewers, no reviewer, and a reviewer who already holds the batch (Conflict).
    """
    policies.require_admin(actor, _ADMIN_WORK)
    reviewers = _check_reviewers(reviewers)
    if not reviewers:
        raise ServiceError("Choose at least one reviewer.", code="no_reviewer")
    with transaction.atomic():
        existing = {
            a.reviewer_id: a for a in Assignment.objects.select_for_update().filter(batch=batch, reviewer__in=reviewers)
        }
        made = []
        for reviewer in reviewers:
            assignment = existing.get(reviewer.pk)
            if assignment and assignment.status != Assignment.Status.REVOKED:
                raise Conflict(f"{reviewer.username} already has batch “{batch.name}”.", code="already_assigned")
            if assignment:
                assignment.status = Assignment.Status.ACTIVE
                assignment.assigned_by = actor
                assignment.save(update_fields=["status", "assigned_by"])
            else:
                assignment = Assignment.objects.create(batch=batch, reviewer=reviewer, assigned_by=actor)
            audit_record(
                actor=actor, verb="assignment.created", obj=assignment, batch=batch.name, reviewer=reviewer.username
            )
            made.append(assignment)
    return made


def dataset_assign_round_robin(
    *, dataset: Dataset, reviewers: Sequence[User], actor: User, k: int | None = None, only_open: bool = False
) -> list[Assignment]:
    """Give every non-pool batch of the dataset to `k` distinct reviewers (default: dataset.reviews_required).

    Batches that already have reviewers (active or done) only get the missing ones; reviewers are taken
    round-robin from `reviewers` in the given order, continuing from one batch to the next so the work spreads
    evenly, skipping anyone who already holds (or held and lost) the batch. Writes Assignment rows and audit
    events, each in one INSERT. Refuses: a non-admin actor, users who are not active reviewers, k < 1, and k
    larger than the number of reviewers (k reviews of one image need k different people). With `only_open`,
    batches whose images are all approved are left alone (re-planning after k changed gives nobody a finished
    batch).
    """
    policies.require_admin(actor, _ADMIN_WORK)
    reviewers = _check_reviewers(reviewers)
    k = dataset.reviews_required if k is None else k
    if not isinstance(k, int) or k < 1:
        raise ServiceError(f"Each batch needs at least one reviewer; got k={k!r}.")
    if len(reviewers) < k:
        raise ServiceError(
            f"Each batch needs {k} different reviewers but {len(reviewers)} were given.", code="too_few_reviewers"
        )
    made: list[Assignment] = []
    with transaction.atomic():
        # PostgreSQL refuses FOR UPDATE beside an aggregate: lock the batches, then count their holders.
        batches = Batch.objects.select_for_update().filter(dataset=dataset, is_pool=False).order_by("id")
        if only_open:
            open_items = BatchItem.objects.filter(batch=OuterRef("pk"), image__is_gold=False).exclude(
                image__status=Image.Status.APPROVED
            )
            batches = batches.filter(Exists(open_items))
        batches = list(batches)
        holders: dict[int, set[int]] = {}
        live: dict[int, int] = {}
        rows = Assignment.objects.filter(batch__in=batches).values_list("batch_id", "reviewer_id", "status")
        for batch_id, reviewer_id, status in rows:
            holders.setdefault(batch_id, set()).add(reviewer_id)
            if status != Assignment.Status.REVOKED:
                live[batch_id] = live.get(batch_id, 0) + 1
        cursor = 0
        planned: list[tuple[Batch, User]] = []
        for batch in batches:
            missing = k - live.get(batch.pk, 0)
            taken = holders.get(batch.pk, set())
            tried = 0
            while missing > 0 and tried < len(reviewers):
                reviewer = reviewers[cursor % len(reviewers)]
                cursor += 1
                tried += 1
                if reviewer.pk in taken:
                    continue
                planned.append((batch, reviewer))
                taken.add(reviewer.pk)
                missing -= 1
        # One INSERT for the assignments and one for their audit events, however many batches.
        made = Assignment.objects.bulk_create(
            [Assignment(batch=batch, reviewer=reviewer, assigned_by=actor) for batch, reviewer in planned],
            batch_size=5000,
        )
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(
                    actor=actor,
                    verb="assignment.created",
                    object_type=assignment._meta.label_lower,
                    object_id=str(assignment.pk),
                    data={"batch": batch.name, "reviewer": reviewer.username},
                )
                for assignment, (batch, reviewer) in zip(made, planned, strict=True)
            ],
            batch_size=5000,
        )
    return made


def assignment_revoke(*, assignment: Assignment, actor: User) -> Assignment:
    """Take a batch back from a reviewer: status "revoked" and the reviewer's leases on its images released.

    Reviews already submitted stay (they were real work). Writes the assignment, deletes leases, one audit event.
    Refuses: a non-admin actor, and an assignment already revoked (Conflict).
    """
    policies.require_admin(actor, _ADMIN_WORK)
    with transaction.atomic():
        assignment = Assignment.objects.select_for_update().select_related("batch", "reviewer").get(pk=assignment.pk)
        if assignment.status == Assignment.Status.REVOKED:
            raise Conflict(
                f"{assignment.reviewer.username} no longer has batch “{assignment.batch.name}”.", code="already_revoked"
            )
        assignment.status = Assignment.Status.REVOKED
        assignment.save(update_fields=["status"])
        Lease.objects.filter(reviewer=assignment.reviewer, image__batch_items__batch=assignment.batch).delete()
        audit_record(
            actor=actor,
            verb="assignment.revoked",
            obj=assignment,
            batch=assignment.batch.name,
            reviewer=assignment.reviewer.username,
        )
    return assignment


def image_mark_gold(*, image: Image, actor: User, boxes: Sequence[Box] | None = None) -> Image:
    """Make `image` a gold image, whose known boxes score reviewers.

    The known boxes are `boxes` when given (checked against the image, clamped to it), else the boxes of the
    image's current approval. Replaces any earlier GoldBox rows, sets is_gold, one audit event. An empty list
    is allowed: a gold image with no face scores extra boxes. Refuses: a non-admin actor, `boxes=None` on an
    image with no current approval, and boxes that cannot be faces (outside the image, inverted, empty).
    """
    policies.require_admin(actor, _ADMIN_WORK)
    with transaction.atomic():
        image = Image.objects.select_for_update().get(pk=image.pk)
        if boxes is None:
            approval = image.approvals.filter(is_current=True).first()
            if approval is None:
                raise ServiceError(
                    f"{image.relative_path} has no approved boxes yet: approve it first or enter its boxes.",
                    code="not_approved",
                )
            known = [b.box for b in approval.boxes.all()]
            source = "approval"
        else:
            try:
                known = [validate(b, image.width, image.height) for b in boxes]
            except InvalidBox as exc:
                raise ServiceError(f"{image.relative_path}: {exc}", code="invalid_box") from exc
            source = "admin"
        # The image's current reviews are scored against the new known boxes (the quality page reads the scores
        # saved on reviews). Cleared first, so the trigger-kept sums subtract them against the old gold boxes.
        current = Review.objects.filter(image=image, is_current=True)
        current.exclude(gold_misses=None, gold_extras=None).update(gold_misses=None, gold_extras=None)
        image.gold_boxes.all().delete()
        GoldBox.objects.bulk_create([GoldBox(image=image, x0=b.x0, y0=b.y0, x1=b.x1, y1=b.y1) for b in known])
        _score_current_reviews(current, known)
        image.is_gold = True
        image.save(update_fields=["is_gold", "updated_at"])
        audit_record(
            actor=actor, verb="image.gold_marked", obj=image, source=source, boxes=[b.as_list() for b in known]
        )
    return image


def _score_current_reviews(reviews, known: list[Box]) -> None:
    kept: dict[int, list[Box]] = {review.pk: [] for review in reviews.only("pk")}
    boxes = ReviewBox.objects.filter(review__in=list(kept), fate__in=KEPT_FATES).order_by("id")
    for review_id, x0, y0, x1, y1 in boxes.values_list("review_id", "x0", "y0", "x1", "y1"):
        kept[review_id].append(Box(x0, y0, x1, y1))
    for review_id, mine in kept.items():
        missed, extras = missed_gold(mine, known, iou_threshold=GOLD_IOU)
        Review.objects.filter(pk=review_id).update(gold_misses=len(missed), gold_extras=extras)


def image_unmark_gold(*, image: Image, actor: User) -> Image:
    """Stop using `image` as gold: is_gold off, GoldBox rows deleted, one audit event.

    Batches that already hold it keep it (reviewers may be on them); it is simply no longer scored.
    Refuses: a non-admin actor and an image that is not gold.
    """
    policies.require_admin(actor, _ADMIN_WORK)
    with transaction.atomic():
        image = Image.objects.select_for_update().get(pk=image.pk)
        if not image.is_gold:
            raise Conflict(f"{image.relative_path} is not a gold image.", code="not_gold")
        image.gold_boxes.all().delete()
        image.is_gold = False
        image.save(update_fields=["is_gold", "updated_at"])
        audit_record(actor=actor, verb="image.gold_unmarked", obj=image)
    return image
