"""The reviewer's pages: home (my batches) and the review page, whose editor talks to api/views/review.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from reviewer import jobs, policies
from reviewer.errors import Conflict, NotFound
from reviewer.models import Batch
from reviewer.selectors.review import (
    batches_of_reviewer,
    first_image_for,
    first_image_reviewed_by,
    image_in_batch,
    image_review_state,
    pool_batches_for,
)
from reviewer.services.lease import image_next_for_review, lease_acquire
from reviewer.services.review import batch_take


@login_required
@require_GET
def reviewer_home(request):
    """My batches with progress, and pool batches I may take."""
    if policies.is_admin(request.user):
        return redirect("dataset-list")
    if policies.is_crowd_worker(request.user):  # invited by a link: their study page leads the way
        return redirect("crowd-home")
    context = {
        "batches": batches_of_reviewer(reviewer=request.user),
        "pool": pool_batches_for(reviewer=request.user),
    }
    return render(request, "reviewer/review/home.html", context)


@login_required
@require_GET
def batch_start(request, batch_id: int):
    """Start/Continue: open the next image of the batch that needs me (or the first, when all are done)."""
    try:
        found = image_next_for_review(reviewer=request.user, batch_id=batch_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if found is not None:
        return redirect("review-image", batch_id, found[0].pk)
    first = first_image_for(reviewer=request.user, batch_id=batch_id)
    if first is None:
        messages.info(request, "This batch has no images.")
        return redirect("reviewer-home")
    mine = first_image_reviewed_by(reviewer=request.user, batch_id=batch_id)
    if mine is None:
        # One message, on the home page: opening an image here would add the review page's own "all done" banner.
        messages.info(
            request,
            "Nothing in this batch needs you: every image already has the reviews it needs, or another reviewer "
            "is on it now.",
        )
        return redirect("reviewer-home")
    messages.info(request, "Nothing more in this batch needs you. You can still change your answers until approval.")
    return redirect("review-image", batch_id, mine)


@login_required
@require_POST
def batch_take_page(request, batch_id: int):
    batch = Batch.objects.filter(pk=batch_id).first()
    try:
        if batch is None:
            raise NotFound("No such batch in the pool.")
        batch_take(reviewer=request.user, batch=batch)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return redirect("review-batch-start", batch_id)


@login_required
@require_GET
def review_image(request, batch_id: int, image_id: int):
    """The review page for one image. Opening it takes (or renews) my lease when nobody else holds it."""
    try:
        _, item = image_in_batch(reviewer=request.user, batch_id=batch_id, image_id=image_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    lease, lease_error = None, None
    try:
        lease = lease_acquire(reviewer=request.user, image=item.image)
    except (Conflict, NotFound) as exc:
        lease_error = exc.message
    state = image_review_state(reviewer=request.user, batch_id=batch_id, image_id=image_id, lease=lease)
    state["lease_error"] = lease_error
    return render(
        request,
        "reviewer/review/page.html",
        {"state": state, "batch": item.batch, "image": item.image, "lease_renew_seconds": jobs.LEASE_RENEW_SECONDS},
    )


urlpatterns = [
    path("review/", reviewer_home, name="reviewer-home"),
    path("review/batches/<int:batch_id>/start", batch_start, name="review-batch-start"),
    path("review/batches/<int:batch_id>/take", batch_take_page, name="review-batch-take"),
    path("review/batches/<int:batch_id>/images/<int:image_id>", review_image, name="review-image"),
]
