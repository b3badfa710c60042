"""Reads for the admin workflow: batch progress, reviewer quality, consolidated boxes and the approval queue."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet

from reviewer.imaging.consolidate import Consolidation, consolidate, pair_agreement, score_against_gold
from reviewer.imaging.geometry import Box
from reviewer.models import Assignment, Batch, BatchItem, Dataset, GoldBox, Image, Review, ReviewBox, User

# The fates that leave a box on the image; a deleted proposal is the reviewer saying "no face here".
KEPT_FATES = (ReviewBox.Fate.ACCEPTED, ReviewBox.Fate.ADJUSTED, ReviewBox.Fate.ADDED)
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


def approval_queue(dataset: Dataset) -> list[QueueEntry]:
    """Images of the dataset with status "reviewed", flagged for a second look first, then unsure or disagreeing
    ones, then by path.

    Consolidates every waiting image (the order depends on it); pages slice the list afterwards.
    """
    images_qs = Image.objects.filter(dataset=dataset, status=Image.Status.REVIEWED).order_by(
        "-needs_second_look", "relative_path"
    )
    images = list(images_qs)
    by_image = current_reviews_by_image(images_qs)
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
    # Stable: path order within groups. Flagged for a second look first (the safety net), then unsure, disputed.
    entries.sort(key=lambda e: (not e.image.needs_second_look, not e.is_unsure, not e.has_disagreement))
    return entries


def approved_images(dataset: Dataset):
    return (
        Image.objects.filter(dataset=dataset, status=Image.Status.APPROVED)
        .prefetch_related(Prefetch("approvals", queryset=_current_approvals(), to_attr="current_approvals"))
        .order_by("relative_path")
    )


def _current_approvals():
    from reviewer.models import Approval

    return Approval.objects.filter(is_current=True).prefetch_related("boxes")


# --- progress and counts ------------------------------------------------------------------------------------


def dataset_workflow_counts(dataset: Dataset) -> dict:
    """The numbers on the dataset page's review panel."""
    by_status = dict(
        Image.objects.filter(dataset=dataset).values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    batches = Batch.objects.filter(dataset=dataset)
    return {
        "images": sum(by_status.values()),
        "by_status": {s.value: by_status.get(s.value, 0) for s in Image.Status},
        "batches": batches.count(),
        "pool_batches": batches.filter(is_pool=True).count(),
        "unbatched": Image.objects.filter(dataset=dataset, is_gold=False, batch_items__isnull=True).count(),
        "gold": Image.objects.filter(dataset=dataset, is_gold=True).count(),
        "assignments": Assignment.objects.filter(batch__dataset=dataset, status__in=LIVE_ASSIGNMENT).count(),
        "waiting_approval": by_status.get(Image.Status.REVIEWED, 0),
        "approved": by_status.get(Image.Status.APPROVED, 0),
    }


@dataclass
class Stats:
    """Progress and quality of a group of reviews (one batch, one reviewer, one assignment)."""

    total: int = 0  # images to review (per assignment: the batch's size; summed for a reviewer)
    reviewed: int = 0  # current reviews done
    seconds: list[float] = field(default_factory=list)
    gold_reviews: int = 0
    gold_boxes: int = 0
    gold_misses: int = 0
    gold_extras: int = 0
    unsure: int = 0
    agreements: list[float] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return round(100 * self.reviewed / self.total) if self.total else 0

    @property
    def median_seconds(self) -> float | None:
        return round(statistics.median(self.seconds), 1) if self.seconds else None

    @property
    def gold_miss_rate(self) -> float | None:
        """Known faces missed on gold images, over all known faces shown; None before any gold review."""
        if not self.gold_reviews:
            return None
        return round(self.gold_misses / self.gold_boxes, 3) if self.gold_boxes else 0.0

    @property
    def agreement(self) -> float | None:
        return round(statistics.fmean(self.agreements), 3) if self.agreements else None

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            "reviewed": self.reviewed,
            "percent": self.percent,
            "median_seconds": self.median_seconds,
            "gold_reviews": self.gold_reviews,
            "gold_misses": self.gold_misses,
            "gold_extras": self.gold_extras,
            "gold_miss_rate": self.gold_miss_rate,
            "unsure": self.unsure,
            "agreement": self.agreement,
        }


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


def dataset_quality(dataset: Dataset) -> Quality:
    """Progress and quality per batch, per assignment and per reviewer, from the current reviews.

    A review counts for a batch when its image is in the batch and its reviewer holds (or held) the batch.
    Gold scores come from Review.gold_misses/gold_extras when the review stage filled them, else they are
    computed here against the image's GoldBox rows (IoU >= 0.5, one-to-one). Agreement is the mean F1
    between the reviewer's boxes and each other reviewer's boxes on the same image.
    """
    batches = list(
        Batch.objects.filter(dataset=dataset).annotate(size=Count("items")).order_by("id")
    )  # fmt: skip
    assignments = list(
        Assignment.objects.filter(batch__dataset=dataset).select_related("reviewer").order_by("batch_id", "id")
    )
    items = BatchItem.objects.filter(batch__dataset=dataset).values_list("batch_id", "image_id")
    images_of_batch: dict[int, set[int]] = defaultdict(set)
    for batch_id, image_id in items:
        images_of_batch[batch_id].add(image_id)
    done_ids = set(
        Image.objects.filter(dataset=dataset, status__in=[Image.Status.REVIEWED, Image.Status.APPROVED]).values_list(
            "id", flat=True
        )
    )
    gold: dict[int, list[Box]] = defaultdict(list)
    for box in GoldBox.objects.filter(image__dataset=dataset, image__is_gold=True):
        gold[box.image_id].append(box.box)
    gold_ids = set(Image.objects.filter(dataset=dataset, is_gold=True).values_list("id", flat=True))

    by_image = current_reviews_by_image(Image.objects.filter(dataset=dataset))
    # What each current review contributes, computed once and shared by its batch, assignment and reviewer.
    facts: dict[int, dict] = {}
    for image_id, reviews in by_image.items():
        boxes = {r.pk: r.boxes for r in reviews}
        for review in reviews:
            others = [boxes[o.pk] for o in reviews if o.pk != review.pk]
            fact = {
                "seconds": review.seconds_spent,
                "unsure": review.is_unsure,
                "agreement": [pair_agreement(boxes[review.pk], other) for other in others],
                "gold": None,
            }
            if image_id in gold_ids:
                known = gold.get(image_id, [])
                if review.gold_misses is not None and review.gold_extras is not None:
                    misses, extras = review.gold_misses, review.gold_extras
                else:
                    misses, extras = score_against_gold(boxes[review.pk], known)
                fact["gold"] = (len(known), misses, extras)
            facts[review.pk] = (review, fact)

    reviews_of: dict[tuple[int, int], list[dict]] = defaultdict(list)  # (image, reviewer) -> facts
    for review, fact in facts.values():
        reviews_of[(review.image_id, review.reviewer_id)].append(fact)

    def add(stats: Stats, fact: dict) -> None:
        stats.reviewed += 1
        stats.seconds.append(fact["seconds"])
        stats.unsure += fact["unsure"]
        stats.agreements.extend(fact["agreement"])
        if fact["gold"] is not None:
            known, misses, extras = fact["gold"]
            stats.gold_reviews += 1
            stats.gold_boxes += known
            stats.gold_misses += misses
            stats.gold_extras += extras

    by_batch: dict[int, list[tuple[Assignment, Stats]]] = defaultdict(list)
    by_reviewer: dict[int, ReviewerRow] = {}
    dataset_stats = Stats(total=0)
    for assignment in assignments:
        stats = Stats()
        image_ids = images_of_batch.get(assignment.batch_id, set())
        if assignment.status != Assignment.Status.REVOKED:
            stats.total = len(image_ids)
        for image_id in image_ids:
            for fact in reviews_of.get((image_id, assignment.reviewer_id), []):
                add(stats, fact)
        by_batch[assignment.batch_id].append((assignment, stats))
        row = by_reviewer.setdefault(assignment.reviewer_id, ReviewerRow(assignment.reviewer, Stats(), 0))
        row.batches += assignment.status != Assignment.Status.REVOKED
        _merge(row.stats, stats)

    batch_rows = []
    for batch in batches:
        stats = Stats()
        for _assignment, assignment_stats in by_batch.get(batch.pk, []):
            _merge(stats, assignment_stats)
        _merge(dataset_stats, stats)
        batch_rows.append(
            BatchRow(
                batch=batch,
                size=batch.size,
                stats=stats,
                assignments=by_batch.get(batch.pk, []),
                images_done=len(images_of_batch.get(batch.pk, set()) & done_ids),
            )
        )
    reviewer_rows = sorted(by_reviewer.values(), key=lambda r: r.reviewer.username)
    return Quality(batches=batch_rows, reviewers=reviewer_rows, dataset=dataset_stats)


def _merge(into: Stats, other: Stats) -> None:
    into.total += other.total
    into.reviewed += other.reviewed
    into.seconds.extend(other.seconds)
    into.gold_reviews += other.gold_reviews
    into.gold_boxes += other.gold_boxes
    into.gold_misses += other.gold_misses
    into.gold_extras += other.gold_extras
    into.unsure += other.unsure
    into.agreements.extend(other.agreements)


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
            size=Count("items", distinct=True),
            reviewer_count=Count("assignments", filter=Q(assignments__status__in=LIVE_ASSIGNMENT), distinct=True),
        )
        .order_by("id")
    )
