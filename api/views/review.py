"""The reviewer's API behind the review page: next image, one image's proposals and my review, lease, submit.

Reviewers reach only images of their own active assignments; everything else answers 404 with JSON.
"""

from django.urls import path
from rest_framework.decorators import api_view
from rest_framework.response import Response

from api.serializers.review import NextImageSerializer, ReviewSubmitSerializer, validated
from reviewer.models import Batch
from reviewer.selectors.review import image_in_batch, image_review_state
from reviewer.services.errors import NotFound
from reviewer.services.lease import image_next_for_review, lease_acquire
from reviewer.services.review import batch_take, review_submit


@api_view(["POST"])
def next_image(request, batch_id: int):
    """Lease and return the next image of the batch that needs me, after `after`; {"image": null} when done."""
    body = validated(NextImageSerializer, request.data).validated_data
    found = image_next_for_review(
        reviewer=request.user, batch_id=batch_id, after_image_id=body["after"], exclude_ids=tuple(body["exclude"])
    )
    if found is None:
        return Response({"image": None})
    image, lease = found
    state = image_review_state(
        reviewer=request.user, batch_id=batch_id, image_id=image.pk, lease=lease, leased_image=image
    )
    return Response({"image": state})


@api_view(["GET"])
def image_detail(request, batch_id: int, image_id: int):
    """An image's proposals, my current review and its place in the batch. Takes no lease."""
    return Response(image_review_state(reviewer=request.user, batch_id=batch_id, image_id=image_id))


@api_view(["POST"])
def image_lease(request, batch_id: int, image_id: int):
    """Take or renew my lease of the image; 409 while another reviewer holds it."""
    _, item = image_in_batch(reviewer=request.user, batch_id=batch_id, image_id=image_id)
    lease = lease_acquire(reviewer=request.user, image=item.image)
    return Response({"token": lease.token, "expires_at": lease.expires_at.isoformat(), "revision": item.image.revision})


@api_view(["POST"])
def review_create(request, batch_id: int, image_id: int):
    """Submit my review of the image: one request with every proposal's fate, added boxes, flags and time."""
    image_in_batch(reviewer=request.user, batch_id=batch_id, image_id=image_id)
    body = validated(ReviewSubmitSerializer, request.data)
    data = body.validated_data
    result = review_submit(
        reviewer=request.user,
        image_id=image_id,
        batch_id=batch_id,
        lease_token=data["lease_token"],
        revision=data["revision"],
        fates=body.fates(),
        has_no_faces=data["has_no_faces"],
        is_unsure=data["is_unsure"],
        seconds_spent=data["seconds_spent"],
        request_id=data["request_id"],
        candidates=body.candidate_fates(),
    )
    return Response(
        {
            "review": result.review.pk,
            "status": result.image.status,
            "revision": result.image.revision,
            "gold": None
            if result.review.gold_misses is None
            else {
                "misses": result.review.gold_misses,
                "extras": result.review.gold_extras,
                "missed_boxes": [b.as_list() for b in result.missed_gold],
            },
        },
        status=201,
    )


@api_view(["POST"])
def batch_take_view(request, batch_id: int):
    """Take a pool batch: it joins my assignments."""
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise NotFound("No such batch in the pool.")
    assignment = batch_take(reviewer=request.user, batch=batch)
    return Response({"assignment": assignment.pk, "batch": batch.pk}, status=201)


urlpatterns = [
    path("review/batches/<int:batch_id>/take", batch_take_view, name="api-review-batch-take"),
    path("review/batches/<int:batch_id>/next", next_image, name="api-review-next"),
    path("review/batches/<int:batch_id>/images/<int:image_id>", image_detail, name="api-review-image"),
    path("review/batches/<int:batch_id>/images/<int:image_id>/lease", image_lease, name="api-review-lease"),
    path("review/batches/<int:batch_id>/images/<int:image_id>/review", review_create, name="api-review-submit"),
]
