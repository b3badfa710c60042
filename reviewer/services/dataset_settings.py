"""A dataset's settings: reviews per image (k), gold per batch, lease length, release bound, audit rate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from reviewer import policies
from reviewer.errors import ServiceError
from reviewer.models import Assignment, Dataset, Image, User
from reviewer.services.assignment import dataset_assign_round_robin
from reviewer.services.audit import audit_record

MAX_REVIEWS_REQUIRED = 10
MIN_LEASE_SECONDS, MAX_LEASE_SECONDS = 30, 24 * 3600
SETTINGS_FIELDS = ("reviews_required", "gold_per_batch", "lease_seconds", "release_bound", "audit_rate")


@dataclass
class SettingsChange:
    dataset: Dataset
    changed: dict[str, tuple] = field(default_factory=dict)  # field -> (before, after)
    reopened: int = 0  # images sent back from "reviewed" to "in review": they need more reviews now
    completed: int = 0  # images moved from "in review" to "reviewed": they have enough now
    assignments: list[Assignment] = field(default_factory=list)
    batches_short: int = 0  # open batches with fewer live reviewers than k after the change


def dataset_settings_update(
    *, dataset: Dataset, actor: User, reviewers: Sequence[User] = (), **values
) -> SettingsChange:
    """Change a dataset's settings; when k (reviews_required) changes, re-plan the images and open batches.

    Writes the Dataset row and one audit event with each change's before and after. A new k moves images that
    are not approved between "in review" and "reviewed" by their count of current reviews (bumping their
    revision, so an approval drawn under the old k is refused as stale), then gives each open batch (one with
    an image not approved) up to k live reviewers taken round-robin from `reviewers` (assignment service).
    Refuses: a non-admin actor, an unknown setting, k outside 1..10, gold per batch below 0, a lease outside
    30 s..24 h, a release bound or audit rate outside 0..1, and more reviewers wanted than were given.
    """
    policies.require_admin(actor, "change a dataset's settings", dataset)
    unknown = set(values) - set(SETTINGS_FIELDS)
    if unknown:
        raise ServiceError(f"Unknown setting: {', '.join(sorted(unknown))}.", code="unknown_setting")
    _check(values)
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        change = SettingsChange(dataset=dataset)
        for name, value in values.items():
            if getattr(dataset, name) != value:
                change.changed[name] = (getattr(dataset, name), value)
                setattr(dataset, name, value)
        if not change.changed and not reviewers:
            return change
        dataset.save(update_fields=list(change.changed) or None)
        k = dataset.reviews_required
        if "reviews_required" in change.changed:
            change.reopened, change.completed = _restatus(dataset, k)
        if reviewers:
            change.assignments = dataset_assign_round_robin(
                dataset=dataset, reviewers=reviewers, actor=actor, k=k, only_open=True
            )
        change.batches_short = _open_batches_short_of(dataset, k)
        audit_record(
            actor=actor,
            verb="dataset.settings_changed",
            obj=dataset,
            changes={name: {"before": b, "after": a} for name, (b, a) in change.changed.items()},
            reopened=change.reopened,
            completed=change.completed,
            assignments=len(change.assignments),
        )
    return change


def _check(values: dict) -> None:
    k = values.get("reviews_required")
    if k is not None and not (isinstance(k, int) and 1 <= k <= MAX_REVIEWS_REQUIRED):
        raise ServiceError(f"Reviews per image must be a whole number from 1 to {MAX_REVIEWS_REQUIRED}.", code="k")
    gold = values.get("gold_per_batch")
    if gold is not None and not (isinstance(gold, int) and gold >= 0):
        raise ServiceError("Gold images per batch must be 0 or more.", code="gold")
    lease = values.get("lease_seconds")
    if lease is not None and not (isinstance(lease, int) and MIN_LEASE_SECONDS <= lease <= MAX_LEASE_SECONDS):
        raise ServiceError(
            f"A lease lasts from {MIN_LEASE_SECONDS} to {MAX_LEASE_SECONDS} seconds (blank: the default).",
            code="lease",
        )
    for name, words in (("release_bound", "The release bound"), ("audit_rate", "The audit rate")):
        value = values.get(name)
        if value is not None and not (0 <= value <= 1):
            raise ServiceError(f"{words} is a share from 0 to 1 (0.02 is 2 %).", code=name)


def _restatus(dataset: Dataset, k: int) -> tuple[int, int]:
    """Move non-approved images between in_review and reviewed by their count of current reviews against k."""
    counted = Image.objects.filter(dataset=dataset).annotate(
        current=Count("reviews", filter=Q(reviews__is_current=True))
    )
    reopen = list(counted.filter(status=Image.Status.REVIEWED, current__lt=k).values_list("pk", flat=True))
    complete = list(counted.filter(status=Image.Status.IN_REVIEW, current__gte=k).values_list("pk", flat=True))
    now = timezone.now()
    bump = {"revision": F("revision") + 1, "updated_at": now}
    for ids, status in ((reopen, Image.Status.IN_REVIEW), (complete, Image.Status.REVIEWED)):
        for start in range(0, len(ids), 5000):
            Image.objects.filter(pk__in=ids[start : start + 5000]).update(status=status, **bump)
    return len(reopen), len(complete)


def _open_batches_short_of(dataset: Dataset, k: int) -> int:
    live = (Assignment.Status.ACTIVE, Assignment.Status.DONE)
    return (
        dataset.batches.filter(is_pool=False)
        .filter(Q(items__image__is_gold=False) & ~Q(items__image__status=Image.Status.APPROVED))
        .annotate(live=Count("assignments", filter=Q(assignments__status__in=live), distinct=True))
        .filter(live__lt=k)
        .distinct()
        .count()
    )
