"""A dataset's settings page: k, gold per batch, lease length, release bound, audit rate."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path

from reviewer.errors import ServiceError
from reviewer.forms.datasets import DatasetSettingsForm
from reviewer.models import Dataset
from reviewer.services.dataset_settings import dataset_settings_update
from reviewer.views.access import admin_required

LABELS = {
    "reviews_required": "reviews per image",
    "gold_per_batch": "gold per batch",
    "lease_seconds": "lease length",
    "release_bound": "release bound",
    "audit_rate": "audit rate",
}


@admin_required
def dataset_settings_page(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    if request.method != "POST":
        return render(request, "reviewer/dataset/settings.html", {"dataset": dataset, "form": _form(dataset)})
    form = _form(dataset, request.POST)
    if form.is_valid():
        try:
            change = dataset_settings_update(
                dataset=dataset, actor=request.user, reviewers=list(form.cleaned_data["reviewers"]),
                **form.settings_values(),
            )  # fmt: skip
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _summary(change))
            if change.batches_short:
                k = change.dataset.reviews_required
                messages.warning(
                    request,
                    f"{change.batches_short} open batch{'es have' if change.batches_short != 1 else ' has'} fewer "
                    f"than {k} reviewers: choose reviewers below so every image gets its {k} reviews.",
                )
            return redirect("dataset-settings", dataset.pk)
    return render(request, "reviewer/dataset/settings.html", {"dataset": dataset, "form": form}, status=400)


def _form(dataset, data=None):
    return DatasetSettingsForm(data, dataset=dataset)


def _summary(change) -> str:
    if not change.changed and not change.assignments:
        return "Nothing changed."
    parts = [f"{LABELS[name]} {_shown(before)} → {_shown(after)}" for name, (before, after) in change.changed.items()]
    text = "Saved: " + "; ".join(parts) + "." if parts else "Saved."
    if change.reopened:
        text += f" {change.reopened} image{'s' if change.reopened != 1 else ''} back in review for more reviews."
    if change.completed:
        text += f" {change.completed} image{'s' if change.completed != 1 else ''} now ready for approval."
    if change.assignments:
        given = ", ".join(f"{a.batch.name} to {a.reviewer.username}" for a in change.assignments[:10])
        more = f" and {len(change.assignments) - 10} more" if len(change.assignments) > 10 else ""
        text += f" Batches given: {given}{more}."
    return text


def _shown(value) -> str:
    return "default" if value is None else str(value)


urlpatterns = [path("datasets/<int:dataset_id>/settings/", dataset_settings_page, name="dataset-settings")]
