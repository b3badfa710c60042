"""Forms of the dataset, detection and export pages: the same ranges and words as the API's serializers."""

from __future__ import annotations

from django import forms

from reviewer.imaging.annotations import FORMATS
from reviewer.imaging.archive import ARCHIVE_KINDS
from reviewer.imaging.blur import BLUR_MODES
from reviewer.imaging.detectors import DETECTOR_NAMES


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


class ExportStartForm(forms.Form):
    """Blank fields take Veil's defaults (reviewer.services.export.default_options)."""

    blur = forms.ChoiceField(
        required=False,
        choices=[("", "default"), *((m, m) for m in BLUR_MODES)],
        error_messages={"invalid_choice": f"Blur must be one of {', '.join(BLUR_MODES)}; got '%(value)s'."},
    )
    archive = forms.ChoiceField(
        required=False,
        choices=[("", "default"), *((k, k) for k in ARCHIVE_KINDS)],
        error_messages={"invalid_choice": "Archive must be zip or tar; got '%(value)s'."},
    )
    annotations = forms.MultipleChoiceField(
        required=False,
        choices=[(f, f) for f in FORMATS],
        error_messages={"invalid_choice": f"Annotation formats must be among {', '.join(FORMATS)}; got %(value)s."},
    )
    jpeg_quality = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100,
        error_messages={
            "invalid": "JPEG quality must be between 1 and 100.",
            "min_value": "JPEG quality must be between 1 and 100.",
            "max_value": "JPEG quality must be between 1 and 100.",
        },
    )
    fail_on_residual = forms.BooleanField(required=False)
    # Recorded as leak_views for older clients; the page no longer offers it and it changes nothing: the export
    # does not search the originals (reviewer/services/leaks.py).
    quick_leak_check = forms.BooleanField(required=False)
    people = forms.ChoiceField(
        required=False,
        choices=[("", "default"), ("pseudonyms", "pseudonyms"), ("names", "names")],
        error_messages={"invalid_choice": "People must be named by pseudonyms or names; got '%(value)s'."},
    )
    # The release gate: a reason here lets an export go out above the dataset's bound, on record.
    override_gate = forms.CharField(required=False, max_length=1000, strip=True)

    def options(self) -> dict:
        data = self.cleaned_data
        return {
            "blur": data["blur"] or None,
            "archive": data["archive"] or None,
            "annotations": data["annotations"],
            "jpeg_quality": data["jpeg_quality"],
            "fail_on_residual": data["fail_on_residual"],
            "leak_views": not data["quick_leak_check"],
            "people": data["people"] or None,
        }
