"""Response shapes of the admin workflow that selectors build as plain data: statistics, quality, the approval
queue, approved and gold images. Declared here so the schema states exactly what comes back."""

from __future__ import annotations

from rest_framework import serializers

from reviewer.models import Assignment, Image


class StatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    reviewed = serializers.IntegerField()
    percent = serializers.IntegerField()
    mean_seconds = serializers.FloatField(
        allow_null=True, help_text="Mean seconds per image (a summary row keeps sums)."
    )
    gold_reviews = serializers.IntegerField()
    gold_misses = serializers.IntegerField()
    gold_extras = serializers.IntegerField()
    gold_miss_rate = serializers.FloatField(allow_null=True)
    unsure = serializers.IntegerField()
    agreement = serializers.FloatField(allow_null=True)


class AssignmentQualitySerializer(StatsSerializer):
    id = serializers.IntegerField()
    reviewer = serializers.CharField()
    status = serializers.ChoiceField(choices=Assignment.Status.choices)


class BatchQualitySerializer(StatsSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_pool = serializers.BooleanField()
    size = serializers.IntegerField()
    images_done = serializers.IntegerField()
    assignments = AssignmentQualitySerializer(many=True)


class ReviewerQualitySerializer(StatsSerializer):
    reviewer = serializers.CharField()
    batches = serializers.IntegerField()


class QualitySerializer(serializers.Serializer):
    dataset = StatsSerializer()
    batches = BatchQualitySerializer(many=True)
    reviewers = ReviewerQualitySerializer(many=True)


class StatusCountSerializer(serializers.Serializer):
    new = serializers.IntegerField()
    detected = serializers.IntegerField()
    in_review = serializers.IntegerField()
    reviewed = serializers.IntegerField()
    approved = serializers.IntegerField()


class StatisticsSerializer(serializers.Serializer):
    """The numbers on the dataset page's review panel (reviewer.selectors.workflow.dataset_workflow_counts)."""

    images = serializers.IntegerField()
    by_status = StatusCountSerializer()
    batches = serializers.IntegerField()
    pool_batches = serializers.IntegerField()
    unbatched = serializers.IntegerField()
    gold = serializers.IntegerField()
    assignments = serializers.IntegerField()
    waiting_approval = serializers.IntegerField()
    approved = serializers.IntegerField()


class ConsolidatedBoxSerializer(serializers.Serializer):
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)
    support = serializers.IntegerField(help_text="How many reviewers boxed this face.")


class QueueEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    relative_path = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    revision = serializers.IntegerField()
    is_unsure = serializers.BooleanField()
    has_disagreement = serializers.BooleanField()
    agreement = serializers.FloatField()
    reviewers = serializers.ListField(child=serializers.CharField())
    boxes = ConsolidatedBoxSerializer(many=True)


class QueuePageSerializer(serializers.Serializer):
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = QueueEntrySerializer(many=True)


def _boxes(boxes) -> list[list[float]]:
    return [[round(v, 2) for v in b.box.as_list()] for b in boxes]


class ApprovedImageSerializer(serializers.ModelSerializer):
    approval = serializers.SerializerMethodField()
    boxes = serializers.SerializerMethodField(help_text="The approved boxes: what an export blurs.")

    class Meta:
        model = Image
        fields = ["id", "relative_path", "width", "height", "revision", "is_gold", "approval", "boxes"]

    def _current(self, image):
        return image.current_approval[0] if image.current_approval else None

    def get_approval(self, image) -> int | None:
        current = self._current(image)
        return current.pk if current else None

    def get_boxes(self, image) -> list[list[float]]:
        current = self._current(image)
        return _boxes(current.boxes.all()) if current else []


class GoldImageSerializer(serializers.ModelSerializer):
    boxes = serializers.SerializerMethodField(help_text="The known faces reviewers are scored against.")

    class Meta:
        model = Image
        fields = ["id", "relative_path", "width", "height", "status", "boxes"]

    def get_boxes(self, image) -> list[list[float]]:
        return _boxes(image.gold_boxes.all())


class GoldMarkedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    is_gold = serializers.BooleanField()
    boxes = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))


class ApprovedManySerializer(serializers.Serializer):
    approved = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(child=serializers.IntegerField())


class SentBackSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Image.Status.choices)
    revision = serializers.IntegerField()
