"""Reads for the dataset pages and API."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Prefetch, QuerySet, Subquery

from reviewer.models import Dataset, DatasetCounter, Image, ImportJob, ImportRejection, Proposal


def dataset_status_counts(*, datasets: list[Dataset]) -> dict[int, dict[str, int]]:
    """{dataset id: {status: count, ..., "total": n}} in one query, from the trigger-kept counters."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Image.Status.values, 0))
    keys = [f"status:{status}" for status in Image.Status.values]
    rows = DatasetCounter.objects.filter(dataset__in=datasets, key__in=keys).values_list("dataset_id", "key", "value")
    for dataset_id, key, value in rows:
        counts[dataset_id][key.removeprefix("status:")] = value
    for dataset in datasets:
        counts[dataset.pk]["total"] = sum(v for k, v in counts[dataset.pk].items() if k != "total")
    return dict(counts)


def dataset_list() -> list[Dataset]:
    datasets = list(Dataset.objects.order_by("name"))
    counts = dataset_status_counts(datasets=datasets)
    for dataset in datasets:
        dataset.status_counts = counts.get(dataset.pk, {})
    return datasets


def dataset_images(*, dataset: Dataset, status: str | None = None, after: int | None = None) -> QuerySet[Image]:
    """The dataset's images in path order, each with the current run's proposals prefetched (for overlays).

    With `after` (an image id), only those after that image's path: keyset pages, read by index at any depth.
    """
    images = dataset.images.order_by("relative_path")
    if status:
        images = images.filter(status=status)
    if after is not None:
        path = Image.objects.filter(pk=after, dataset=dataset).values("relative_path")[:1]
        images = images.filter(relative_path__gt=Subquery(path))
    run_id = dataset.current_detection_run_id
    proposals = Proposal.objects.filter(run_id=run_id).order_by("ordinal") if run_id else Proposal.objects.none()
    return images.prefetch_related(Prefetch("proposals", queryset=proposals, to_attr="current_proposals"))


def dataset_recent_imports(*, dataset: Dataset, limit: int = 10) -> list[ImportJob]:
    return list(dataset.imports.prefetch_related("rejections").order_by("-started_at")[:limit])


# The API's lists: unsliced and unordered on purpose, its keyset pagination orders them by an indexed key and reads
# one page, so a list costs the same at 2 k and 1.5 M images.


def datasets_all() -> QuerySet[Dataset]:
    return Dataset.objects.all()


def images_of_dataset(*, dataset: Dataset) -> QuerySet[Image]:
    return Image.objects.filter(dataset=dataset)


def gold_images_of_dataset(*, dataset: Dataset) -> QuerySet[Image]:
    return Image.objects.filter(dataset=dataset, is_gold=True).prefetch_related("gold_boxes")


def imports_of_dataset(*, dataset: Dataset) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(dataset=dataset)


def rejections_of_import(*, import_job: ImportJob) -> QuerySet[ImportRejection]:
    return ImportRejection.objects.filter(import_job=import_job)
