"""Querysets behind the API's lists. Unsliced and unordered on purpose: the API's keyset pagination orders them
by an indexed key and reads one page (`WHERE key > last LIMIT n`), so a list costs the same at 2 k and 1.5 M."""

from __future__ import annotations

from django.db.models import QuerySet

from reviewer.models import (
    Assignment,
    AuditEvent,
    Batch,
    Candidate,
    Dataset,
    DetectionRun,
    Export,
    Image,
    ImportJob,
    ImportRejection,
    Leak,
    Proposal,
    Review,
    User,
)


def datasets_all() -> QuerySet[Dataset]:
    return Dataset.objects.all()


def images_of_dataset(*, dataset: Dataset) -> QuerySet[Image]:
    return Image.objects.filter(dataset=dataset)


def proposals_of_image(*, image: Image, run_id: int | None = None) -> QuerySet[Proposal]:
    """The proposals of `run_id`, or of the dataset's current run when none is given (none without a run)."""
    run_id = run_id or image.dataset.current_detection_run_id
    return Proposal.objects.filter(image=image, run_id=run_id) if run_id else Proposal.objects.none()


def candidates_of_image(*, image: Image, run_id: int | None = None) -> QuerySet[Candidate]:
    run_id = run_id or image.dataset.current_detection_run_id
    return Candidate.objects.filter(image=image, run_id=run_id) if run_id else Candidate.objects.none()


def imports_of_dataset(*, dataset: Dataset) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(dataset=dataset)


def rejections_of_import(*, import_job: ImportJob) -> QuerySet[ImportRejection]:
    return ImportRejection.objects.filter(import_job=import_job)


def runs_of_dataset(*, dataset: Dataset) -> QuerySet[DetectionRun]:
    return DetectionRun.objects.filter(dataset=dataset).select_related("dataset")


def batches_of_dataset(*, dataset: Dataset) -> QuerySet[Batch]:
    from reviewer.selectors.workflow import batches_with_counts

    return batches_with_counts(dataset).order_by()


def assignments_of_dataset(*, dataset: Dataset) -> QuerySet[Assignment]:
    return Assignment.objects.filter(batch__dataset=dataset).select_related("batch", "reviewer")


def gold_images_of_dataset(*, dataset: Dataset) -> QuerySet[Image]:
    return Image.objects.filter(dataset=dataset, is_gold=True).prefetch_related("gold_boxes")


def approved_images_of_dataset(*, dataset: Dataset) -> QuerySet[Image]:
    from reviewer.selectors.export import approved_images

    return approved_images(dataset).order_by()


def exports_of_dataset(*, dataset: Dataset) -> QuerySet[Export]:
    return Export.objects.filter(dataset=dataset).select_related("created_by")


def leaks_of_export(*, export: Export) -> QuerySet[Leak]:
    return Leak.objects.filter(export=export).select_related("image")


def audit_events() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor")


def users_all() -> QuerySet[User]:
    return User.objects.all()


def reviews_of_image(*, image: Image) -> QuerySet[Review]:
    """Every review of the image, current and superseded, with its boxes and their fates."""
    return Review.objects.filter(image=image).select_related("reviewer").prefetch_related("boxes", "candidate_fates")
