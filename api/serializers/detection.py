"""Detection runs over the API: what starting one takes, and what a run and its progress look like."""

from django.conf import settings
from rest_framework import serializers

from reviewer.imaging.detectors import DETECTOR_NAMES
from reviewer.models import DetectionResult, DetectionRun


class DetectionRunStartSerializer(serializers.Serializer):
    """Empty fields take Veil's defaults (VEIL_DETECTOR, VEIL_DETECTION_THRESHOLD, VEIL_DETECTION_LONG_SIDE)."""

    detector = serializers.ChoiceField(choices=DETECTOR_NAMES, required=False)
    threshold = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    long_side = serializers.IntegerField(required=False, min_value=32, max_value=4096)
    thorough = serializers.BooleanField(required=False, default=False)

    def validated_settings(self) -> tuple[str, dict]:
        data = dict(self.validated_data)
        detector = data.pop("detector", None) or settings.VEIL_DETECTOR
        return detector, data


class DetectionFailureSerializer(serializers.ModelSerializer):
    relative_path = serializers.CharField(source="image.relative_path")

    class Meta:
        model = DetectionResult
        fields = ["image", "relative_path", "error"]


class DetectionRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = DetectionRun
        fields = [
            "id",
            "dataset",
            "detector",
            "detector_version",
            "weights_sha256",
            "settings",
            "status",
            "images_total",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields
