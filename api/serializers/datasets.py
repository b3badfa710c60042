from rest_framework import serializers

from reviewer.models import Dataset, Image, ImportJob, ImportRejection


class DatasetSerializer(serializers.ModelSerializer):
    counts = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "reviews_required", "current_detection_run", "created_at", "counts"]
        read_only_fields = ["id", "current_detection_run", "created_at", "counts"]

    def get_counts(self, dataset) -> dict:
        return self.context.get("counts", {}).get(dataset.pk, {})


class ImageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Image
        fields = ["id", "relative_path", "sha256", "file_size", "format", "width", "height", "orientation", "status",
                  "is_gold", "created_at"]  # fmt: skip


class ImportRejectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRejection
        fields = ["name", "reason", "message"]


class ImportJobSerializer(serializers.ModelSerializer):
    rejections = ImportRejectionSerializer(many=True, read_only=True)

    class Meta:
        model = ImportJob
        fields = ["id", "dataset", "source", "label", "status", "files_seen", "imported_count", "duplicate_count",
                  "rejected_count", "error", "started_at", "finished_at", "rejections"]  # fmt: skip
