"""Forms of the dataset, detection and export pages: the same ranges and words as the API's serializers."""

from __future__ import annotations

from django import forms

from reviewer.errors import ServiceError
from reviewer.imaging.annotations import FORMATS
from reviewer.imaging.blur import BLUR_MODES
from reviewer.imaging.detectors import DETECTOR_NAMES
from reviewer.imaging.layouts import LAYOUTS
from reviewer.services.export import MAX_SHARD_SIZE, default_options, export_options_clean


class DatasetCreateForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        error_messages={
            "required": "A dataset needs a name.",
            "max_length": "A dataset name must be at most 200 characters.",
        },
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("A dataset needs a name.")
        return name


class DetectionStartForm(forms.Form):
    """Blank fields take Veil's defaults, as in the API's DetectionRunStartSerializer."""

    detector = forms.ChoiceField(
        required=False,
        choices=[("", "default"), *((name, name) for name in DETECTOR_NAMES)],
        error_messages={"invalid_choice": f"Unknown detector “%(value)s”: choose one of {', '.join(DETECTOR_NAMES)}."},
    )
    threshold = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        error_messages={
            "invalid": "threshold must be a number between 0 and 1.",
            "min_value": "threshold must lie between 0 and 1.",
            "max_value": "threshold must lie between 0 and 1.",
        },
    )
    long_side = forms.IntegerField(
        required=False,
        min_value=32,
        max_value=4096,
        error_messages={
            "invalid": "long_side must be a whole number from 32 to 4096.",
            "min_value": "long_side must be a whole number from 32 to 4096.",
            "max_value": "long_side must be a whole number from 32 to 4096.",
        },
    )
    thorough = forms.BooleanField(required=False)
    recall = forms.BooleanField(required=False)

    def settings(self) -> dict:
        data = self.cleaned_data
        return {
            "threshold": data["threshold"],
            "long_side": data["long_side"],
            "thorough": data["thorough"],
            "recall": data["recall"],
        }


class _AsPosted(forms.Field):
    """A value passed on as posted (a blank text is None, the default): the export service judges it, so the page
    and the API refuse the same input with the same sentence (reviewer.services.export.export_options_clean)."""

    def __init__(self, *, many: bool = False, **kwargs):
        self.many = many
        super().__init__(**kwargs)

    def to_python(self, value):
        if self.many:  # the boxes of a group of check boxes: none ticked is an empty list
            return list(value or [])
        if isinstance(value, str):
            value = value.strip()
        return None if value == "" else value


ARCHIVE_LABELS = {
    "zip": "zip",
    "tar": "tar",
    "webdataset": "WebDataset shards (tar)",
    "folder": "a folder",
    "hf": "Hugging Face imagefolder",
}
FORMAT_LABELS = {"imagenet-json": "ImageNet JSON", "coco": "COCO", "csv": "CSV"}
BLUR_LABELS = {
    "gaussian": "Gaussian per face (default)",
    "imagenet": "ImageNet's method (to match ImageNet)",
    "pixelate": "Pixelate",
    "fill": "Solid fill",
}


class ExportStartForm(forms.Form):
    """The export panel's choices. Blank fields take Veil's defaults; every rule and its words are the export
    service's (export_options_clean), checked in `clean`, so this form and the API's ExportStartSerializer
    refuse the same input with the same sentence. The fields only say how each choice is drawn and posted."""

    blur = _AsPosted(required=False, widget=forms.Select(choices=[(m, BLUR_LABELS.get(m, m)) for m in BLUR_MODES]))
    archive = _AsPosted(required=False, widget=forms.Select(choices=[(k, ARCHIVE_LABELS.get(k, k)) for k in LAYOUTS]))
    # Samples per WebDataset shard; the panel shows it when that layout is chosen.
    shard_size = _AsPosted(required=False, widget=forms.NumberInput(attrs={"min": 1, "max": MAX_SHARD_SIZE, "step": 1}))
    annotations = _AsPosted(
        many=True,
        required=False,
        widget=forms.CheckboxSelectMultiple(choices=[(f, FORMAT_LABELS.get(f, f)) for f in FORMATS]),
    )
    jpeg_quality = _AsPosted(required=False, widget=forms.NumberInput(attrs={"min": 1, "max": 100}))
    fail_on_residual = forms.BooleanField(required=False)
    # Recorded as leak_views for older clients; the page no longer offers it and it changes nothing: the export
    # does not search the originals (reviewer/services/leaks.py).
    quick_leak_check = forms.BooleanField(required=False)
    people = _AsPosted(
        required=False,
        widget=forms.Select(
            choices=[("pseudonyms", "Pseudonyms (for publication)"), ("names", "Usernames of reviewers and approvers")]
        ),
    )
    # The release gate: a reason here lets an export go out above the dataset's bound, on record.
    override_gate = forms.CharField(required=False, max_length=1000, strip=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        defaults = default_options()  # what a blank field means, drawn as the page's first choice
        for name in ("blur", "archive", "shard_size", "annotations", "people"):
            self.fields[name].initial = defaults[name]

    def clean(self):
        data = super().clean()
        try:
            export_options_clean(self.options())
        except ServiceError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc
        return data

    def options(self) -> dict:
        """What the admin chose, for export_start; a blank (None) takes the default."""
        data = self.cleaned_data
        return {
            "blur": data.get("blur"),
            "archive": data.get("archive"),
            "shard_size": data.get("shard_size"),
            "annotations": data.get("annotations", []),
            "jpeg_quality": data.get("jpeg_quality"),
            "fail_on_residual": data.get("fail_on_residual", False),
            "leak_views": not data.get("quick_leak_check", False),
            "people": data.get("people"),
        }
