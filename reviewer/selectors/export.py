"""Reads for exports: what an export may contain, its progress and leaks, and box sets as annotation files."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from reviewer.imaging.annotations import ImageBoxes, ScoredBox
from reviewer.models import (
    Approval,
    ApprovedBox,
    Dataset,
    DetectionResult,
    DetectionRun,
    Export,
    Image,
    Leak,
    Proposal,
    Review,
)


def approved_images(dataset: Dataset) -> QuerySet[Image]:
    """Images an export may contain: status approved with a current approval. Prefetches `current_approval`
    (a one-item list) with its boxes, approver and reviews' reviewers."""
    current = (
        Approval.objects.filter(is_current=True)
        .select_related("approved_by")
        .prefetch_related(
            Prefetch("boxes", queryset=ApprovedBox.objects.order_by("id")),
            Prefetch("reviews", queryset=Review.objects.select_related("reviewer").order_by("reviewer__username")),
        )
    )
    return (
        Image.objects.filter(dataset=dataset, status=Image.Status.APPROVED, approvals__is_current=True)
        .prefetch_related(Prefetch("approvals", queryset=current, to_attr="current_approval"))
        .order_by("relative_path")
        .distinct()
    )


def exports_for_dataset(dataset: Dataset) -> QuerySet[Export]:
    return Export.objects.filter(dataset=dataset).select_related("created_by").order_by("-created_at")


def export_leaks(export: Export) -> QuerySet[Leak]:
    return Leak.objects.filter(export=export).select_related("image").order_by("kind", "image__relative_path", "id")


def export_progress(export: Export) -> dict:
    """What the export page and the API show while it runs, JSON-ready."""
    total = export.images_total or 0
    return {
        "id": export.pk,
        "status": export.status,
        "images_total": total,
        "images_done": export.images_done,
        "percent": round(100 * export.images_done / total, 1) if total else (100.0 if export.status == "done" else 0),
        "residual_count": export.residual_count,
        "missed_count": export.missed_count,
        "error": export.error,
        "file_size": export.file_size,
        "file_sha256": export.file_sha256,
        "is_downloadable": export.status == Export.Status.DONE and bool(export.file_name),
    }


def final_boxes(dataset: Dataset) -> list[ImageBoxes]:
    """The approved boxes of every image with a current approval. Images not approved are left out: an empty
    list would say "no faces here", which nobody has said yet."""
    return [
        ImageBoxes(
            image.relative_path,
            image.width,
            image.height,
            [ScoredBox(b.box, 1.0) for b in image.current_approval[0].boxes.all()],
        )
        for image in approved_images(dataset)
    ]


def proposal_boxes(run: DetectionRun) -> list[ImageBoxes]:
    """A run's proposals for every image the run looked at (images it found no face in get an empty list)."""
    proposals = Proposal.objects.filter(run=run).order_by("image_id", "ordinal")
    looked_at = set(
        DetectionResult.objects.filter(run=run, status=DetectionResult.Status.DONE).values_list("image_id", flat=True)
    )
    looked_at |= set(proposals.values_list("image_id", flat=True))
    by_image: dict[int, list[ScoredBox]] = {}
    for p in proposals:
        by_image.setdefault(p.image_id, []).append(ScoredBox(p.box, p.score))
    images = Image.objects.filter(pk__in=looked_at).order_by("relative_path")
    return [ImageBoxes(i.relative_path, i.width, i.height, by_image.get(i.pk, [])) for i in images]


def export_archive_file(export: Export) -> Path | None:
    """The finished archive on disk, or None (not done, failed, or removed since)."""
    if export.status != Export.Status.DONE or not export.file_name:
        return None
    archive = Path(settings.VEIL_EXPORT_DIR) / export.file_name
    return archive if archive.is_file() else None
