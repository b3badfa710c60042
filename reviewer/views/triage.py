"""The triage page: a dataset's open flags as a grid of crops, strongest evidence first, resolved one key each
(F: a face, send the image back; X: not a face), a keyset page at a time."""

from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.http import require_POST

from reviewer.forms.triage import FlagResolveForm
from reviewer.models import Dataset
from reviewer.selectors.triage import Cursor, triage_flags
from reviewer.services.triage import flag_resolve
from reviewer.views.access import admin_required
from reviewer.views.actions import page_action


@admin_required
def dataset_triage(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    after = Cursor.decode(request.GET.get("after"))
    flags, cursor = triage_flags(dataset=dataset, after=after)
    return render(
        request,
        "reviewer/safety/triage.html",
        {"dataset": dataset, "flags": flags, "after": after, "next_after": cursor.encode() if cursor else ""},
    )


@admin_required
@require_POST
def dataset_triage_resolve(request, dataset_id: int):
    """JSON for the page's script ({"sent_back": [image ids]} or {"detail"}); a plain form post lands back on
    the page with a message."""
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    return page_action(
        request,
        back=("dataset-triage", dataset.pk),
        form=FlagResolveForm(request.POST),
        run=lambda data: flag_resolve(
            dataset=dataset, kind=data["kind"], pk=data["flag"], resolution=data["resolution"], actor=request.user
        ),
        done=lambda sent_back: "Sent back to review." if sent_back else "Marked as not a face.",
        as_json=lambda sent_back: {"sent_back": sent_back},
    )


urlpatterns = [
    path("datasets/<int:dataset_id>/triage", dataset_triage, name="dataset-triage"),
    path("datasets/<int:dataset_id>/triage/resolve", dataset_triage_resolve, name="dataset-triage-resolve"),
]
