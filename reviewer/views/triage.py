"""The triage page: a dataset's open flags as a grid of crops, strongest evidence first, resolved one key each
(F: a face, send the image back; X: not a face), a keyset page at a time."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from reviewer.forms import form_error_text
from reviewer.forms.triage import FlagResolveForm
from reviewer.models import Dataset
from reviewer.services.errors import ServiceError
from reviewer.services.triage import Cursor, flag_resolve, triage_flags
from reviewer.views.access import admin_required


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
    wants_json = "application/json" in request.headers.get("Accept", "")
    back = reverse("dataset-triage", args=[dataset.pk])
    form = FlagResolveForm(request.POST)
    if not form.is_valid():
        detail = form_error_text(form)
        if wants_json:
            return JsonResponse({"detail": detail}, status=400)
        messages.error(request, detail)
        return redirect(back)
    data = form.cleaned_data
    try:
        sent_back = flag_resolve(
            dataset=dataset, kind=data["kind"], pk=data["flag"], resolution=data["resolution"], actor=request.user
        )
    except ServiceError as exc:
        if wants_json:
            return JsonResponse({"detail": exc.message}, status=exc.http_status)
        messages.error(request, exc.message)
        return redirect(back)
    if wants_json:
        return JsonResponse({"sent_back": sent_back})
    messages.success(request, "Sent back to review." if sent_back else "Marked as not a face.")
    return redirect(back)


urlpatterns = [
    path("datasets/<int:dataset_id>/triage", dataset_triage, name="dataset-triage"),
    path("datasets/<int:dataset_id>/triage/resolve", dataset_triage_resolve, name="dataset-triage-resolve"),
]
