"""Reads for the audit log page: filtered, newest first, paged by keyset on (at, id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from reviewer.models import AuditEvent

EVENTS_PER_PAGE = 50


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None
    verb: str = ""  # exact verb ("review.submitted") or a prefix ending in a dot ("review.")
    dataset_id: int | None = None
    image_id: int | None = None
    since: date | None = None
    until: date | None = None  # inclusive


def audit_events(f: AuditFilter) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("actor", "dataset")
    if f.actor_id:
        events = events.filter(actor_id=f.actor_id)
    if f.verb:
        events = events.filter(verb__startswith=f.verb) if f.verb.endswith(".") else events.filter(verb=f.verb)
    if f.dataset_id:
        events = events.filter(dataset_id=f.dataset_id)
    if f.image_id:
        events = events.filter(object_type="reviewer.image", object_id=str(f.image_id))
    if f.since:
        events = events.filter(at__gte=timezone.make_aware(datetime.combine(f.since, time.min)))
    if f.until:
        events = events.filter(at__lt=timezone.make_aware(datetime.combine(f.until + timedelta(days=1), time.min)))
    return events.order_by("-at", "-id")


def audit_page(
    f: AuditFilter, *, cursor: tuple[datetime, int] | None = None, limit: int = EVENTS_PER_PAGE
) -> tuple[list[AuditEvent], tuple[datetime, int] | None]:
    """One page of events older than `cursor` (at, id), and the cursor of the next page (None at the end)."""
    events = audit_events(f)
    if cursor:
        at, pk = cursor
        events = events.filter(Q(at__lt=at) | Q(at=at, id__lt=pk))
    rows = list(events[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1].at, rows[-1].pk) if more else None)


# Offered in the filter's list; any other verb (or a prefix ending in a dot) can still be typed.
KNOWN_VERBS = (
    "assignment.", "assignment.created", "assignment.revoked", "batch.taken", "batches.created", "dataset.",
    "dataset.created", "dataset.settings_changed", "detection.", "detection.made_current", "detection.retried",
    "detection.started", "export.", "export.failed", "export.started", "image.", "image.approved",
    "image.gold_marked", "image.gold_unmarked", "image.sent_back", "import.finished", "review.submitted", "user.",
    "user.activated", "user.created", "user.deactivated", "user.password_reset",
)  # fmt: skip
