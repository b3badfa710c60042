"""The triage page's one POST: resolve one flag."""

from __future__ import annotations

from django import forms

from reviewer.services.triage import FACE, NOT_FACE


class FlagResolveForm(forms.Form):
    kind = forms.ChoiceField(choices=[("candidate", "candidate"), ("leak", "leak-check find")])
    flag = forms.IntegerField(min_value=1)
    resolution = forms.ChoiceField(choices=[(FACE, "face: send back"), (NOT_FACE, "not a face")])
