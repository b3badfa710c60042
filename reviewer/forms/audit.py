from django import forms

from reviewer.models import Dataset, User


class AuditFilterForm(forms.Form):
    """The audit log's filters (a GET form: every field is optional)."""

    who = forms.CharField(required=False, max_length=150, label="Who", help_text="A user name")
    what = forms.CharField(
        required=False,
        max_length=64,
        label="What",
        help_text="A verb, or a prefix like “user.”",
        widget=forms.TextInput(attrs={"list": "audit-verbs"}),
    )
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.order_by("name"), required=False)
    image = forms.IntegerField(required=False, min_value=1, label="Image id")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_who(self):
        name = self.cleaned_data["who"].strip()
        if not name:
            return None
        user = User.objects.filter(username=name).only("id", "username").first()
        if user is None:
            raise forms.ValidationError(f"Nobody is called “{name}”.")
        return user

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("The first day comes after the last one.")
        return data
