"""Reads for the admin workflow: batch progress, reviewer quality, consolidated boxes and the approval queue."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from reviewer.imaging.consolidate import Consolidation, consolidate
from reviewer.imaging.geometry import Box
from reviewer.models import Assignment, Batch, Dataset, DatasetCounter, Image, Review, ReviewBox, User
from reviewer.selectors.export import approved_images

# The fates that leave a box on the image; a deleted proposal is the reviewer saying "no face here".
KEPT_FATES = ReviewBox.KEPT_FATES
LIVE_ASSIGNMENT = (Assignment.Status.ACTIVE, Assignment.Status.DONE)


@dataclass
class ReviewFacts:
    """What the workflow needs of one current review, read without building model instances: queues and
    quality pages go through every review of a dataset, and ORM objects made that several times slower."""

    pk: int
    image_id: int
    reviewer_id: int
    reviewer: str
    has_no_faces: bool
    is_unsure: bool
    seconds_spent: float
    gold_misses: int | None
    gold_extras: int | None
    boxes: list[Box] = field(default_factory=list)  # the boxes the review leaves on the image


def current_reviews_by_image(images: QuerySet[Image] | Iterable[int]) -> dict[int, list[ReviewFacts]]:
    """The current reviews of the given images (a queryset, read as a subquery, or ids), by image, each list
    ordered by reviewer id."""
    if isinstance(images, QuerySet):
        scope, box_scope = Q(image__in=images.values("pk")), Q(review__image__in=images.values("pk"))
    else:
        ids = list(images)
        scope, box_scope = Q(image_id__in=ids), Q(review__image_id__in=ids)
    rows = (
        Review.objects.filter(scope, is_current=True)
        .order_by("image_id", "reviewer_id")
        .values_list(
            "pk", "image_id", "reviewer_id", "reviewer__username", "has_no_faces", "is_unsure", "seconds_spent",
            "gold_misses", "gold_extras",
        )
    )  # fmt: skip
    by_pk = {row[0]: ReviewFacts(*row) for row in rows}
    if not by_pk:
        return {}
    boxes = (
        ReviewBox.objects.filter(box_scope, review__is_current=True, fate__in=KEPT_FATES)
        .order_by("id")
        .values_list("review_id", "x0", "y0", "x1", "y1")
    )
    for review_id, x0, y0, x1, y1 in boxes:
        facts = by_pk.get(review_id)
        if facts is not None:
            facts.boxes.append(Box(x0, y0, x1, y1))
    grouped: dict[int, list[ReviewFacts]] = defaultdict(list)
    for facts in by_pk.values():
        grouped[facts.image_id].append(facts)
    return grouped


def consolidate_reviews(reviews: list[ReviewFacts]) -> Consolidation:
    return consolidate([r.boxes for r in reviews])


@dataclass
class QueueEntry:
    """One image waiting for approval, with what the admin needs to decide at a glance."""

    image: Image
    reviews: list[ReviewFacts]
    consolidation: Consolidation
    is_unsure: bool
    has_disagreement: bool
    reviewers: list[str] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return self.is_unsure or self.has_disagreement or self.image.needs_second_look

    @property
    def agreed_boxes(self) -> list[Box]:
        """Faces every reviewer boxed."""
        return [f.box for f in self.consolidation.faces if f.support == self.consolidation.review_count]

    @property
    def disputed_boxes(self) -> list[Box]:
        """Faces only some reviewers boxed: kept (recall first), drawn differently for the admin to check."""
        return [f.box for f in self.consolidation.faces if f.support < self.consolidation.review_count]


QUEUE_ORDER = ("-needs_second_look", "-second_look_weight", "review_attention", "relative_path")
# The flagged images first, most flagged first (one range scan of image_queue_flagged); then the rest in groups of
# review_attention, each by path (one range scan of image_queue_order each).
FLAGGED_ORDER = ("-second_look_weight", "review_attention", "relative_path")
UNFLAGGED_GROUPS = (0, 1, 2)


def _queue_entries(images: list[Image]) -> list[QueueEntry]:
    by_image = current_reviews_by_image([image.pk for image in images]) if images else {}
    entries = []
    for image in images:
        reviews = by_image.get(image.pk, [])
        consolidation = consolidate_reviews(reviews)
        no_faces_votes = {r.has_no_faces for r in reviews}
        entries.append(
            QueueEntry(
                image=image,
                reviews=reviews,
                consolidation=consolidation,
                is_unsure=any(r.is_unsure for r in reviews),
                has_disagreement=not consolidation.is_unanimous or len(no_faces_votes) > 1,
                reviewers=[r.reviewer for r in reviews],
            )
        )
    return entries


def approval_queue(dataset: Dataset) -> list[QueueEntry]:
    """Every image of the dataset waiting for approval, in queue order (for the command line; pages read one
    page with approval_queue_page)."""
    images = Image.objects.filter(dataset=dataset, status=Image.Status.REVIEWED).order_by(*QUEUE_ORDER)
    return _queue_entries(list(images))


@dataclass
class QueuePage:
    entries: list[QueueEntry]
    next_after: int | None  # the image id to pass as `after` for the next page; None on the last page
    is_first: bool


def approval_queue_page(dataset: Dataset, *, after: int | None = None, limit: int = 24) -> QueuePage:
    """One page of the approval queue: images flagged for a second look first, the most flagged first; then
    unsure, then disputed, then the rest, each group by path; after the image `after` (keyset: reads only the
    rows shown, at any depth).

    Order comes from Image.needs_second_look, second_look_weight and review_attention, kept by the services, so
    nothing but the page is consolidated. One query per group visited (usually one), plus one for the cursor and
    two for the page's reviews.
    """
    waiting = Image.objects.filter(dataset=dataset, status=Image.Status.REVIEWED)
    fields = ("needs_second_look", "second_look_weight", "review_attention", "relative_path")
    cursor = None
    if after is not None:
        cursor = waiting.filter(pk=after).values_list(*fields).first()
        if cursor is None:  # the cursor image left the queue: find its place anyway
            cursor = Image.objects.filter(dataset=dataset, pk=after).values_list(*fields).first()
    images: list[Image] = []
    if cursor is None or cursor[0]:
        flagged = waiting.filter(needs_second_look=True)
        if cursor is not None:
            _look, weight, attention, path = cursor
            flagged = flagged.filter(
                Q(second_look_weight__lt=weight)
                | Q(second_look_weight=weight, review_attention__gt=attention)
                | Q(second_look_weight=weight, review_attention=attention, relative_path__gt=path)
            )
        images.extend(flagged.order_by(*FLAGGED_ORDER)[: limit + 1])
    groups, path = UNFLAGGED_GROUPS, None
    if cursor is not None and not cursor[0]:
        groups, path = UNFLAGGED_GROUPS[UNFLAGGED_GROUPS.index(cursor[2]) :], cursor[3]
    for attention in groups:
        if len(images) > limit:
            break
        rows = waiting.filter(needs_second_look=False, review_attention=attention)
        if path is not None:
            rows = rows.filter(relative_path__gt=path)
            path = None  # only the cursor's own group starts after it
        images.extend(rows.order_by("relative_path")[: limit + 1 - len(images)])
    more = len(images) > limit
    images = images[:limit]
    return QueuePage(entries=_queue_entries(images), next_after=images[-1].pk if more else None, is_first=after is None)


def approval_queue_flagged_count(dataset: Dataset) -> int:
    """How many images waiting for approval are flagged for a second look (an index range count)."""
    return Image.objects.filter(dataset=dataset, status=Image.Status.REVIEWED, needs_second_look=True).count()


# --- progress and counts ------------------------------------------------------------------------------------


def dataset_counters(dataset: Dataset) -> dict[str, int]:
    """The dataset's trigger-kept counters (models/counters.py) that are not zero, one query."""
    return dict(DatasetCounter.objects.filter(dataset=dataset).exclude(value=0).values_list("key", "value"))


def dataset_workflow_counts(dataset: Dataset) -> dict:
    """The numbers on the dataset page's review panel, all from the counters: one query."""
    counters = dataset_counters(dataset)
    by_status = {s.value: counters.get(f"status:{s.value}", 0) for s in Image.Status}
    return {
        "images": sum(by_status.values()),
        "by_status": by_status,
        "batches": counters.get("batches", 0),
        "pool_batches": counters.get("pool_batches", 0),
        "unbatched": counters.get("unbatched", 0),
        "gold": counters.get("gold", 0),
        "assignments": counters.get("assignments", 0),
        "waiting_approval": by_status[Image.Status.REVIEWED],
        "approved": by_status[Image.Status.APPROVED],
    }


@dataclass
class Stats:
    """Progress and quality of a group of reviews (one assignment, one batch, one reviewer, the dataset), summed
    from the assignments' summary columns (kept by triggers and services/summaries.py)."""

    total: int = 0  # images to review (per assignment: the batch's size, 0 once revoked; summed for a reviewer)
    reviewed: int = 0  # current reviews done
    seconds_ms: int = 0
    gold_reviews: int = 0
    gold_boxes: int = 0
    gold_misses: int = 0
    gold_extras: int = 0
    unsure: int = 0
    agreement_sum: float = 0.0
    agreement_n: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.reviewed / self.total) if self.total else 0

    @property
    def mean_seconds(self) -> float | None:
        return round(self.seconds_ms / 1000 / self.reviewed, 1) if self.reviewed else None

    @property
    def gold_miss_rate(self) -> float | None:
        """Known faces missed on gold images, over all known faces shown; None before any gold review."""
        if not self.gold_reviews:
            return None
        return round(self.gold_misses / self.gold_boxes, 3) if self.gold_boxes else 0.0

    @property
    def agreement(self) -> float | None:
        return round(self.agreement_sum / self.agreement_n, 3) if self.agreement_n else None

    def add(self, other: Stats) -> None:
        for name in _STAT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            "reviewed": self.reviewed,
            "percent": self.percent,
            "mean_seconds": self.mean_seconds,
            "gold_reviews": self.gold_reviews,
            "gold_misses": self.gold_misses,
            "gold_extras": self.gold_extras,
            "gold_miss_rate": self.gold_miss_rate,
            "unsure": self.unsure,
            "agreement": self.agreement,
        }


_STAT_FIELDS = (
    "reviewed", "seconds_ms", "gold_reviews", "gold_boxes", "gold_misses", "gold_extras", "unsure",
    "agreement_sum", "agreement_n",
)  # fmt: skip


def _sums(prefix: str = "") -> dict:
    return {name: Sum(f"{prefix}{name}") for name in _STAT_FIELDS}


def _assignment_stats(assignment: Assignment, size: int) -> Stats:
    stats = Stats(**{name: getattr(assignment, name) for name in _STAT_FIELDS})
    stats.total = size if assignment.status != Assignment.Status.REVOKED else 0
    return stats


@dataclass
class BatchRow:
    batch: Batch
    size: int
    stats: Stats
    assignments: list[tuple[Assignment, Stats]]
    images_done: int  # images of the batch with status reviewed or approved


@dataclass
class ReviewerRow:
    reviewer: User
    stats: Stats
    batches: int


@dataclass
class Quality:
    batches: list[BatchRow]
    reviewers: list[ReviewerRow]
    dataset: Stats
    next_batch: int | None = None  # keyset cursors for the next page of each table; None on the last page
    next_reviewer: str | None = None


def dataset_quality(
    dataset: Dataset, *, after_batch: int | None = None, after_reviewer: str | None = None, limit: int | None = 25
) -> Quality:
    """Progress and quality per batch (and its assignments), per reviewer, and for the whole dataset.

    Reads the summary columns of Batch and Assignment, never the images: a review counts for every
    assignment of its reviewer whose batch holds its image (revoked ones too; their "to do" is 0). Agreement
    is the mean F1 between a reviewer's boxes and each other reviewer's boxes on the same image. Batches (by
    id) and reviewers (by name) come a page of `limit` at a time, after the given keyset cursors; limit=None
    reads them all (the API). Five queries.
    """
    batches_qs = Batch.objects.filter(dataset=dataset).order_by("id")
    if after_batch is not None:
        batches_qs = batches_qs.filter(id__gt=after_batch)
    batches = list(batches_qs[: limit + 1] if limit else batches_qs)
    next_batch = batches[limit - 1].pk if limit and len(batches) > limit else None
    batches = batches[:limit] if limit else batches
    assignments = Assignment.objects.filter(batch__in=[b.pk for b in batches]).select_related("reviewer")
    by_batch: dict[int, list[tuple[Assignment, Stats]]] = defaultdict(list)
    size_of = {b.pk: b.size for b in batches}
    for assignment in assignments.order_by("batch_id", "id"):
        by_batch[assignment.batch_id].append((assignment, _assignment_stats(assignment, size_of[assignment.batch_id])))
    batch_rows = []
    for batch in batches:
        stats = Stats()
        for _assignment, assignment_stats in by_batch.get(batch.pk, []):
            stats.total += assignment_stats.total
            stats.add(assignment_stats)
        batch_rows.append(
            BatchRow(batch=batch, size=batch.size, stats=stats, assignments=by_batch[batch.pk],
                     images_done=batch.images_done)
        )  # fmt: skip

    in_dataset = Assignment.objects.filter(batch__dataset=dataset)
    live = ~Q(status=Assignment.Status.REVOKED)
    people = User.objects.filter(Exists(in_dataset.filter(reviewer=OuterRef("pk")))).order_by("username")
    if after_reviewer is not None:
        people = people.filter(username__gt=after_reviewer)
    people = list(people[: limit + 1] if limit else people)
    next_reviewer = people[limit - 1].username if limit and len(people) > limit else None
    people = people[:limit] if limit else people
    sums = (
        in_dataset.filter(reviewer__in=[p.pk for p in people])
        .order_by()
        .values("reviewer_id")
        .annotate(total=Sum("batch__size", filter=live), batches=Count("id", filter=live), **_sums())
    )
    by_reviewer = {row["reviewer_id"]: row for row in sums}
    reviewer_rows = []
    for person in people:
        row = by_reviewer.get(person.pk, {})
        stats = Stats(total=row.get("total") or 0, **{name: row.get(name) or 0 for name in _STAT_FIELDS})
        reviewer_rows.append(ReviewerRow(reviewer=person, stats=stats, batches=row.get("batches") or 0))

    totals = in_dataset.aggregate(total=Sum("batch__size", filter=live), **_sums())
    dataset_stats = Stats(total=totals["total"] or 0, **{name: totals[name] or 0 for name in _STAT_FIELDS})
    return Quality(
        batches=batch_rows, reviewers=reviewer_rows, dataset=dataset_stats, next_batch=next_batch,
        next_reviewer=next_reviewer,
    )  # fmt: skip


def reviewers_for_assignment():
    """Users an admin may give batches to: active reviewers, by name."""
    return User.objects.filter(is_active=True, role=User.Role.REVIEWER).order_by("username")


def gold_images(dataset: Dataset):
    return (
        Image.objects.filter(dataset=dataset, is_gold=True)
        .prefetch_related("gold_boxes")
        .annotate(batch_count=Count("batch_items", distinct=True))
        .order_by("relative_path")
    )


def gold_candidates(dataset: Dataset):
    """Approved images not yet gold: the ones whose approved boxes can become known boxes in one click."""
    return approved_images(dataset).filter(is_gold=False)


def batches_with_counts(dataset: Dataset):
    return (
        Batch.objects.filter(dataset=dataset)
        .annotate(
            reviewer_count=Count("assignments", filter=Q(assignments__status__in=LIVE_ASSIGNMENT), distinct=True),
        )
        .order_by("id")
    )


def assignments_of_dataset(*, dataset: Dataset) -> QuerySet[Assignment]:
    """The API's list of a dataset's assignments (its keyset pagination orders and pages it)."""
    return Assignment.objects.filter(batch__dataset=dataset).select_related("batch", "reviewer")
