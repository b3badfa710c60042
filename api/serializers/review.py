"""Shapes of the review API: requests validated here, responses built by reviewer.selectors.review and
described here for the schema."""

from rest_framework import serializers

from reviewer.imaging.geometry import MAX_BOXES_PER_IMAGE, Box
from reviewer.models import Image, Review, ReviewBox, ReviewCandidate
from reviewer.services.review import BoxFate, CandidateFate

# Far more boxes than any photograph holds; stops a runaway client from writing a million rows.
MAX_BOXES = MAX_BOXES_PER_IMAGE


class BoxFateSerializer(serializers.Serializer):
    proposal = serializers.IntegerField(required=False, allow_null=True, default=None)
    fate = serializers.ChoiceField(choices=ReviewBox.Fate.choices)
    box = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, required=False, allow_null=True, default=None
    )


class CandidateFateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    fate = serializers.ChoiceField(choices=ReviewCandidate.Fate.choices)


class ReviewSubmitSerializer(serializers.Serializer):
    lease_token = serializers.CharField(max_length=64, allow_blank=True, default="")
    revision = serializers.IntegerField(min_value=0)
    boxes = BoxFateSerializer(many=True, max_length=MAX_BOXES)
    has_no_faces = serializers.BooleanField(default=False)
    is_unsure = serializers.BooleanField(default=False)
    seconds_spent = serializers.FloatField(min_value=0, max_value=10**7, default=0)
    # One per save, the same on a retry of that save: a retry after a lost answer is answered as saved.
    request_id = serializers.RegexField(r"^[A-Za-z0-9_-]{8,64}$", required=False, allow_null=True, default=None)
    candidates = CandidateFateSerializer(many=True, max_length=MAX_BOXES, required=False, default=list)

    def fates(self) -> list[BoxFate]:
        return [
            BoxFate(fate=b["fate"], proposal_id=b["proposal"], box=Box(*b["box"]) if b["box"] else None)
            for b in self.validated_data["boxes"]
        ]

    def candidate_fates(self) -> list[CandidateFate]:
        return [CandidateFate(candidate_id=c["id"], fate=c["fate"]) for c in self.validated_data["candidates"]]


class NextImageSerializer(serializers.Serializer):
    after = serializers.IntegerField(required=False, allow_null=True, default=None)
    exclude = serializers.ListField(child=serializers.IntegerField(), max_length=100, required=False, default=list)


# --- responses (documentation of the selectors' dicts) -------------------------------------------------------


class LeaseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class LeaseTakenSerializer(serializers.Serializer):
    """`token` and `expires_at` are null for an image I have saved: I need no lease to change my answer, and
    one of mine would only keep the image from the reviewers who still need it."""

    token = serializers.CharField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    revision = serializers.IntegerField()


class StateProposalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)
    score = serializers.FloatField()


class StateCandidateSerializer(StateProposalSerializer):
    source = serializers.CharField()


class StateCandidateFateSerializer(serializers.Serializer):
    candidate = serializers.IntegerField()
    fate = serializers.ChoiceField(choices=ReviewCandidate.Fate.choices)


class StateBoxSerializer(serializers.Serializer):
    proposal = serializers.IntegerField(allow_null=True)
    fate = serializers.ChoiceField(choices=ReviewBox.Fate.choices)
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)


class StateReviewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    has_no_faces = serializers.BooleanField()
    is_unsure = serializers.BooleanField()
    boxes = StateBoxSerializer(many=True)
    candidates = StateCandidateFateSerializer(many=True, required=False)


class ReviewSentBackSerializer(serializers.Serializer):
    by = serializers.CharField(help_text="The admin who sent the image back to review.")
    reason = serializers.CharField(allow_blank=True, help_text="Why (a leak check names its finds); may be empty.")


class ReviewImageStateSerializer(serializers.Serializer):
    """Everything the editor shows for one image. `status` is the one a reviewer should see: gold is not told."""

    id = serializers.IntegerField()
    batch = serializers.IntegerField()
    name = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Image.Status.choices)
    revision = serializers.IntegerField()
    display_url = serializers.CharField()
    page_url = serializers.CharField()
    position = serializers.IntegerField()
    total = serializers.IntegerField()
    prev_id = serializers.IntegerField(allow_null=True)
    next_id = serializers.IntegerField(allow_null=True)
    can_save = serializers.BooleanField()
    detection_run = serializers.IntegerField(allow_null=True)
    proposals = StateProposalSerializer(many=True)
    candidates = StateCandidateSerializer(many=True, help_text="Regions for a second look, shown dimmed on a key.")
    review = StateReviewSerializer(allow_null=True)
    lease = LeaseSerializer(allow_null=True)
    sent_back = ReviewSentBackSerializer(
        allow_null=True, help_text="Who sent this image back to review and why, until it is approved again."
    )


class NextImageResponseSerializer(serializers.Serializer):
    image = ReviewImageStateSerializer(allow_null=True, help_text="null when nothing in the batch needs me.")


class GoldFeedbackSerializer(serializers.Serializer):
    misses = serializers.IntegerField()
    extras = serializers.IntegerField()
    missed_boxes = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))


class ReviewSubmittedSerializer(serializers.Serializer):
    review = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Image.Status.choices)
    revision = serializers.IntegerField()
    gold = GoldFeedbackSerializer(allow_null=True, help_text="Feedback, only on a quality-control image.")


class BatchProgressSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="batch.pk")
    name = serializers.CharField(source="batch.name")
    dataset = serializers.CharField(source="batch.dataset.name")
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    percent = serializers.IntegerField()


class PoolBatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    dataset = serializers.CharField(source="dataset.name")
    total = serializers.IntegerField()


class TakenSerializer(serializers.Serializer):
    assignment = serializers.IntegerField()
    batch = serializers.IntegerField()


class ReviewBoxSerializer(serializers.ModelSerializer):
    box = serializers.SerializerMethodField()

    class Meta:
        model = ReviewBox
        fields = ["proposal", "fate", "box"]

    def get_box(self, obj) -> list[float]:
        return [obj.x0, obj.y0, obj.x1, obj.y1]


class CandidateFateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReviewCandidate
        fields = ["candidate", "fate"]


class ReviewSerializer(serializers.ModelSerializer):
    """One reviewer's answer for one image, as an admin sees it."""

    reviewer = serializers.CharField(source="reviewer.username")
    boxes = ReviewBoxSerializer(many=True)
    candidate_fates = CandidateFateSerializer(many=True)

    class Meta:
        model = Review
        fields = ["id", "image", "reviewer", "assignment", "detection_run", "is_current", "supersedes",
                  "has_no_faces", "is_unsure", "seconds_spent", "submitted_at", "gold_misses", "gold_extras",
                  "boxes", "candidate_fates"]  # fmt: skip
        read_only_fields = fields
