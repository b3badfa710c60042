"""Forms of the workflow pages: batches, assignments, approval, gold images."""

from __future__ import annotations

import re

from django import forms

from reviewer.imaging.geometry import MAX_BOXES_PER_IMAGE, Box, InvalidBox
from reviewer.models import User
from reviewer.services.assignment import MAX_BATCH_SIZE

WHOLE = "Batch size and gold images per batch must be whole numbers."


def parse_boxes(text: str) -> list[Box]:
    """One box per line, "x0, y0, x1, y1" in pixels of the displayed image (commas or spaces)."""
    boxes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(boxes) >= MAX_BOXES_PER_IMAGE:
            raise forms.ValidationError(f"At most {MAX_BOXES_PER_IMAGE} boxes per image.", code="too_many_boxes")
        parts = [p for p in re.split(r"[,\s]+", line.strip()) if p]
        try:
            boxes.append(Box.from_sequence(parts))
        except InvalidBox as exc:
            raise forms.ValidationError(f"Line {number}: {exc}.", code="invalid_box") from exc
    return boxes


class BoxesField(forms.CharField):
    """A textarea of boxes, one per line; cleans to a list of Box."""

    widget = forms.Textarea

    def to_python(self, value):
        return parse_boxes(super().to_python(value) or "")


class BatchCreateForm(forms.Form):
    size = forms.IntegerField(
        min_value=1,
        max_value=MAX_BATCH_SIZE,
        error_messages={
            "required": f"Batch size must be a whole number from 1 to {MAX_BATCH_SIZE}.",
            "invalid": WHOLE,
            "min_value": f"Batch size must be a whole number from 1 to {MAX_BATCH_SIZE}.",
            "max_value": f"Batch size must be a whole number from 1 to {MAX_BATCH_SIZE}.",
        },
    )
    gold_per_batch = forms.IntegerField(
        required=False,
        min_value=0,
        error_messages={"invalid": WHOLE, "min_value": "Gold images per batch must be 0 or more."},
    )
    is_pool = forms.BooleanField(required=False)
    name_prefix = forms.CharField(required=False, max_length=150)


class ReviewersForm(forms.Form):
    """Reviewers chosen by id; who may get batches is the service's rule (active reviewers), not the form's."""

    reviewers = forms.ModelMultipleChoiceField(
        queryset=User.objects.order_by("username"),
        error_messages={
            "required": "Choose at least one reviewer.",
            "invalid_choice": "There is no user with id %(value)s.",
            "invalid_pk_value": "“%(pk)s” is not a user id.",
        },
    )


class RoundRobinForm(ReviewersForm):
    k = forms.IntegerField(
        required=False,
        min_value=1,
        error_messages={"invalid": "Reviewers per batch (k) must be a whole number.",
                        "min_value": "Each batch needs at least one reviewer."},
    )  # fmt: skip


class ApproveImageForm(forms.Form):
    boxes = BoxesField(required=False)
    revision = forms.IntegerField(required=False, min_value=0, error_messages={"invalid": "Bad image revision."})
    note = forms.CharField(required=False, max_length=2000)


class ApproveManyForm(forms.Form):
    """Either all=1, or the shown images as "id:revision" (a changed image is then skipped)."""

    all = forms.BooleanField(required=False)
    image = forms.CharField(required=False)  # read with getlist in clean()

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self._posted = data.getlist("image") if data is not None and hasattr(data, "getlist") else []

    def clean(self):
        data = super().clean()
        data["all"] = bool(self.data.get("all") == "1")
        revisions: dict[int, int | None] = {}
        for value in self._posted:
            image_id, _, revision = value.partition(":")
            if image_id.strip().isdigit():
                revisions[int(image_id)] = int(revision) if revision.strip().isdigit() else None
        if not data["all"] and not revisions:
            raise forms.ValidationError("No image was chosen to approve.")
        data["image_ids"] = None if data["all"] else list(revisions)
        data["revisions"] = None if data["all"] else {k: v for k, v in revisions.items() if v is not None}
        return data


class SendBackForm(forms.Form):
    reason = forms.CharField(required=False, max_length=1000, error_messages={
        "max_length": "Keep the reason under %(limit_value)d characters."})  # fmt: skip


class GoldMarkForm(forms.Form):
    image = forms.IntegerField(required=False, error_messages={"invalid": "Image must be an image id."})
    relative_path = forms.CharField(required=False, max_length=1024)
    use = forms.ChoiceField(required=False, choices=(("approved", "approved"), ("typed", "typed")))
    boxes = BoxesField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("image") is None and not (data.get("relative_path") or "").strip():
            raise forms.ValidationError("Give the image's id or its path in the dataset.")
        data["relative_path"] = (data.get("relative_path") or "").strip()
        if data.get("use") == "typed" and not data.get("boxes") and "boxes" not in self.errors:
            raise forms.ValidationError(
                "Type the gold boxes, one per line (x0, y0, x1, y1), or use the approved boxes.", code="no_boxes"
            )
        data["boxes"] = data.get("boxes") if data.get("use") == "typed" else None
        return data


class AuditStartForm(forms.Form):
    """A blind audit: who audits, and the share of approved images they see (the dataset's audit rate when
    left empty). Who may audit blind (an active reviewer who reviewed none of the drawn images) is the service's
    rule."""

    # By username (a text field): the dataset page lists no reviewers, so it costs the same with a thousand.
    auditor = forms.ModelChoiceField(
        queryset=User.objects.all(),
        to_field_name="username",
        widget=forms.TextInput,
        error_messages={
            "required": "Name the reviewer who audits.",
            "invalid_choice": "There is no user with that username.",
        },
    )
    rate = forms.FloatField(
        required=False,
        min_value=0.0001,
        max_value=1,
        error_messages={
            "invalid": "The audit rate is a share between 0 and 1, e.g. 0.02.",
            "min_value": "The audit rate must be above 0.",
            "max_value": "The audit rate is at most 1 (every approved image).",
        },
    )
