"""Exports over the API: the options a start takes, progress, leaks, and where to download the archive."""

from django.urls import reverse
from rest_framework import serializers

from reviewer.models import Export, Leak
from reviewer.selectors.export import export_chunk_counts, export_progress
from reviewer.services.export_files import is_folder_output


class ExportStartSerializer(serializers.Serializer):
    """Types only; the export service checks the values (blur modes, archive kinds, formats, ranges)."""

    blur = serializers.CharField(
        required=False, max_length=32, help_text="gaussian (default), imagenet, pixelate, fill"
    )
    archive = serializers.CharField(required=False, max_length=16, help_text="zip (default) or tar")
    annotations = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, max_length=10,
        help_text="Any of imagenet-json, coco, csv (default: all).",
    )  # fmt: skip
    jpeg_quality = serializers.IntegerField(required=False)
    leak_check = serializers.BooleanField(required=False)
    leak_views = serializers.BooleanField(
        required=False,
        help_text="Accepted for older scripts and recorded; changes nothing: the export no longer searches the "
        "originals (the safety net's search runs once, at detection).",
    )
    leak_threshold = serializers.FloatField(required=False)
    fail_on_residual = serializers.BooleanField(required=False)
    people = serializers.ChoiceField(
        required=False, choices=["pseudonyms", "names"], help_text="How the manifest names people: pseudonyms or names."
    )
    override_gate = serializers.CharField(
        required=False, max_length=1000, allow_blank=True,
        help_text="The reason to export although the release gate refuses (409 with the estimate otherwise).",
    )  # fmt: skip

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError(f"Unknown export option(s): {', '.join(map(str, unknown))}.")
        return attrs


class LeakSerializer(serializers.ModelSerializer):
    image = serializers.CharField(source="image.relative_path")
    image_id = serializers.IntegerField()
    box = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Leak
        fields = ["id", "kind", "image", "image_id", "box", "score", "thumbnail_url"]

    def get_box(self, leak: Leak) -> list[float]:
        return leak.box.rounded().as_list()

    def get_thumbnail_url(self, leak: Leak) -> str:
        return reverse("export-leak-thumbnail", args=[leak.export_id, leak.pk])


class ExportSerializer(serializers.ModelSerializer):
    dataset = serializers.IntegerField(source="dataset_id")
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    percent = serializers.SerializerMethodField()
    is_downloadable = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField(
        help_text="The archive (zip, tar), for a session or a token, when done; null for a folder layout (see files)."
    )
    files = serializers.SerializerMethodField(
        help_text="The output's top-level files when done: name, size and url (a folder layout's shards, manifest "
        "and annotation files; its images are listed in manifest.jsonl, each at files/<output_path>)."
    )

    class Meta:
        model = Export
        fields = ["id", "dataset", "created_by", "options", "status", "stage", "images_total", "images_done",
                  "percent", "chunks_total", "chunks_done", "residual_count", "missed_count", "error", "file_name",
                  "file_size", "file_sha256", "is_downloadable", "gate", "created_at", "started_at", "finished_at",
                  "download_url", "files"]  # fmt: skip
        read_only_fields = fields

    def get_percent(self, export: Export) -> float:
        return export_progress(export, chunks=False)["percent"]

    def get_is_downloadable(self, export: Export) -> bool:
        return export_progress(export, chunks=False)["is_downloadable"]

    def get_download_url(self, export: Export) -> str | None:
        if export_progress(export, chunks=False)["is_downloadable"] and not is_folder_output(export):
            return reverse("api-export-download", args=[export.pk])
        return None

    def get_files(self, export: Export) -> list[dict]:
        if not export_progress(export, chunks=False)["is_downloadable"]:
            return []
        if not is_folder_output(export):
            return [{**f, "url": reverse("api-export-download", args=[export.pk])} for f in export.files]
        return [{**f, "url": reverse("api-export-file", args=[export.pk, f["name"]])} for f in export.files]


class ExportDetailSerializer(ExportSerializer):
    """One export, with how many of its chunks are queued, running, done and failed (one more query)."""

    chunks = serializers.SerializerMethodField(help_text="{total, queued, running, done, failed}")

    class Meta(ExportSerializer.Meta):
        fields = [*ExportSerializer.Meta.fields, "chunks"]
        read_only_fields = fields

    def get_chunks(self, export: Export) -> dict[str, int]:
        return export_chunk_counts(export)
