"""Forms of the crowd pages: every POST of crowd/views/ goes through one of these."""

from __future__ import annotations

import json
import math

from django import forms

from crowd.services.onboarding import MAX_INVITE_DAYS, MAX_INVITE_USES
from reviewer.imaging.geometry import Box, InvalidBox


class InviteForm(forms.Form):
    max_uses = forms.IntegerField(min_value=1, max_value=MAX_INVITE_USES, label="Maximum uses", initial=50)
    expires_in_days = forms.FloatField(
        min_value=0.01, max_value=MAX_INVITE_DAYS, label="Expires after (days)", initial=7
    )
    images_per_worker = forms.IntegerField(
        min_value=1, required=False, label="Images per worker", help_text="Empty: each worker finishes one pool batch."
    )
    label = forms.CharField(max_length=200, required=False, label="Label (for you)")


class CrowdSetupForm(forms.Form):
    instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), required=False)
    qualification_size = forms.IntegerField(min_value=0, max_value=50, label="Qualification images (0: none)")
    max_mistakes = forms.IntegerField(min_value=0, max_value=50, label="Mistakes allowed per try")
    max_tries = forms.IntegerField(min_value=1, max_value=20, label="Tries")
    miss_rate_limit = forms.FloatField(min_value=0, max_value=1, label="Hold back work above this gold miss rate")
    completion_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Completion URL",
        help_text="Where a finished worker is sent; {code} and {external_id} are filled in.",
    )


class ExampleForm(forms.Form):
    relative_path = forms.CharField(max_length=1024, label="Image path in the dataset")
    caption = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    boxes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Expected boxes, one per line: x0, y0, x1, y1"
    )


class CodeCheckForm(forms.Form):
    code = forms.CharField(max_length=40)


class PaySheetForm(forms.Form):
    start = forms.DateField(label="From (inclusive)")
    end = forms.DateField(label="To (inclusive)")

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError("The period ends before it starts.")
        return data


class QualificationAnswerForm(forms.Form):
    image = forms.IntegerField(min_value=1)
    boxes = forms.CharField(required=False, max_length=100_000)
    seconds = forms.FloatField(required=False, min_value=0)

    def clean_boxes(self) -> list[Box]:
        text = self.cleaned_data.get("boxes") or "[]"
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError("The boxes could not be read; reload the page.") from exc
        if not isinstance(raw, list):
            raise forms.ValidationError("The boxes could not be read; reload the page.")
        boxes = []
        for item in raw:
            if not isinstance(item, list) or len(item) != 4 or not all(isinstance(v, int | float) for v in item):
                raise forms.ValidationError("Each box is four numbers: x0, y0, x1, y1.")
            if not all(math.isfinite(v) for v in item):
                raise forms.ValidationError("Each box is four finite numbers.")
            try:
                boxes.append(Box.from_sequence(item))
            except InvalidBox as exc:
                raise forms.ValidationError(f"Box refused: {exc}.") from exc
        return boxes
