"""Serializers of the admin workflow API: batches, assignments, quality, the approval queue and approvals."""

from __future__ import annotations

from rest_framework import serializers

from reviewer.imaging.geometry import MAX_BOXES_PER_IMAGE, Box, InvalidBox
from reviewer.models import Approval, Assignment, Batch, User


def _box_list(box: Box) -> list[float]:
    return [round(v, 2) for v in box.as_list()]


class BoxesField(serializers.ListField):
    """A list of boxes, each [x0, y0, x1, y1] in pixels of the displayed image."""

    child = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", MAX_BOXES_PER_IMAGE)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        try:
            return [Box.from_sequence(v) for v in values]
        except InvalidBox as exc:
            raise serializers.ValidationError(str(exc)) from exc


class ReviewersField(serializers.ListField):
    """Reviewers by username or id. Unknown ones are refused by name; role checks happen in the service."""

    child = serializers.CharField(max_length=150)

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 1000)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        keys = super().to_internal_value(data)
        ids = [int(k) for k in keys if k.isdigit()]
        names = [k for k in keys if not k.isdigit()]
        users = {u.username: u for u in User.objects.filter(username__in=names)}
        users.update({str(u.pk): u for u in User.objects.filter(pk__in=ids)})
        unknown = [k for k in keys if k not in users]
        if unknown:
            raise serializers.ValidationError(f"No such user: {', '.join(unknown)}.")
        return [users[k] for k in keys]


class BatchCreateSerializer(serializers.Serializer):
    size = serializers.IntegerField(max_value=1_000_000)
    is_pool = serializers.BooleanField(default=False)
    gold_per_batch = serializers.IntegerField(default=0, max_value=10_000)
    name_prefix = serializers.CharField(default="batch", allow_blank=True, max_length=100)


class RoundRobinSerializer(serializers.Serializer):
    reviewers = ReviewersField(allow_empty=False)
    k = serializers.IntegerField(required=False, max_value=100)


class BatchAssignSerializer(serializers.Serializer):
    reviewers = ReviewersField(allow_empty=False)


class ApproveImageSerializer(serializers.Serializer):
    boxes = BoxesField(required=False, allow_null=True, default=None)
    expected_revision = serializers.IntegerField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)


class ApproveManySerializer(serializers.Serializer):
    image_ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, allow_empty=False, max_length=10_000
    )
    all = serializers.BooleanField(default=False)
    # {"<image id>": revision} as the caller saw them (e.g. from the queue): changed images are skipped.
    expected_revisions = serializers.DictField(child=serializers.IntegerField(), required=False)

    def validate(self, attrs):
        if attrs["all"] == ("image_ids" in attrs):
            raise serializers.ValidationError("Send either image_ids (a list) or all=true.")
        try:
            attrs["expected_revisions"] = {int(k): v for k, v in attrs.get("expected_revisions", {}).items()}
        except ValueError as exc:
            raise serializers.ValidationError("expected_revisions maps image ids to revisions.") from exc
        return attrs


class SendBackSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class GoldMarkSerializer(serializers.Serializer):
    boxes = BoxesField(required=False, allow_null=True, default=None)


class AssignmentSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username")
    batch = serializers.CharField(source="batch.name")
    batch_id = serializers.IntegerField()

    class Meta:
        model = Assignment
        fields = ["id", "batch_id", "batch", "reviewer", "status", "created_at"]


class BatchSerializer(serializers.ModelSerializer):
    size = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = ["id", "name", "is_pool", "size", "created_at"]

    def get_size(self, batch) -> int:
        return batch.size


def stats_data(stats) -> dict:
    return stats.as_dict()


def quality_data(quality) -> dict:
    return {
        "dataset": stats_data(quality.dataset),
        "batches": [
            {
                "id": row.batch.pk,
                "name": row.batch.name,
                "is_pool": row.batch.is_pool,
                "size": row.size,
                "images_done": row.images_done,
                **stats_data(row.stats),
                "assignments": [
                    {"id": a.pk, "reviewer": a.reviewer.username, "status": a.status, **stats_data(s)}
                    for a, s in row.assignments
                ],
            }
            for row in quality.batches
        ],
        "reviewers": [
            {"reviewer": row.reviewer.username, "batches": row.batches, **stats_data(row.stats)}
            for row in quality.reviewers
        ],
    }


def queue_entry_data(entry) -> dict:
    image = entry.image
    return {
        "id": image.pk,
        "relative_path": image.relative_path,
        "width": image.width,
        "height": image.height,
        "revision": image.revision,
        "is_unsure": entry.is_unsure,
        "has_disagreement": entry.has_disagreement,
        "agreement": round(entry.consolidation.agreement, 3),
        "reviewers": entry.reviewers,
        "boxes": [{"box": _box_list(face.box), "support": face.support} for face in entry.consolidation.faces],
    }


class ApprovalSerializer(serializers.ModelSerializer):
    boxes = serializers.SerializerMethodField()
    approved_by = serializers.CharField(source="approved_by.username", default=None)
    reviews = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    image_status = serializers.CharField(source="image.status")
    image_revision = serializers.IntegerField(source="image.revision")

    class Meta:
        model = Approval
        fields = [
            "id", "image", "source", "is_current", "approved_by", "approved_at", "reviews", "boxes", "note",
            "image_status", "image_revision",
        ]  # fmt: skip

    def get_boxes(self, approval) -> list[list[float]]:
        return [_box_list(b.box) for b in approval.boxes.all()]
