from django import forms

from reviewer.models import Dataset, User
from reviewer.services.dataset_settings import MAX_LEASE_SECONDS, MAX_REVIEWS_REQUIRED, MIN_LEASE_SECONDS


class DatasetSettingsForm(forms.Form):
    reviews_required = forms.IntegerField(
        label="Reviews per image (k)",
        min_value=1,
        max_value=MAX_REVIEWS_REQUIRED,
        help_text="Each image goes to k different reviewers; their boxes are merged.",
        error_messages={
            "min_value": "Reviews per image must be at least 1.",
            "max_value": f"Reviews per image must be at most {MAX_REVIEWS_REQUIRED}.",
        },
    )
    gold_per_batch = forms.IntegerField(
        label="Gold images per batch",
        min_value=0,
        help_text="Mixed into every batch cut from now on.",
        error_messages={"min_value": "Gold images per batch must be 0 or more."},
    )
    lease_seconds = forms.IntegerField(
        label="Lease length (seconds)",
        required=False,
        min_value=MIN_LEASE_SECONDS,
        max_value=MAX_LEASE_SECONDS,
        help_text="How long an opened image stays with its reviewer. Blank: the server's default.",
        error_messages={
            "min_value": f"A lease lasts at least {MIN_LEASE_SECONDS} seconds.",
            "max_value": f"A lease lasts at most {MAX_LEASE_SECONDS} seconds (24 h).",
        },
    )
    release_bound = forms.FloatField(
        label="Release bound",
        min_value=0,
        max_value=1,
        help_text="Highest upper bound on the share of faces an export may leave unblurred (0.02 = 2 %).",
        error_messages={
            "min_value": "The release bound is a share from 0 to 1.",
            "max_value": "The release bound is a share from 0 to 1 (0.02 is 2 %%).",
        },
    )
    audit_rate = forms.FloatField(
        label="Audit rate",
        min_value=0,
        max_value=1,
        help_text="Share of approved images sent to a second, independent reviewer.",
        error_messages={
            "min_value": "The audit rate is a share from 0 to 1.",
            "max_value": "The audit rate is a share from 0 to 1 (0.02 is 2 %%).",
        },
    )
    reviewers = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Open batches short of k reviewers are given to these, round-robin.",
    )

    def __init__(self, *args, dataset: Dataset, **kwargs):
        initial = {name: getattr(dataset, name) for name in self.base_fields if name != "reviewers"}
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["reviewers"].queryset = User.objects.filter(is_active=True, role=User.Role.REVIEWER).order_by(
            "username"
        )

    def settings_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.fields if name != "reviewers"}
