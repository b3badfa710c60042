"""Datasets, their images with proposals and candidates, and imports with their rejections."""

from __future__ import annotations

from rest_framework import serializers

from reviewer.models import Candidate, Dataset, Image, ImportJob, ImportRejection, Proposal

REJECTIONS_INLINE = 100


class StatusCountsSerializer(serializers.Serializer):
    new = serializers.IntegerField()
    detected = serializers.IntegerField()
    in_review = serializers.IntegerField()
    reviewed = serializers.IntegerField()
    approved = serializers.IntegerField()
    total = serializers.IntegerField()


class DatasetSerializer(serializers.ModelSerializer):
    counts = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "reviews_required", "current_detection_run", "created_at", "counts"]
        read_only_fields = fields

    def get_counts(self, dataset) -> StatusCountsSerializer:
        empty = dict.fromkeys([*Image.Status.values, "total"], 0)
        return self.context.get("counts", {}).get(dataset.pk, empty)


class DatasetCreateSerializer(serializers.Serializer):
    # CharField refuses lists, numbers-as-objects and NUL characters; the service trims and refuses blanks.
    name = serializers.CharField(max_length=200, help_text="Unique; at most 200 characters, no NUL.")


class ImageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Image
        fields = ["id", "dataset", "relative_path", "sha256", "file_size", "format", "width", "height",
                  "orientation", "status", "is_gold", "needs_second_look", "second_look_reasons", "revision",
                  "created_at"]  # fmt: skip
        read_only_fields = fields


class ProposalSerializer(serializers.ModelSerializer):
    box = serializers.SerializerMethodField()

    class Meta:
        model = Proposal
        fields = ["id", "run", "image", "ordinal", "score", "source", "box"]

    def get_box(self, obj) -> list[float]:
        return [obj.x0, obj.y0, obj.x1, obj.y1]


class CandidateSerializer(ProposalSerializer):
    class Meta:
        model = Candidate
        fields = ["id", "run", "image", "ordinal", "score", "source", "box"]


class ImportRejectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRejection
        fields = ["id", "name", "reason", "message"]


class ImportJobSerializer(serializers.ModelSerializer):
    rejections = serializers.SerializerMethodField(help_text=f"The first {REJECTIONS_INLINE}; all are paginated at "
                                                   "/imports/{id}/rejections/.")  # fmt: skip

    class Meta:
        model = ImportJob
        fields = ["id", "dataset", "source", "label", "status", "files_seen", "imported_count", "duplicate_count",
                  "rejected_count", "error", "started_at", "finished_at", "rejections"]  # fmt: skip
        read_only_fields = fields

    def get_rejections(self, job) -> ImportRejectionSerializer(many=True):
        return ImportRejectionSerializer(job.rejections.order_by("id")[:REJECTIONS_INLINE], many=True).data


class ImportUploadSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False, help_text="Images or archives.")
    paths = serializers.ListField(
        child=serializers.CharField(max_length=1024, allow_blank=True), required=False, help_text="Each file's path."
    )
