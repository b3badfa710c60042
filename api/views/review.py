"""The reviewer's API behind the review page: my batches, the pool, next image, one image, lease, submit.

Reviewers reach only images of their own active assignments; everything else answers 404 with JSON.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from api.base import ReviewerView, SignedInView, validated
from api.serializers import review as s
from reviewer.errors import NotFound
from reviewer.models import Batch
from reviewer.selectors.review import (
    batches_of_reviewer,
    image_in_batch,
    image_review_state,
    pool_batches_for,
    status_for_reviewer,
)
from reviewer.services.lease import image_next_for_review, lease_acquire
from reviewer.services.review import batch_take, review_submit


class MyBatchesView(ReviewerView):
    """The batches of my active assignments with how many images I reviewed in each (a handful per reviewer)."""

    @extend_schema(responses=s.BatchProgressSerializer(many=True))
    def get(self, request):
        return Response(s.BatchProgressSerializer(batches_of_reviewer(reviewer=request.user), many=True).data)


class PoolView(ReviewerView):
    """Pool batches I have not taken yet."""

    @extend_schema(responses=s.PoolBatchSerializer(many=True))
    def get(self, request):
        return Response(s.PoolBatchSerializer(pool_batches_for(reviewer=request.user), many=True).data)


class BatchTakeView(ReviewerView):
    """Take a pool batch: it joins my assignments (404 for a batch not in the pool)."""

    @extend_schema(request=None, responses={201: s.TakenSerializer})
    def post(self, request, batch_id: int):
        batch = Batch.objects.filter(pk=batch_id).first()
        if batch is None:
            raise NotFound("No such batch in the pool.")
        assignment = batch_take(reviewer=request.user, batch=batch)
        return Response({"assignment": assignment.pk, "batch": batch.pk}, status=201)


class NextImageView(SignedInView):
    """Lease and return the next image of the batch that needs me, after `after`; {"image": null} when done."""

    @extend_schema(request=s.NextImageSerializer, responses=s.NextImageResponseSerializer)
    def post(self, request, batch_id: int):
        body = validated(s.NextImageSerializer, request.data)
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


class ImageStateView(SignedInView):
    """An image's proposals, my current review and its place in the batch. Takes no lease."""

    @extend_schema(responses=s.ReviewImageStateSerializer)
    def get(self, request, batch_id: int, image_id: int):
        return Response(image_review_state(reviewer=request.user, batch_id=batch_id, image_id=image_id))


class LeaseView(SignedInView):
    """Take or renew my lease of the image; 409 while another reviewer holds it. An image I have saved takes no
    lease (token null): changing my answer needs none."""

    @extend_schema(request=None, responses=s.LeaseTakenSerializer)
    def post(self, request, batch_id: int, image_id: int):
        _, item = image_in_batch(reviewer=request.user, batch_id=batch_id, image_id=image_id)
        lease = lease_acquire(reviewer=request.user, image=item.image)
        token, expires_at = (lease.token, lease.expires_at) if lease else (None, None)
        return Response({"token": token, "expires_at": expires_at, "revision": item.image.revision})


class ReviewSubmitView(SignedInView):
    """Submit my review of the image: one request with every proposal's fate, added boxes, flags and time.
    409 for a stale revision or a lease someone else holds."""

    @extend_schema(request=s.ReviewSubmitSerializer, responses={201: s.ReviewSubmittedSerializer})
    def post(self, request, batch_id: int, image_id: int):
        body = s.ReviewSubmitSerializer(data=request.data)
        if not body.is_valid():
            # Someone else's batch or image answers 404 before its body is judged; review_submit checks the
            # same inside its one read when the body is valid.
            image_in_batch(reviewer=request.user, batch_id=batch_id, image_id=image_id)
            body.is_valid(raise_exception=True)
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
        review = result.review
        gold = None
        if review.gold_misses is not None:
            missed = [b.as_list() for b in result.missed_gold]
            gold = {"misses": review.gold_misses, "extras": review.gold_extras, "missed_boxes": missed}
        return Response(
            {
                "review": review.pk,
                "status": status_for_reviewer(result.image, reviewed_by_me=True),
                "revision": result.image.revision,
                "gold": gold,
            },
            status=201,
        )


urlpatterns = [
    path("review/batches/", MyBatchesView.as_view(), name="api-review-batches"),
    path("pool/", PoolView.as_view(), name="api-pool"),
    path("review/batches/<int:batch_id>/take", BatchTakeView.as_view(), name="api-review-batch-take"),
    path("review/batches/<int:batch_id>/next", NextImageView.as_view(), name="api-review-next"),
    path("review/batches/<int:batch_id>/images/<int:image_id>", ImageStateView.as_view(), name="api-review-image"),
    path("review/batches/<int:batch_id>/images/<int:image_id>/lease", LeaseView.as_view(), name="api-review-lease"),
    path(
        "review/batches/<int:batch_id>/images/<int:image_id>/review",
        ReviewSubmitView.as_view(),
        name="api-review-submit",
    ),
]
