"""Admin pages between detection and export: batches and assignments, reviewer quality, gold images, approval."""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from reviewer.imaging.geometry import MAX_BOXES_PER_IMAGE, Box, InvalidBox
from reviewer.models import Assignment, Batch, Dataset, Image, User
from reviewer.selectors import workflow as selectors
from reviewer.services import approval as approval_services
from reviewer.services import assignment as assignment_services
from reviewer.services.errors import ServiceError
from reviewer.views.access import admin_required

QUEUE_PAGE_SIZE = 24
GOLD_PAGE_SIZE = 24


def _int(value, default=None):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def parse_boxes(text: str) -> list[Box]:
    """One box per line, "x0, y0, x1, y1" in pixels of the displayed image (commas or spaces)."""
    boxes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(boxes) >= MAX_BOXES_PER_IMAGE:
            raise ServiceError(f"At most {MAX_BOXES_PER_IMAGE} boxes per image.", code="too_many_boxes")
        parts = [p for p in re.split(r"[,\s]+", line.strip()) if p]
        try:
            boxes.append(Box.from_sequence(parts))
        except InvalidBox as exc:
            raise ServiceError(f"Line {number}: {exc}.", code="invalid_box") from exc
    return boxes


def _reviewers_from(request) -> list[User]:
    ids = [i for i in (_int(v) for v in request.POST.getlist("reviewers")) if i is not None]
    return list(User.objects.filter(pk__in=ids).order_by("username"))


# --- batches and assignments --------------------------------------------------------------------------------


@admin_required
def batches_page(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    quality = selectors.dataset_quality(dataset)
    return render(
        request,
        "reviewer/workflow/batches.html",
        {
            "dataset": dataset,
            "rows": quality.batches,
            "counts": selectors.dataset_workflow_counts(dataset),
            "reviewers": selectors.reviewers_for_assignment(),
        },
    )


@admin_required
@require_POST
def batches_create(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    size = _int(request.POST.get("size"))
    gold = _int(request.POST.get("gold_per_batch") or 0)
    try:
        if size is None or gold is None:
            raise ServiceError("Batch size and gold images per batch must be whole numbers.")
        made = assignment_services.batches_create(
            dataset=dataset,
            actor=request.user,
            size=size,
            is_pool=bool(request.POST.get("is_pool")),
            gold_per_batch=gold,
            name_prefix=request.POST.get("name_prefix", ""),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{len(made)} batch{'es' if len(made) != 1 else ''} made: {made[0].name} to {made[-1].name}."
        )
    return redirect("workflow-batches", dataset.pk)


@admin_required
@require_POST
def assign_round_robin(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    k = _int(request.POST.get("k") or dataset.reviews_required)
    try:
        made = assignment_services.dataset_assign_round_robin(
            dataset=dataset, reviewers=_reviewers_from(request), actor=request.user, k=k
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        if made:
            messages.success(request, f"{len(made)} assignment{'s' if len(made) != 1 else ''} made.")
        else:
            messages.info(request, "Every batch already has its reviewers; nothing to assign.")
    return redirect("workflow-batches", dataset.pk)


@admin_required
@require_POST
def batch_assign(request, batch_id: int):
    batch = get_object_or_404(Batch, pk=batch_id)
    try:
        made = assignment_services.batch_assign(batch=batch, reviewers=_reviewers_from(request), actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Batch {batch.name} given to {', '.join(a.reviewer.username for a in made)}.")
    return redirect("workflow-batches", batch.dataset_id)


@admin_required
@require_POST
def assignment_revoke(request, assignment_id: int):
    assignment = get_object_or_404(Assignment.objects.select_related("batch", "reviewer"), pk=assignment_id)
    try:
        assignment_services.assignment_revoke(assignment=assignment, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Batch {assignment.batch.name} taken back from {assignment.reviewer.username}.")
    return redirect("workflow-batches", assignment.batch.dataset_id)


# --- quality ------------------------------------------------------------------------------------------------


@admin_required
def quality_page(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    return render(
        request,
        "reviewer/workflow/quality.html",
        {"dataset": dataset, "quality": selectors.dataset_quality(dataset)},
    )


# --- approval -----------------------------------------------------------------------------------------------


@admin_required
def approve_page(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    show = "approved" if request.GET.get("show") == "approved" else "waiting"
    if show == "approved":
        paginator = Paginator(selectors.approved_images(dataset), QUEUE_PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        for image in page:
            current = image.current_approvals[0] if image.current_approvals else None
            image.final_boxes = [b.box for b in current.boxes.all()] if current else []
            image.approval = current
        entries = None
    else:
        queue = selectors.approval_queue(dataset)
        paginator = Paginator(queue, QUEUE_PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        entries = list(page)
    return render(
        request,
        "reviewer/workflow/approve.html",
        {
            "dataset": dataset,
            "show": show,
            "page": page,
            "entries": entries,
            "counts": selectors.dataset_workflow_counts(dataset),
        },
    )


def _back_to_queue(dataset_id: int, request):
    url = reverse("workflow-approve", args=[dataset_id])
    query = []
    if request.POST.get("show") == "approved":
        query.append("show=approved")
    page = _int(request.POST.get("page"))
    if page and page > 1:
        query.append(f"page={page}")
    return redirect(f"{url}?{'&'.join(query)}" if query else url)


@admin_required
@require_POST
def image_approve(request, image_id: int):
    """Approve one image: its consolidated reviews, or, when the admin edited them, the boxes typed in."""
    image = get_object_or_404(Image, pk=image_id)
    try:
        boxes = parse_boxes(request.POST["boxes"]) if "boxes" in request.POST else None
        approval_services.image_approve(
            image=image, actor=request.user, boxes=boxes, expected_revision=_int(request.POST.get("revision"))
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        edited = " with your boxes" if boxes is not None else ""
        messages.success(request, f"Approved {image.relative_path}{edited}.")
    return _back_to_queue(image.dataset_id, request)


@admin_required
@require_POST
def images_approve(request, dataset_id: int):
    """Approve the images of one page of the queue (their ids are posted), or all remaining with all=1."""
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    revisions = None
    if request.POST.get("all") == "1":
        ids = None
    else:
        # Each shown image is posted as "id:revision", so one changed since the page was drawn is skipped.
        revisions = {}
        for value in request.POST.getlist("image"):
            image_id, _, revision = value.partition(":")
            if _int(image_id) is not None:
                revisions[_int(image_id)] = _int(revision)
        ids = list(revisions)
        revisions = {k: v for k, v in revisions.items() if v is not None}
        if not ids:
            messages.error(request, "No image was chosen to approve.")
            return _back_to_queue(dataset.pk, request)
    try:
        result = approval_services.images_approve(
            dataset=dataset, actor=request.user, image_ids=ids, expected_revisions=revisions
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _back_to_queue(dataset.pk, request)
    text = f"Approved {len(result.approved)} image{'s' if len(result.approved) != 1 else ''}."
    if result.skipped:
        text += (
            f" {len(result.skipped)} skipped: changed since the page was shown, no longer waiting for approval,"
            " or without a current review."
        )
    messages.success(request, text)
    return _back_to_queue(dataset.pk, request) if ids is not None else redirect("workflow-approve", dataset.pk)


@admin_required
@require_POST
def image_send_back(request, image_id: int):
    image = get_object_or_404(Image, pk=image_id)
    try:
        approval_services.image_send_back(image=image, actor=request.user, reason=request.POST.get("reason", ""))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Sent {image.relative_path} back for review.")
    return _back_to_queue(image.dataset_id, request)


# --- gold images --------------------------------------------------------------------------------------------


@admin_required
def gold_page(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    candidates = Paginator(selectors.gold_candidates(dataset), GOLD_PAGE_SIZE).get_page(request.GET.get("page"))
    for image in candidates:
        image.final_boxes = [b.box for a in image.current_approvals for b in a.boxes.all()]
    golds = list(selectors.gold_images(dataset))
    for image in golds:
        image.final_boxes = [b.box for b in image.gold_boxes.all()]
    return render(
        request,
        "reviewer/workflow/gold.html",
        {"dataset": dataset, "golds": golds, "page": candidates},
    )


@admin_required
@require_POST
def gold_mark(request, dataset_id: int):
    """Mark an image gold, by id or by relative path, with its approved boxes or the boxes typed in."""
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    image_id = _int(request.POST.get("image"))
    path_text = request.POST.get("relative_path", "").strip()
    images = Image.objects.filter(dataset=dataset)
    if image_id is not None:
        image = images.filter(pk=image_id).first()
    else:
        image = images.filter(relative_path=path_text).first() if path_text else None
    if image is None:
        messages.error(request, f"There is no image “{path_text or image_id or ''}” in dataset {dataset.name}.")
        return redirect("workflow-gold", dataset.pk)
    try:
        if request.POST.get("use") == "typed" and "boxes" not in request.POST:
            raise ServiceError("Type the gold boxes, one per line, or choose the approved boxes.", code="no_boxes")
        boxes = parse_boxes(request.POST["boxes"]) if request.POST.get("use") == "typed" else None
        assignment_services.image_mark_gold(image=image, actor=request.user, boxes=boxes)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{image.relative_path} is now a gold image.")
    return redirect("workflow-gold", dataset.pk)


@admin_required
@require_POST
def gold_unmark(request, image_id: int):
    image = get_object_or_404(Image, pk=image_id)
    try:
        assignment_services.image_unmark_gold(image=image, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{image.relative_path} is no longer a gold image.")
    return redirect("workflow-gold", image.dataset_id)


urlpatterns = [
    path("datasets/<int:dataset_id>/batches/", batches_page, name="workflow-batches"),
    path("datasets/<int:dataset_id>/batches/create", batches_create, name="workflow-batches-create"),
    path("datasets/<int:dataset_id>/batches/assign", assign_round_robin, name="workflow-assign-round-robin"),
    path("batches/<int:batch_id>/assign", batch_assign, name="workflow-batch-assign"),
    path("assignments/<int:assignment_id>/revoke", assignment_revoke, name="workflow-assignment-revoke"),
    path("datasets/<int:dataset_id>/quality/", quality_page, name="workflow-quality"),
    path("datasets/<int:dataset_id>/approve/", approve_page, name="workflow-approve"),
    path("datasets/<int:dataset_id>/approve/images", images_approve, name="workflow-approve-images"),
    path("images/<int:image_id>/approve", image_approve, name="workflow-approve-image"),
    path("images/<int:image_id>/send-back", image_send_back, name="workflow-send-back"),
    path("datasets/<int:dataset_id>/gold/", gold_page, name="workflow-gold"),
    path("datasets/<int:dataset_id>/gold/mark", gold_mark, name="workflow-gold-mark"),
    path("images/<int:image_id>/gold/remove", gold_unmark, name="workflow-gold-unmark"),
]
