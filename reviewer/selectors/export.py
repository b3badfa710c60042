"""Reads for exports: what an export may contain, its progress and leaks, and box sets as annotation files."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Prefetch, QuerySet

from reviewer.imaging.annotations import ImageBoxes, ScoredBox
from reviewer.models import (
    Approval,
    ApprovedBox,
    Dataset,
    DetectionResult,
    DetectionRun,
    Export,
    ExportChunk,
    Image,
    Leak,
    Proposal,
    Review,
)


def approved_images(dataset: Dataset, *, people: bool = False) -> QuerySet[Image]:
    """Images an export may contain: status approved with a current approval, by path. Prefetches
    `current_approval` (a list of at most one) with its boxes in order; `people=True` adds its approver and its
    reviews' reviewers (the manifest's people). The one read of approved images: export, the approval page's
    "approved" tab, gold candidates and the API."""
    current = Approval.objects.filter(is_current=True).prefetch_related(
        Prefetch("boxes", queryset=ApprovedBox.objects.order_by("id"))
    )
    if people:
        current = current.select_related("approved_by").prefetch_related(
            Prefetch("reviews", queryset=Review.objects.select_related("reviewer").order_by("reviewer__username"))
        )
    return (
        Image.objects.filter(dataset=dataset, status=Image.Status.APPROVED)
        .filter(Exists(Approval.objects.filter(image=OuterRef("pk"), is_current=True)))
        .prefetch_related(Prefetch("approvals", queryset=current, to_attr="current_approval"))
        .order_by("relative_path")
    )


def chunk_images(chunk) -> list[Image]:
    """The images of an export chunk that are still approved, in the chunk's order (by path), with what
    approved_images(people=True) prefetches. An image sent back since the export started is left out."""
    dataset = Dataset(pk=chunk.export.dataset_id)
    return list(approved_images(dataset, people=True).filter(pk__in=chunk.image_ids))


def approved_image_pages(dataset: Dataset, *, page_size: int):
    """The ids of the images an export may contain, by path, `page_size` at a time: keyset pages over the
    (dataset, relative_path) index, so cutting 1.5 M images into chunks never holds more than one page."""
    after = None
    base = (
        Image.objects.filter(dataset=dataset, status=Image.Status.APPROVED)
        .filter(Exists(Approval.objects.filter(image=OuterRef("pk"), is_current=True)))
        .order_by("relative_path")
    )
    while True:
        page = base if after is None else base.filter(relative_path__gt=after)
        rows = list(page.values_list("pk", "relative_path")[:page_size])
        if not rows:
            return
        yield [pk for pk, _path in rows]
        after = rows[-1][1]


def export_chunk_counts(export: Export) -> dict[str, int]:
    """How many of the export's chunks are in each state (one aggregate over the (export, status) index)."""
    counts = {s: 0 for s in ExportChunk.Status.values}
    for status, n in ExportChunk.objects.filter(export=export).values_list("status").annotate(n=Count("pk")):
        counts[status] = n
    counts["total"] = export.chunks_total
    return counts


def exports_for_dataset(dataset: Dataset) -> QuerySet[Export]:
    return Export.objects.filter(dataset=dataset).select_related("created_by").order_by("-created_at")


def export_leaks(export: Export) -> QuerySet[Leak]:
    return Leak.objects.filter(export=export).select_related("image").order_by("kind", "image__relative_path", "id")


def export_is_downloadable(export: Export) -> bool:
    return export.status == Export.Status.DONE and bool(export.file_name)


def export_progress(export: Export, *, chunks: bool = True) -> dict:
    """What the export page and the API show while it runs, JSON-ready (`chunks`: with the chunks' states, one
    more query)."""
    total = export.images_total or 0
    return {
        "id": export.pk,
        "status": export.status,
        "stage": export.stage,
        "chunks": export_chunk_counts(export) if chunks else None,
        "images_total": total,
        "images_done": export.images_done,
        "percent": round(100 * export.images_done / total, 1) if total else (100.0 if export.status == "done" else 0),
        "residual_count": export.residual_count,
        "missed_count": export.missed_count,
        "error": export.error,
        "file_size": export.file_size,
        "file_sha256": export.file_sha256,
        "is_downloadable": export_is_downloadable(export),
        "files": export.files,
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
