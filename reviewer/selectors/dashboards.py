"""Reads for the dashboards. Each reads a bounded number of rows: daily snapshot rows, one page of batches, a
window of recent approvals, or an aggregate over an indexed time range; never a whole dataset."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncHour, TruncMinute
from django.utils import timezone

from reviewer.imaging.consolidate import match_pairs
from reviewer.imaging.geometry import Box
from reviewer.models import (
    Approval,
    ApprovedBox,
    Assignment,
    Batch,
    BatchItem,
    Dataset,
    DatasetDay,
    DetectionResult,
    Export,
    ExportItem,
    Image,
    Proposal,
    ReviewerDay,
)

STAGES = [(s.value, s.label) for s in Image.Status]
BATCHES_PER_PAGE = 50
DETECTOR_WINDOW = 500  # the newest approvals the detector is scored on
MISSED_APPROVALS_PER_PAGE = 25
# Face size is the side of the square of the same area, in pixels of the image as displayed.
SIZE_BUCKETS = [(0, 24, "< 24 px"), (24, 48, "24-48"), (48, 96, "48-96"), (96, 192, "96-192"), (192, 1e9, "≥ 192")]


def dataset_stage_days(*, dataset: Dataset, days: int = 60, today: dict[str, int] | None = None) -> list[DatasetDay]:
    """The dataset's daily snapshot rows of the last `days` days, oldest first.

    `today` (images per status, read live) replaces today's snapshot, which the periodic step writes only every
    few minutes: the chart's last column then says what the stage bar beside it says.
    """
    now = timezone.localdate()
    since = now - timedelta(days=days - 1)
    rows = list(DatasetDay.objects.filter(dataset=dataset, day__gte=since).order_by("day"))
    if today is not None and (rows or any(today.get(s, 0) for s in Image.Status.values)):
        rows = [row for row in rows if row.day != now]
        rows.append(DatasetDay(dataset=dataset, day=now, **{s: today.get(s, 0) for s in Image.Status.values}))
    return rows


@dataclass
class BatchProgressRow:
    batch: Batch
    size: int
    done: int  # images reviewed or approved
    approved: int
    reviewers: list[str]


def batch_progress_page(
    *, dataset: Dataset, after_id: int | None = None, limit: int = BATCHES_PER_PAGE
) -> tuple[list[BatchProgressRow], int | None]:
    """One page of the dataset's batches (keyset on id) with their progress, and the id to continue after."""
    batches = Batch.objects.filter(dataset=dataset).order_by("id")
    if after_id:
        batches = batches.filter(id__gt=after_id)
    page = list(batches[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    ids = [b.pk for b in page]
    done_states = [Image.Status.REVIEWED, Image.Status.APPROVED]
    counts = {
        row["batch_id"]: row
        for row in BatchItem.objects.filter(batch_id__in=ids)
        .values("batch_id")
        .annotate(
            size=Count("id"),
            done=Count("id", filter=Q(image__status__in=done_states)),
            approved=Count("id", filter=Q(image__status=Image.Status.APPROVED)),
        )
        .order_by()
    }
    reviewers: dict[int, list[str]] = defaultdict(list)
    live = Assignment.objects.filter(batch_id__in=ids, status__in=[Assignment.Status.ACTIVE, Assignment.Status.DONE])
    for batch_id, username in live.order_by("reviewer__username").values_list("batch_id", "reviewer__username"):
        reviewers[batch_id].append(username)
    rows = [
        BatchProgressRow(
            batch=b,
            size=counts.get(b.pk, {}).get("size", 0),
            done=counts.get(b.pk, {}).get("done", 0),
            approved=counts.get(b.pk, {}).get("approved", 0),
            reviewers=reviewers.get(b.pk, []),
        )
        for b in page
    ]
    return rows, (page[-1].pk if more else None)


@dataclass
class ReviewerSummary:
    reviewer_id: int
    username: str
    days: list[int]  # reviews per day, oldest first
    reviews: int = 0
    seconds_total: float = 0
    gold_reviews: int = 0
    gold_boxes: int = 0
    gold_misses: int = 0
    gold_extras: int = 0
    agreement_sum: float = 0
    agreement_pairs: int = 0
    medians: list[tuple[float, int]] = field(default_factory=list)  # (daily median, reviews that day)

    @property
    def median_seconds(self) -> float | None:
        """The median of the daily medians, weighted by each day's reviews (the rows keep no single reviews)."""
        if not self.medians:
            return None
        ordered = sorted(self.medians)
        half, seen = sum(n for _, n in ordered) / 2, 0
        for value, n in ordered:
            seen += n
            if seen >= half:
                return round(value, 1)
        return round(ordered[-1][0], 1)

    @property
    def gold_miss_rate(self) -> float | None:
        return round(self.gold_misses / self.gold_boxes, 3) if self.gold_boxes else None

    @property
    def false_box_rate(self) -> float | None:
        """Of the boxes drawn on gold images, the share that covers no known face."""
        drawn = self.gold_boxes - self.gold_misses + self.gold_extras
        return round(self.gold_extras / drawn, 3) if drawn else None

    @property
    def agreement(self) -> float | None:
        return round(self.agreement_sum / self.agreement_pairs, 3) if self.agreement_pairs else None


def reviewer_summaries(*, dataset: Dataset, days: int = 30) -> tuple[list[date], list[ReviewerSummary]]:
    """Per reviewer of the dataset, the last `days` days from ReviewerDay rows: daily reviews and totals."""
    today = timezone.localdate()
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    index = {d: i for i, d in enumerate(span)}
    rows = ReviewerDay.objects.filter(dataset=dataset, day__gte=span[0]).select_related("reviewer")
    summaries: dict[int, ReviewerSummary] = {}
    for row in rows.order_by("reviewer__username", "day"):
        s = summaries.setdefault(row.reviewer_id, ReviewerSummary(row.reviewer_id, row.reviewer.username, [0] * days))
        s.days[index[row.day]] = row.reviews
        s.reviews += row.reviews
        s.seconds_total += row.seconds_total
        for name in ("gold_reviews", "gold_boxes", "gold_misses", "gold_extras", "agreement_sum", "agreement_pairs"):
            setattr(s, name, getattr(s, name) + getattr(row, name))
        if row.seconds_median is not None:
            s.medians.append((row.seconds_median, row.reviews))
    return span, list(summaries.values())


@dataclass
class SizeBucket:
    label: str
    faces: int = 0  # approved boxes of this size
    found: int = 0  # of those, matched by a proposal
    proposals: int = 0  # proposals of this size
    correct: int = 0  # of those, matched to an approved box

    @property
    def recall(self) -> float | None:
        return self.found / self.faces if self.faces else None

    @property
    def precision(self) -> float | None:
        return self.correct / self.proposals if self.proposals else None


@dataclass
class MissedFace:
    image_id: int
    relative_path: str
    width: int
    height: int
    approval_id: int
    box: Box

    @property
    def size(self) -> int:
        return round((self.box.width * self.box.height) ** 0.5)


def _bucket(box: Box) -> int:
    side = (box.width * box.height) ** 0.5
    return next(i for i, (lo, hi, _) in enumerate(SIZE_BUCKETS) if lo <= side < hi)


def _approvals(dataset: Dataset, before_id: int | None, limit: int) -> list[Approval]:
    approvals = Approval.objects.filter(image__dataset=dataset, is_current=True).select_related("image")
    if before_id:
        approvals = approvals.filter(id__lt=before_id)
    return list(approvals.order_by("-id")[:limit])


def _score(dataset: Dataset, approvals: list[Approval]) -> tuple[list[SizeBucket], list[MissedFace]]:
    run_id = dataset.current_detection_run_id
    finals: dict[int, list[Box]] = defaultdict(list)
    for approval_id, x0, y0, x1, y1 in ApprovedBox.objects.filter(approval__in=[a.pk for a in approvals]).values_list(
        "approval_id", "x0", "y0", "x1", "y1"
    ):
        finals[approval_id].append(Box(x0, y0, x1, y1))
    proposed: dict[int, list[Box]] = defaultdict(list)
    if run_id:
        rows = Proposal.objects.filter(run_id=run_id, image_id__in=[a.image_id for a in approvals])
        for image_id, x0, y0, x1, y1 in rows.values_list("image_id", "x0", "y0", "x1", "y1"):
            proposed[image_id].append(Box(x0, y0, x1, y1))
    buckets = [SizeBucket(label) for _, _, label in SIZE_BUCKETS]
    missed: list[MissedFace] = []
    for approval in approvals:
        truth, found = finals.get(approval.pk, []), proposed.get(approval.image_id, [])
        pairs = match_pairs(found, truth)
        hit_found, hit_truth = {i for i, _ in pairs}, {j for _, j in pairs}
        for j, box in enumerate(truth):
            bucket = buckets[_bucket(box)]
            bucket.faces += 1
            if j in hit_truth:
                bucket.found += 1
            else:
                image = approval.image
                missed.append(MissedFace(image.pk, image.relative_path, image.width, image.height, approval.pk, box))
        for i, box in enumerate(found):
            bucket = buckets[_bucket(box)]
            bucket.proposals += 1
            bucket.correct += i in hit_found
    return buckets, missed


def detector_quality(*, dataset: Dataset, window: int = DETECTOR_WINDOW) -> tuple[list[SizeBucket], int, int]:
    """Recall and precision of the current run's proposals against the final boxes, by face size, on the
    dataset's `window` newest approvals (IoU >= 0.5, one to one). Returns buckets, approvals read, faces missed."""
    approvals = _approvals(dataset, None, window)
    buckets, missed = _score(dataset, approvals)
    return buckets, len(approvals), len(missed)


def missed_faces_page(
    *, dataset: Dataset, before_id: int | None = None, approvals: int = MISSED_APPROVALS_PER_PAGE
) -> tuple[list[MissedFace], int | None]:
    """The approved faces no proposal of the current run matched, over one page of approvals (newest first,
    keyset on approval id), and the approval id to continue before."""
    page = _approvals(dataset, before_id, approvals + 1)
    more = len(page) > approvals
    page = page[:approvals]
    _buckets, missed = _score(dataset, page)
    return missed, (page[-1].pk if more and page else None)


def missed_faces_all(*, dataset: Dataset, window: int = DETECTOR_WINDOW) -> list[MissedFace]:
    """Every missed face over the same window as detector_quality: the retraining list, for the CSV."""
    return _score(dataset, _approvals(dataset, None, window))[1]


@dataclass
class Throughput:
    labels: list[str]
    detection: list[float]  # detection images per second in each bucket
    export: list[float]  # export images per second in each bucket
    exports: list[tuple[Export, float | None]]  # recent finished exports and their images per second
    bucket_seconds: int


def _per_bucket(model, trunc, start, now) -> dict:
    rows = (
        model.objects.filter(created_at__gte=start, created_at__lte=now)
        .annotate(bucket=trunc("created_at"))
        .values("bucket")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("bucket", "n")
    )
    return {timezone.localtime(k).replace(tzinfo=None) if timezone.is_aware(k) else k: v for k, v in rows}


def worker_throughput(*, hours: int = 24, now=None) -> Throughput:
    """Images/s per hour over the last `hours` (per minute when hours == 1) for detection (DetectionResult) and
    export (ExportItem) workers: one grouped count over an indexed time range each, and the rate of the last 20
    finished exports."""
    now = now or timezone.now()
    per_minute = hours <= 1
    step = timedelta(minutes=1) if per_minute else timedelta(hours=1)
    trunc = TruncMinute if per_minute else TruncHour
    start = (now - timedelta(hours=hours)).replace(second=0, microsecond=0)
    if not per_minute:
        start = start.replace(minute=0)
    detected = _per_bucket(DetectionResult, trunc, start, now)
    exported = _per_bucket(ExportItem, trunc, start, now)
    labels, detection, export = [], [], []
    t, end = timezone.localtime(start).replace(tzinfo=None), timezone.localtime(now).replace(tzinfo=None)
    while t <= end:
        labels.append(t.strftime("%H:%M") if per_minute else t.strftime("%d %b %H:00"))
        detection.append(round(detected.get(t, 0) / step.total_seconds(), 3))
        export.append(round(exported.get(t, 0) / step.total_seconds(), 3))
        t += step
    exports = []
    for e in Export.objects.filter(status=Export.Status.DONE, finished_at__isnull=False).order_by("-id")[:20]:
        seconds = (e.finished_at - e.started_at).total_seconds() if e.started_at else 0
        exports.append((e, round(e.images_done / seconds, 2) if seconds > 0 else None))
    return Throughput(labels, detection, export, exports, int(step.total_seconds()))
