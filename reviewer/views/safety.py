"""The safety net's admin pages: an image drawn with its boxes and what the net found on it, the actions on
leak-check finds (send back to review, singly or all at once; dismiss as not a face), and starting a blind audit
(the release gate's evidence beside gold images)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.http import require_POST

from reviewer.errors import ServiceError
from reviewer.forms.workflow import AuditStartForm
from reviewer.models import Dataset, Export, Image, Leak
from reviewer.selectors.safety import REASON_LABELS, image_flags
from reviewer.services.blind_audit import audit_start
from reviewer.services.gate import gate_snapshot_write
from reviewer.services.leaks import leak_dismiss, leaks_send_back
from reviewer.views.access import admin_required
from reviewer.views.actions import page_action


@admin_required
def image_second_look(request, image_id: int):
    """The display copy with, in original pixels: final boxes, flagged regions (candidates, leak and audit finds)."""
    image = get_object_or_404(Image.objects.select_related("dataset"), pk=image_id)
    flags = image_flags([image])[image.pk]
    leaks = Leak.objects.filter(image=image).select_related("export").order_by("-export_id", "id")[:50]
    reasons = [(r["count"], REASON_LABELS.get(r["code"], r["code"])) for r in image.second_look_reasons]
    return render(
        request,
        "reviewer/safety/image.html",
        {"image": image, "boxes": flags.boxes, "regions": flags.regions, "leaks": leaks, "reasons": reasons,
         "export_id": request.GET.get("export", "")},
    )  # fmt: skip


@admin_required
@require_POST
def export_leaks_send_back(request, export_id: int):
    export = get_object_or_404(Export, pk=export_id)
    ids = None if request.POST.get("all") == "1" else request.POST.getlist("leak")

    def run(_):
        if ids is not None and not ids:
            raise ServiceError("Choose a find to send back, or send back all of them.")
        try:
            return leaks_send_back(export=export, actor=request.user, leak_ids=ids)
        except ValueError as exc:  # an id that is not a number
            raise ServiceError("Those finds are not finds of this export.") from exc

    def done(result) -> list:
        sent = len(result.sent_back)
        said = [f"{sent} image{'s' if sent != 1 else ''} sent back to review."]
        if result.skipped:
            said.append(
                (messages.WARNING, f"{len(result.skipped)} image(s) were not reviewed yet and stay where they are.")
            )
        return said

    return page_action(request, back=("export-detail", export.pk), run=run, done=done)


@admin_required
@require_POST
def export_leak_dismiss(request, export_id: int, leak_id: int):
    leak = get_object_or_404(Leak, pk=leak_id, export_id=export_id)
    return page_action(
        request,
        back=("export-detail", export_id),
        run=lambda _: leak_dismiss(leak=leak, actor=request.user),
        done="Marked as not a face: it no longer flags the image or holds a release.",
    )


@admin_required
@require_POST
def dataset_audit_start(request, dataset_id: int):
    """Draw the audit sample and assign it; the release gate counts the faces the auditor finds that the approval
    missed. Lands on the dataset page with what was drawn, or why nothing was."""
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    form = AuditStartForm(request.POST)

    def done(batch) -> str:
        count = batch.items.count()
        return (
            f"{batch.name}: {count} approved image{'s' if count != 1 else ''} for "
            f"{form.cleaned_data['auditor'].username}, who will see them blind, on the review page. Faces they box "
            "that the approval missed count in the gate."
        )

    return page_action(
        request,
        back=("dataset-detail", dataset.pk),
        form=form,
        run=lambda data: audit_start(dataset=dataset, auditor=data["auditor"], actor=request.user, rate=data["rate"]),
        done=done,
    )


@admin_required
@require_POST
def dataset_gate_recompute(request, dataset_id: int):
    """Estimate the release gate of a large dataset now (about 2 s at ImageNet's size) and keep it."""
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    return page_action(
        request,
        back=("dataset-detail", dataset.pk),
        run=lambda _: gate_snapshot_write(dataset=dataset),
        done=lambda report: f"Recomputed. {report.reason}",
    )


urlpatterns = [
    path("datasets/<int:dataset_id>/release-gate/recompute", dataset_gate_recompute, name="dataset-gate-recompute"),
    path("datasets/<int:dataset_id>/audit/start", dataset_audit_start, name="dataset-audit-start"),
    path("images/<int:image_id>/second-look", image_second_look, name="image-second-look"),
    path("exports/<int:export_id>/leaks/send-back", export_leaks_send_back, name="export-leaks-send-back"),
    path("exports/<int:export_id>/leaks/<int:leak_id>/dismiss", export_leak_dismiss, name="export-leak-dismiss"),
]
