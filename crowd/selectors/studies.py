"""Reads for the crowd pages: a worker's progress, the instructions, qualification results and the pay sheet."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from crowd.models import CrowdSetup, CrowdWorker, InstructionExample, Invite, Participation, QualificationAttempt
from reviewer import policies
from reviewer.errors import NotFound
from reviewer.imaging.spreadsheet import csv_cell
from reviewer.models import Dataset, GoldBox, Review, User


def participation_of(*, user, participation_id: int) -> Participation:
    """The signed-in worker's own participation; NotFound for anyone else's (ids leak nothing)."""
    found = (
        Participation.objects.select_related("invite", "invite__dataset", "batch")
        .filter(pk=participation_id, reviewer=user)
        .first()
    )
    if found is None or not policies.is_reviewer(user):
        raise NotFound("No such study among yours.")
    return found


def latest_participation(*, user) -> Participation | None:
    return Participation.objects.select_related("invite__dataset").filter(reviewer=user).order_by("-id").first()


def participation_for_batch(*, user, batch_id: int) -> Participation | None:
    return Participation.objects.select_related("invite").filter(reviewer=user, batch_id=batch_id).first()


@dataclass(frozen=True)
class QualificationState:
    required: bool
    passed: bool
    tries_used: int
    max_tries: int
    open_attempt: QualificationAttempt | None

    @property
    def tries_left(self) -> int:
        return max(self.max_tries - self.tries_used, 0) if not self.open_attempt else self.max_tries - self.tries_used


def qualification_state(*, user, dataset: Dataset) -> QualificationState:
    setup = CrowdSetup.objects.filter(dataset=dataset).first()
    attempts = list(QualificationAttempt.objects.filter(dataset=dataset, reviewer=user))
    opened = next((a for a in attempts if a.result == QualificationAttempt.Result.OPEN), None)
    return QualificationState(
        required=bool(setup and setup.qualification_size),
        passed=any(a.result == QualificationAttempt.Result.PASSED for a in attempts),
        tries_used=len(attempts),
        max_tries=setup.max_tries if setup else 0,
        open_attempt=opened,
    )


def instruction_examples(dataset: Dataset) -> list[InstructionExample]:
    return list(InstructionExample.objects.filter(dataset=dataset).select_related("image").prefetch_related("boxes"))


def invites_of(dataset: Dataset) -> list[Invite]:
    return list(Invite.objects.filter(dataset=dataset).select_related("created_by").order_by("-created_at")[:200])


# --- the quality page's section -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QualificationRow:
    reviewer: User
    tries: int
    passed: bool
    failed_tries: int
    last_mistakes: int
    open: bool


def qualification_results(dataset: Dataset, *, limit: int = 500) -> list[QualificationRow]:
    """One row per reviewer who tried the dataset's qualification round: one grouped query, newest first."""
    rows = (
        QualificationAttempt.objects.filter(dataset=dataset)
        .values("reviewer_id")
        .annotate(
            tries=Count("id"),
            passed=Count("id", filter=Q(result=QualificationAttempt.Result.PASSED)),
            failed=Count("id", filter=Q(result=QualificationAttempt.Result.FAILED)),
            open=Count("id", filter=Q(result=QualificationAttempt.Result.OPEN)),
            last_number=Max("number"),
            last_started=Max("started_at"),
        )
        .order_by("-last_started")[:limit]
    )
    rows = list(rows)
    users = User.objects.in_bulk([r["reviewer_id"] for r in rows])
    last = {
        (a.reviewer_id, a.number): a.mistakes
        for a in QualificationAttempt.objects.filter(dataset=dataset, reviewer_id__in=users).only(
            "reviewer_id", "number", "mistakes"
        )
    }
    return [
        QualificationRow(
            reviewer=users[r["reviewer_id"]],
            tries=r["tries"],
            passed=bool(r["passed"]),
            failed_tries=r["failed"],
            last_mistakes=last.get((r["reviewer_id"], r["last_number"]), 0),
            open=bool(r["open"]),
        )
        for r in rows
    ]


# --- the pay sheet ------------------------------------------------------------------------------------------

PAY_SHEET_COLUMNS = [
    "reviewer",
    "platform",
    "external_id",
    "images",
    "active_seconds",
    "gold_reviews",
    "gold_miss_rate",
    "completion_codes",
    "held_back",
]


def pay_sheet_rows(*, dataset: Dataset, start: datetime, end: datetime) -> list[dict]:
    """Per reviewer with reviews of the dataset submitted in [start, end): images, seconds, gold miss rate,
    the completion codes issued in the period, and whether the work is held back (miss rate above the
    dataset's limit; "no gold" when none of their reviews was on a gold image). Grouped queries only: cost
    follows the number of reviewers, not of reviews."""
    setup = CrowdSetup.objects.filter(dataset=dataset).first()
    limit = setup.miss_rate_limit if setup else CrowdSetup._meta.get_field("miss_rate_limit").default
    reviews = Review.objects.filter(
        image__dataset=dataset, is_current=True, submitted_at__gte=start, submitted_at__lt=end
    )
    totals = {
        r["reviewer_id"]: r
        for r in reviews.values("reviewer_id").annotate(
            images=Count("image_id", distinct=True),
            seconds=Sum("seconds_spent"),
            gold_reviews=Count("id", filter=Q(gold_misses__isnull=False)),
            gold_misses=Sum("gold_misses"),
        )
    }
    gold_counts = dict(
        GoldBox.objects.filter(image__dataset=dataset)
        .values("image_id")
        .annotate(n=Count("id"))
        .values_list("image_id", "n")
    )
    gold_shown: dict[int, int] = {}
    for reviewer_id, image_id in reviews.filter(gold_misses__isnull=False).values_list("reviewer_id", "image_id"):
        gold_shown[reviewer_id] = gold_shown.get(reviewer_id, 0) + gold_counts.get(image_id, 0)
    codes: dict[int, list[str]] = {}
    for reviewer_id, code in (
        Participation.objects.filter(invite__dataset=dataset, completed_at__gte=start, completed_at__lt=end)
        .order_by("completed_at")
        .values_list("reviewer_id", "completion_code")
    ):
        codes.setdefault(reviewer_id, []).append(code)
    ids = set(totals) | set(codes)
    users = User.objects.in_bulk(ids)
    workers = {w.user_id: w for w in CrowdWorker.objects.filter(user_id__in=ids)}
    rows = []
    for reviewer_id in sorted(ids, key=lambda i: users[i].username):
        total = totals.get(reviewer_id, {})
        shown = gold_shown.get(reviewer_id, 0)
        misses = total.get("gold_misses") or 0
        rate = round(misses / shown, 3) if shown else (0.0 if total.get("gold_reviews") else None)
        worker = workers.get(reviewer_id)
        rows.append(
            {
                "reviewer": users[reviewer_id].username,
                "platform": worker.platform if worker else "",
                "external_id": worker.external_id if worker else "",
                "images": total.get("images", 0),
                "active_seconds": round(total.get("seconds") or 0.0, 1),
                "gold_reviews": total.get("gold_reviews", 0),
                "gold_miss_rate": "" if rate is None else rate,
                "completion_codes": " ".join(codes.get(reviewer_id, [])),
                # Without a gold review nothing says the work is good or bad: say so rather than "no".
                "held_back": "no gold" if rate is None else ("yes" if rate > limit else "no"),
            }
        )
    return rows


def pay_sheet_csv(*, dataset: Dataset, start: datetime, end: datetime) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PAY_SHEET_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in pay_sheet_rows(dataset=dataset, start=start, end=end):
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
    return out.getvalue()


def default_period() -> tuple[datetime, datetime]:
    """The last 30 days up to now."""
    end = timezone.now()
    return end - timedelta(days=30), end
