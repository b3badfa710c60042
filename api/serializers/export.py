"""Exports over the API: progress, options, leaks, and where to download the archive."""

from django.urls import reverse
from rest_framework import serializers

from reviewer.models import Export, Leak
from reviewer.selectors.export import export_progress


class LeakSerializer(serializers.ModelSerializer):
    image = serializers.CharField(source="image.relative_path")
    box = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Leak
        fields = ["id", "kind", "image", "box", "score", "thumbnail_url"]

    def get_box(self, leak: Leak) -> list[float]:
        return leak.box.rounded().as_list()

    def get_thumbnail_url(self, leak: Leak) -> str:
        return reverse("export-leak-thumbnail", args=[leak.export_id, leak.pk])


class ExportSerializer(serializers.ModelSerializer):
    dataset = serializers.IntegerField(source="dataset_id")
    created_by = serializers.CharField(source="created_by.username", default=None)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = ["id", "dataset", "created_by", "options", "created_at", "started_at", "finished_at", "download_url"]

    def get_download_url(self, export: Export) -> str | None:
        if export.status == Export.Status.DONE and export.file_name:
            return reverse("export-download", args=[export.pk])
        return None

    def to_representation(self, export: Export) -> dict:
        return {**super().to_representation(export), **export_progress(export)}
