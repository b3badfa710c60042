"""Reads for the admin's image viewer: one image with every set of boxes Veil holds for it, as JSON-ready data."""

from __future__ import annotations

from django.db.models import Subquery
from django.urls import reverse

from reviewer.models import Approval, Candidate, GoldBox, Image, Leak, Proposal
from reviewer.selectors.workflow import consolidate_reviews, current_reviews_by_image


def _box(obj) -> list[float]:
    return [round(v, 2) for v in (obj.x0, obj.y0, obj.x1, obj.y1)]


def image_for_viewer(*, image_id: int) -> Image | None:
    return Image.objects.select_related("dataset").filter(pk=image_id).first()


def image_viewer_state(*, image: Image) -> dict:
    """The image, its final boxes (the current approval, else its current reviews consolidated), the current
    run's proposals and candidates, the leak check's finds in the newest export that found any, each current
    review's kept boxes,
    and gold boxes. `can_save` says whether the approval service will take the admin's boxes (reviewed or
    approved images); `approve_url` is the API endpoint it goes through."""
    run_id = image.dataset.current_detection_run_id
    approval = (
        Approval.objects.filter(image=image, is_current=True)
        .select_related("approved_by")
        .prefetch_related("boxes")
        .first()
    )
    reviews = current_reviews_by_image([image.pk]).get(image.pk, [])
    if approval is not None:
        final = [_box(b) for b in approval.boxes.all()]
        who = approval.approved_by.username if approval.approved_by else "import"
        final_source = f"approved by {who} ({approval.get_source_display().lower()})"
    elif reviews:
        final = [[round(v, 2) for v in b.as_list()] for b in consolidate_reviews(reviews).boxes]
        final_source = f"{len(reviews)} current review{'s' if len(reviews) != 1 else ''} merged, not approved yet"
    else:
        final, final_source = [], "no review yet"
    proposals = Proposal.objects.filter(run_id=run_id, image=image).order_by("ordinal") if run_id else []
    candidates = Candidate.objects.filter(run_id=run_id, image=image).order_by("ordinal") if run_id else []
    # The newest export's finds: an older export's were seen (and fixed, or not) before it.
    newest = Leak.objects.filter(image=image).order_by("-export_id").values("export_id")[:1]
    leaks = Leak.objects.filter(image=image, export_id=Subquery(newest)).order_by("id")
    return {
        "id": image.pk,
        "dataset": image.dataset_id,
        "name": image.relative_path,
        "width": image.width,
        "height": image.height,
        "status": image.status,
        "revision": image.revision,
        "display_url": reverse("image-display", args=[image.pk]),
        "approve_url": reverse("api-image-approve", args=[image.pk]),
        "can_save": image.status in (Image.Status.REVIEWED, Image.Status.APPROVED),
        "final": {"source": final_source, "boxes": final, "is_approved": approval is not None},
        "proposals": [{"id": p.pk, "box": _box(p), "score": round(p.score, 4)} for p in proposals],
        "candidates": [
            {"id": c.pk, "box": _box(c), "score": round(c.score, 4), "source": c.source} for c in candidates
        ],
        "leaks": [{"export": k.export_id, "kind": k.kind, "box": _box(k), "score": round(k.score, 4)} for k in leaks],
        "reviews": [
            {
                "id": r.pk,
                "reviewer": r.reviewer,
                "boxes": [[round(v, 2) for v in b.as_list()] for b in r.boxes],
                "has_no_faces": r.has_no_faces,
                "is_unsure": r.is_unsure,
            }
            for r in reviews
        ],
        "gold": [_box(g) for g in GoldBox.objects.filter(image=image)] if image.is_gold else [],
    }
