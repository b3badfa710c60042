"""Daily snapshot rows for the dashboards, written by the periodic reconcile step (and on demand).

The dashboards read these rows, never the images or reviews themselves, so a chart costs the same at any size.
In Veil a snapshot is always this: a summary the periodic step writes so that a page reads it instead of computing
it (these daily rows, and the release gate's report on Dataset.gate_snapshot, reviewer/services/gate.py). An
image's current reviews read inside a write are `summaries.CurrentReviews`; the review page's undo history is
`rememberForUndo` in static/veil/review/editor.js.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from reviewer.imaging.consolidate import pair_agreement, score_against_gold
from reviewer.models import Dataset, DatasetDay, GoldBox, Image, Review, ReviewerDay
from reviewer.selectors.workflow import current_reviews_by_image

# Counting a dataset's images by stage is one index scan; once every five minutes is plenty for a daily chart.
SNAPSHOT_EVERY_SECONDS = 300
_CHUNK = 2000


def snapshots_write(*, now: datetime | None = None, force: bool = False) -> int:
    """Write today's DatasetDay row of every dataset and the ReviewerDay rows of today and yesterday.

    Writes (update or create, so running twice leaves the same rows): one DatasetDay per dataset with its
    images per stage; one ReviewerDay per reviewer and dataset with the current reviews submitted that day.
    Skips a dataset whose row for today is younger than SNAPSHOT_EVERY_SECONDS unless `force`. Returns the
    number of datasets written. Refuses nothing; enqueues nothing.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    fresh = set()
    if not force:
        fresh = set(
            DatasetDay.objects.filter(
                day=today, written_at__gte=now - timedelta(seconds=SNAPSHOT_EVERY_SECONDS)
            ).values_list("dataset_id", flat=True)
        )
    datasets = list(Dataset.objects.exclude(pk__in=fresh).values_list("pk", flat=True))
    if not datasets:
        return 0
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = Image.objects.filter(dataset_id__in=datasets).values_list("dataset_id", "status").annotate(n=Count("id"))
    for dataset_id, status, n in rows.order_by():
        counts[dataset_id][status] = n
    with transaction.atomic():
        for dataset_id in datasets:
            by_status = counts.get(dataset_id, {})
            DatasetDay.objects.update_or_create(
                dataset_id=dataset_id,
                day=today,
                defaults={status: by_status.get(status, 0) for status in Image.Status.values},
            )
        for day in (today - timedelta(days=1), today):
            reviewer_days_write(day=day, dataset_ids=datasets)
    return len(datasets)


def reviewer_days_write(*, day: date, dataset_ids: list[int]) -> int:
    """Recompute the ReviewerDay rows of `day` for the given datasets from the current reviews submitted that day.

    Gold scores come from the review when it was scored at submit, else against the image's gold boxes now;
    agreement is the F1 against each other current review of the same image. Returns the rows written.
    """
    start = timezone.make_aware(datetime.combine(day, time.min))
    reviews = list(
        Review.objects.filter(
            is_current=True, submitted_at__gte=start, submitted_at__lt=start + timedelta(days=1),
            image__dataset_id__in=dataset_ids,
        ).values_list("pk", "image_id", "reviewer_id", "image__dataset_id", "image__is_gold", "seconds_spent",
                      "gold_misses", "gold_extras")
    )  # fmt: skip
    image_ids = sorted({r[1] for r in reviews})
    facts, gold = {}, defaultdict(list)
    for begin in range(0, len(image_ids), _CHUNK):
        chunk = image_ids[begin : begin + _CHUNK]
        for image_reviews in current_reviews_by_image(chunk).values():
            for review in image_reviews:
                facts[review.pk] = (review, image_reviews)
        for box in GoldBox.objects.filter(image_id__in=chunk, image__is_gold=True):
            gold[box.image_id].append(box.box)
    sums: dict[tuple[int, int], dict] = {}
    seconds: dict[tuple[int, int], list[float]] = defaultdict(list)
    for pk, image_id, reviewer_id, dataset_id, is_gold, spent, misses, extras in reviews:
        key = (reviewer_id, dataset_id)
        row = sums.setdefault(key, defaultdict(float))
        row["reviews"] += 1
        row["seconds_total"] += spent
        seconds[key].append(spent)
        mine, others = facts.get(pk, (None, []))
        if mine is None:
            continue
        for other in others:
            if other.pk != pk:
                row["agreement_sum"] += pair_agreement(mine.boxes, other.boxes)
                row["agreement_pairs"] += 1
        if is_gold:
            known = gold.get(image_id, [])
            if misses is None or extras is None:
                misses, extras = score_against_gold(mine.boxes, known)
            row["gold_reviews"] += 1
            row["gold_boxes"] += len(known)
            row["gold_misses"] += misses
            row["gold_extras"] += extras
    ReviewerDay.objects.filter(day=day, dataset_id__in=dataset_ids).exclude(
        reviewer_id__in={k[0] for k in sums}
    ).delete()
    for (reviewer_id, dataset_id), row in sums.items():
        ReviewerDay.objects.update_or_create(
            reviewer_id=reviewer_id,
            dataset_id=dataset_id,
            day=day,
            defaults={
                "reviews": int(row["reviews"]),
                "seconds_total": row["seconds_total"],
                "seconds_median": statistics.median(seconds[(reviewer_id, dataset_id)]),
                **{name: int(row[name]) for name in ("gold_reviews", "gold_boxes", "gold_misses", "gold_extras")},
                "agreement_sum": row["agreement_sum"],
                "agreement_pairs": int(row["agreement_pairs"]),
            },
        )
    return len(sums)
