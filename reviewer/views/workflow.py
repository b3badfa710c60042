"""Admin pages between detection and export: batches and assignments, reviewer quality, gold images, approval."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from reviewer.errors import ServiceError
from reviewer.forms.workflow import (
    ApproveImageForm,
    ApproveManyForm,
    BatchCreateForm,
    GoldMarkForm,
    ReviewersForm,
    RoundRobinForm,
    SendBackForm,
)
from reviewer.models import Assignment, Batch, Dataset, Image
from reviewer.selectors import workflow as selectors
from reviewer.services import approval as approval_services
from reviewer.services import assignment as assignment_services
from reviewer.views.access import admin_required
from reviewer.views.actions import page_action
from reviewer.views.params import int_param

QUEUE_PAGE_SIZE = 24
BATCH_PAGE_SIZE = 25
GOLD_PAGE_SIZE = 24


# --- batches and assignments --------------------------------------------------------------------------------


@admin_required
def batches_page(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    quality = selectors.dataset_quality(dataset, after_batch=int_param(request.GET.get("after")), limit=BATCH_PAGE_SIZE)
    return render(
        request,
        "reviewer/workflow/batches.html",
        {
            "dataset": dataset,
            "rows": quality.batches,
            "next_batch": quality.next_batch,
            "is_first": request.GET.get("after") is None,
            "counts": selectors.dataset_workflow_counts(dataset),
            "reviewers": selectors.reviewers_for_assignment(),
        },
    )


@admin_required
@require_POST
def batches_create(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)

    def run(data):
        return assignment_services.batches_create(
            dataset=dataset,
            actor=request.user,
            size=data["size"],
            is_pool=data["is_pool"],
            # Left blank: the dataset's setting (the settings page).
            gold_per_batch=dataset.gold_per_batch if data["gold_per_batch"] is None else data["gold_per_batch"],
            name_prefix=data["name_prefix"],
        )

    return page_action(
        request,
        back=("workflow-batches", dataset.pk),
        form=BatchCreateForm(request.POST),
        run=run,
        done=lambda made: f"{len(made)} batch{'es' if len(made) != 1 else ''} made: {made[0].name} to {made[-1].name}.",
    )


@admin_required
@require_POST
def assign_round_robin(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    return page_action(
        request,
        back=("workflow-batches", dataset.pk),
        form=RoundRobinForm(request.POST),
        run=lambda data: assignment_services.dataset_assign_round_robin(
            dataset=dataset,
            reviewers=list(data["reviewers"]),
            actor=request.user,
            k=data["k"] or dataset.reviews_required,
        ),
        done=lambda made: (
            f"{len(made)} assignment{'s' if len(made) != 1 else ''} made."
            if made
            else (messages.INFO, "Every batch already has its reviewers; nothing to assign.")
        ),
    )


@admin_required
@require_POST
def batch_assign(request, batch_id: int):
    batch = get_object_or_404(Batch, pk=batch_id)
    return page_action(
        request,
        back=("workflow-batches", batch.dataset_id),
        form=ReviewersForm(request.POST),
        run=lambda data: assignment_services.batch_assign(
            batch=batch, reviewers=list(data["reviewers"]), actor=request.user
        ),
        done=lambda made: f"Batch {batch.name} given to {', '.join(a.reviewer.username for a in made)}.",
    )


@admin_required
@require_POST
def assignment_revoke(request, assignment_id: int):
    assignment = get_object_or_404(Assignment.objects.select_related("batch", "reviewer"), pk=assignment_id)
    return page_action(
        request,
        back=("workflow-batches", assignment.batch.dataset_id),
        run=lambda _: assignment_services.assignment_revoke(assignment=assignment, actor=request.user),
        done=f"Batch {assignment.batch.name} taken back from {assignment.reviewer.username}.",
    )


# --- quality ------------------------------------------------------------------------------------------------


@admin_required
def quality_page(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    quality = selectors.dataset_quality(
        dataset,
        after_batch=int_param(request.GET.get("after_batch")),
        after_reviewer=request.GET.get("after_reviewer") or None,
        limit=BATCH_PAGE_SIZE,
    )
    return render(request, "reviewer/workflow/quality.html", {"dataset": dataset, "quality": quality})


# --- approval -----------------------------------------------------------------------------------------------


@admin_required
def approve_page(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    show = "approved" if request.GET.get("show") == "approved" else "waiting"
    after = int_param(request.GET.get("after"))
    if show == "approved":
        images = selectors.approved_images(dataset)
        if after is not None:
            cursor = Image.objects.filter(dataset=dataset, pk=after).values_list("relative_path", flat=True).first()
            images = images.filter(relative_path__gt=cursor) if cursor is not None else images
        images = list(images[: QUEUE_PAGE_SIZE + 1])
        next_after = images[QUEUE_PAGE_SIZE - 1].pk if len(images) > QUEUE_PAGE_SIZE else None
        images = images[:QUEUE_PAGE_SIZE]
        for image in images:
            current = image.current_approval[0] if image.current_approval else None
            image.final_boxes = [b.box for b in current.boxes.all()] if current else []
            image.approval = current
        entries, flagged = None, 0
    else:
        queue = selectors.approval_queue_page(dataset, after=after, limit=QUEUE_PAGE_SIZE)
        images, entries, next_after = None, queue.entries, queue.next_after
        flagged = selectors.approval_queue_flagged_count(dataset) if entries else 0
    return render(
        request,
        "reviewer/workflow/approve.html",
        {
            "dataset": dataset,
            "show": show,
            "approved_images": images,
            "after": after,
            "next_after": next_after,
            "entries": entries,
            "flagged": flagged,
            "counts": selectors.dataset_workflow_counts(dataset),
        },
    )


def _queue_url(dataset_id: int, request) -> str:
    """The approval queue's page the post came from (its tab and its keyset page)."""
    url = reverse("workflow-approve", args=[dataset_id])
    query = []
    if request.POST.get("show") == "approved":
        query.append("show=approved")
    after = int_param(request.POST.get("after"))
    if after is not None:
        query.append(f"after={after}")
    return f"{url}?{'&'.join(query)}" if query else url


@admin_required
@require_POST
def image_approve(request, image_id: int):
    """Approve one image: its consolidated reviews, or, when the admin edited them, the boxes typed in."""
    image = get_object_or_404(Image, pk=image_id)
    # No "boxes" field at all means "approve the consolidated reviews"; an empty one means "no face".
    edited = "boxes" in request.POST
    return page_action(
        request,
        back=_queue_url(image.dataset_id, request),
        form=ApproveImageForm(request.POST),
        run=lambda data: approval_services.image_approve(
            image=image,
            actor=request.user,
            boxes=data["boxes"] if edited else None,
            expected_revision=data["revision"],
        ),
        done=f"Approved {image.relative_path}{' with your boxes' if edited else ''}.",
    )


@admin_required
@require_POST
def images_approve(request, dataset_id: int):
    """Approve the images of one page of the queue (their ids are posted), or all remaining with all=1."""
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    form = ApproveManyForm(request.POST)
    back = _queue_url(dataset.pk, request)

    def done(result) -> str:
        text = f"Approved {len(result.approved)} image{'s' if len(result.approved) != 1 else ''}."
        if result.skipped:
            text += (
                f" {len(result.skipped)} skipped: changed since the page was shown, no longer waiting for approval,"
                " or without a current review."
            )
        return text

    return page_action(
        request,
        back=back,
        form=form,
        # Each shown image is posted as "id:revision", so one changed since the page was drawn is skipped.
        run=lambda data: approval_services.images_approve(
            dataset=dataset, actor=request.user, image_ids=data["image_ids"], expected_revisions=data["revisions"]
        ),
        done=done,
        # All remaining approved: the queue's first page; one page of it: that page again.
        to=lambda _: back if form.cleaned_data["image_ids"] is not None else ("workflow-approve", dataset.pk),
    )


@admin_required
@require_POST
def image_send_back(request, image_id: int):
    image = get_object_or_404(Image, pk=image_id)
    return page_action(
        request,
        back=_queue_url(image.dataset_id, request),
        form=SendBackForm(request.POST),
        run=lambda data: approval_services.image_send_back(image=image, actor=request.user, reason=data["reason"]),
        done=f"Sent {image.relative_path} back for review.",
    )


# --- gold images --------------------------------------------------------------------------------------------


@admin_required
def gold_page(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    candidates = Paginator(selectors.gold_candidates(dataset), GOLD_PAGE_SIZE).get_page(request.GET.get("page"))
    for image in candidates:
        image.final_boxes = [b.box for a in image.current_approval for b in a.boxes.all()]
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

    def run(data):
        image_id, path_text = data["image"], data["relative_path"]
        images = Image.objects.filter(dataset=dataset)
        image = images.filter(pk=image_id) if image_id is not None else images.filter(relative_path=path_text)
        image = image.first()
        if image is None:
            raise ServiceError(f"There is no image “{path_text or image_id or ''}” in dataset {dataset.name}.")
        assignment_services.image_mark_gold(image=image, actor=request.user, boxes=data["boxes"])
        return image

    return page_action(
        request,
        back=("workflow-gold", dataset.pk),
        form=GoldMarkForm(request.POST),
        run=run,
        done=lambda image: f"{image.relative_path} is now a gold image.",
    )


@admin_required
@require_POST
def gold_unmark(request, image_id: int):
    image = get_object_or_404(Image, pk=image_id)
    return page_action(
        request,
        back=("workflow-gold", image.dataset_id),
        run=lambda _: assignment_services.image_unmark_gold(image=image, actor=request.user),
        done=f"{image.relative_path} is no longer a gold image.",
    )


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
