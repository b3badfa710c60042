"""Detection runs over the API: what starting one takes, and what a run and its progress look like."""

from django.conf import settings
from rest_framework import serializers

from reviewer.imaging.detectors import DETECTOR_NAMES
from reviewer.models import DetectionResult, DetectionRun
from reviewer.selectors.detection import detection_run_failures, detection_run_progress

FAILURES_INLINE = 100


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


class ChunkCountsSerializer(serializers.Serializer):
    """Chunks per DetectionChunk.Status. Queued counts those sent and those waiting their turn (a run keeps at
    most VEIL_DETECTION_IN_FLIGHT chunks out)."""

    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()


class DetectionProgressSerializer(serializers.Serializer):
    """What the run page's progress bar shows (reviewer.selectors.detection.detection_run_progress)."""

    status = serializers.ChoiceField(choices=DetectionRun.Status.choices)
    status_display = serializers.CharField()
    is_finished = serializers.BooleanField()
    is_current = serializers.BooleanField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    processed = serializers.IntegerField()
    faces = serializers.IntegerField()
    percent = serializers.FloatField()
    elapsed_seconds = serializers.FloatField()
    images_per_second = serializers.FloatField(allow_null=True)
    seconds_left = serializers.FloatField(allow_null=True)
    chunks = ChunkCountsSerializer()


class DetectionRunSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = DetectionRun
        fields = ["id", "dataset", "detector", "detector_version", "weights_sha256", "settings", "status",
                  "images_total", "created_at", "started_at", "finished_at", "progress"]  # fmt: skip
        read_only_fields = fields

    def get_progress(self, run) -> DetectionProgressSerializer:
        return detection_run_progress(run=run)


class DetectionRunDetailSerializer(DetectionRunSerializer):
    failures = serializers.SerializerMethodField(help_text=f"The first {FAILURES_INLINE} failed images.")

    class Meta(DetectionRunSerializer.Meta):
        fields = [*DetectionRunSerializer.Meta.fields, "failures"]
        read_only_fields = fields

    def get_failures(self, run) -> DetectionFailureSerializer(many=True):
        return DetectionFailureSerializer(detection_run_failures(run=run)[:FAILURES_INLINE], many=True).data


class DetectionRunRetriedSerializer(DetectionRunDetailSerializer):
    queued = serializers.IntegerField(read_only=True, help_text="Failed images queued again.")

    class Meta(DetectionRunDetailSerializer.Meta):
        fields = [*DetectionRunDetailSerializer.Meta.fields, "queued"]
        read_only_fields = fields
