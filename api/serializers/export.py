"""Exports over the API: the options a start takes, progress, leaks, and where to download the archive."""

import math

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils import html

from reviewer.imaging.annotations import FORMATS
from reviewer.imaging.blur import BLUR_MODES, DEFAULT_MODE
from reviewer.imaging.layouts import DEFAULT_SHARD_SIZE, LAYOUTS
from reviewer.models import Export, Leak
from reviewer.selectors.export import export_chunk_counts, export_is_downloadable, export_progress
from reviewer.services.export import MAX_SHARD_SIZE, PEOPLE_CHOICES, export_options_clean
from reviewer.services.export_files import is_folder_output


class _AsSent(serializers.Field):
    """An export option passed on as sent, once its JSON shape is right: a text or a number, or (`many`) a list of
    texts. Its value is the export service's to judge (export_options_clean), so the API and the page's
    ExportStartForm, whose posts are only ever texts, refuse the same value with the same sentence. `schema` is
    what the OpenAPI schema shows."""

    default_error_messages = {"shape": "Expected a text or a number.", "list": "Expected a list of texts."}

    def __init__(self, *, schema: dict, many: bool = False, **kwargs):
        self.many = many
        super().__init__(required=False, **kwargs)
        extend_schema_field(schema)(self)  # here, not after: a serializer copies its fields by calling __init__ again

    def get_value(self, dictionary):
        if self.many and html.is_html_input(dictionary) and self.field_name in dictionary:
            return dictionary.getlist(self.field_name)
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if self.many:
            if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
                self.fail("list")
            return data
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("shape")
        # What the service's int() and float() answer with OverflowError rather than its sentence: a number beyond
        # a float (JSON's 1e400 is read as infinity) or an integer beyond one. As text they get its words.
        if (isinstance(data, float) and not math.isfinite(data)) or (isinstance(data, int) and abs(data) > 2**53):
            return str(data)
        return data

    def to_representation(self, value):
        return value


def _choice(values, help_text: str) -> _AsSent:
    return _AsSent(schema={"type": "string", "enum": list(values)}, help_text=help_text)


class ExportStartSerializer(serializers.Serializer):
    """Every option is optional; a missing one takes Veil's default. The values are checked by the export service
    (export_options_clean), which names the first bad one: 400 with code `invalid_option`."""

    blur = _choice(BLUR_MODES, f"{', '.join(BLUR_MODES)} (default {DEFAULT_MODE}).")
    archive = _choice(
        LAYOUTS,
        "The output's layout: zip (default) or tar, one archive; webdataset, tar shards of `shard_size` images, "
        "each with its JSON record; folder, the files as a tree; hf, a Hugging Face `datasets` imagefolder.",
    )
    shard_size = _AsSent(
        schema={"type": "integer", "minimum": 1, "maximum": MAX_SHARD_SIZE},
        help_text=f"Images per WebDataset shard: 1 to {MAX_SHARD_SIZE} (default {DEFAULT_SHARD_SIZE}); other "
        "layouts record it and ignore it.",
    )
    annotations = _AsSent(
        schema={"type": "array", "items": {"type": "string", "enum": list(FORMATS)}, "maxItems": 10},
        many=True,
        help_text=f"Any of {', '.join(FORMATS)} (default: all; an empty list writes none).",
    )
    jpeg_quality = _AsSent(
        schema={"type": "integer", "minimum": 1, "maximum": 100}, help_text="1 to 100, for JPEG outputs."
    )
    # Flags stay booleans: the service reads an unknown word as "no", and a typo must not switch the leak check off.
    leak_check = serializers.BooleanField(
        required=False, help_text="Run the detector again on every output (default true)."
    )
    leak_views = serializers.BooleanField(
        required=False,
        help_text="Accepted for older scripts and recorded; changes nothing: the export no longer searches the "
        "originals (the safety net's search runs once, at detection).",
    )
    leak_threshold = _AsSent(
        schema={"type": "number", "minimum": 0, "maximum": 1, "exclusiveMinimum": True, "exclusiveMaximum": True},
        help_text="The leak check's score threshold, between 0 and 1.",
    )
    fail_on_residual = serializers.BooleanField(
        required=False, help_text="Publish no archive when a face is found inside a blurred box."
    )
    people = _choice(PEOPLE_CHOICES, "How the manifest names people: pseudonyms (default) or names.")
    override_gate = serializers.CharField(
        required=False, max_length=1000, allow_blank=True,
        help_text="The reason to export although the release gate refuses (409 with the estimate otherwise).",
    )  # fmt: skip

    def validate(self, attrs):
        """The options checked by the export service, unknown ones included (named in its sentence); a refusal is
        its ServiceError, answered as 400 `invalid_option` by the API's error handler."""
        sent = self.initial_data
        unknown = {key: sent[key] for key in sent if key not in self.fields} if isinstance(sent, dict) else {}
        options = {key: value for key, value in attrs.items() if key != "override_gate"}
        return {"options": export_options_clean({**options, **unknown}), "override_gate": attrs.get("override_gate")}


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
        return export_is_downloadable(export)

    def get_download_url(self, export: Export) -> str | None:
        if export_is_downloadable(export) and not is_folder_output(export):
            return reverse("api-export-download", args=[export.pk])
        return None

    def get_files(self, export: Export) -> list[dict]:
        if not export_is_downloadable(export):
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
