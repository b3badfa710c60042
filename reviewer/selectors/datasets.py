"""Reads for the dataset pages and API."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Prefetch, QuerySet

from reviewer.models import Dataset, Image, ImportJob, Proposal


def dataset_status_counts(*, datasets: list[Dataset]) -> dict[int, dict[str, int]]:
    """{dataset id: {status: count, ..., "total": n}} in one query."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Image.Status.values, 0))
    rows = Image.objects.filter(dataset__in=datasets).values("dataset_id", "status").annotate(n=Count("id")).order_by()
    for row in rows:
        counts[row["dataset_id"]][row["status"]] = row["n"]
    for dataset in datasets:
        counts[dataset.pk]["total"] = sum(v for k, v in counts[dataset.pk].items() if k != "total")
    return dict(counts)


def dataset_list() -> list[Dataset]:
    datasets = list(Dataset.objects.order_by("name"))
    counts = dataset_status_counts(datasets=datasets)
    for dataset in datasets:
        dataset.status_counts = counts.get(dataset.pk, {})
    return datasets


def dataset_images(*, dataset: Dataset, status: str | None = None) -> QuerySet[Image]:
    """The dataset's images in path order, each with the current run's proposals prefetched (for overlays)."""
    images = dataset.images.order_by("relative_path")
    if status:
        images = images.filter(status=status)
    run_id = dataset.current_detection_run_id
    proposals = Proposal.objects.filter(run_id=run_id).order_by("ordinal") if run_id else Proposal.objects.none()
    return images.prefetch_related(Prefetch("proposals", queryset=proposals, to_attr="current_proposals"))


def dataset_recent_imports(*, dataset: Dataset, limit: int = 10) -> list[ImportJob]:
    return list(dataset.imports.prefetch_related("rejections").order_by("-started_at")[:limit])
