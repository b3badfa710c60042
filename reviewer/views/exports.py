"""Export pages: start an export from the dataset page, watch it, see its leaks, download the archive."""

from pathlib import Path

from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.http import require_POST

from reviewer import policies
from reviewer.errors import NotFound
from reviewer.forms.pipeline import ExportStartForm
from reviewer.models import Dataset, Export, Leak
from reviewer.selectors.export import export_leaks, export_progress
from reviewer.services.export import export_retry, export_start
from reviewer.services.export_files import export_output_open, export_storage, is_folder_output, leak_crop_name
from reviewer.views.access import admin_required
from reviewer.views.actions import page_action


@admin_required
@require_POST
def export_create(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    form = ExportStartForm(request.POST)  # checked by the export service's rules, as the API's serializer is
    return page_action(
        request,
        back=("dataset-detail", dataset.pk),
        form=form,
        run=lambda data: export_start(
            dataset=dataset, options=form.options(), user=request.user, gate_override=data["override_gate"]
        ),
        done=lambda export: f"Export {export.pk} of {export.images_total} approved images is queued.",
        to=lambda export: ("export-detail", export.pk),
        queued=lambda exc: ("export-detail", exc.extra["export"]),  # saved as queued; its page says so and shows it
    )


@admin_required
def export_page(request, export_id: int):
    export = get_object_or_404(Export.objects.select_related("dataset", "created_by"), pk=export_id)
    return render(
        request,
        "reviewer/export/detail.html",
        {
            "export": export,
            "progress": export_progress(export),
            "leaks": export_leaks(export),
            "folder_output": is_folder_output(export),
        },
    )


def _downloadable_export(request, export_id: int) -> Export:
    """The export, if this user may download it. Anyone else gets the 404 of a missing export, so an id does not
    tell whether it exists (anonymous users are sent to log in before this)."""
    export = Export.objects.filter(pk=export_id).first()
    if export is None or not policies.can_download_export(request.user, export):
        raise Http404("No such export.")
    return export


@admin_required
@require_POST
def export_retry_view(request, export_id: int):
    export = get_object_or_404(Export.objects.select_related("dataset"), pk=export_id)
    return page_action(
        request,
        back=("export-detail", export_id),
        run=lambda _: export_retry(export=export, user=request.user),
        done=lambda export: f"Export {export.pk} is rendering again: only what failed is redone.",
        queued=lambda _exc: ("export-detail", export_id),
    )


def export_download(request, export_id: int, member: str | None = None):
    """The archive (zip, tar), or one file of a folder output (a shard, the manifest, an image) by its path."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    export = _downloadable_export(request, export_id)
    try:
        archive = export_output_open(export, member)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    response = FileResponse(archive, as_attachment=True, filename=Path(member or export.file_name).name)
    if export.file_size is not None and member is None:
        response["Content-Length"] = str(export.file_size)
    return response


def leak_thumbnail(request, export_id: int, leak_id: int):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    export = _downloadable_export(request, export_id)
    leak = get_object_or_404(Leak, pk=leak_id, export=export)
    storage = export_storage()
    if not storage.exists(leak_crop_name(leak)):
        raise Http404("No crop was kept for this leak.")
    response = FileResponse(storage.open(leak_crop_name(leak), "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


urlpatterns = [
    path("datasets/<int:dataset_id>/exports/new", export_create, name="export-start"),
    path("exports/<int:export_id>/", export_page, name="export-detail"),
    path("exports/<int:export_id>/download", export_download, name="export-download"),
    path("exports/<int:export_id>/files/<path:member>", export_download, name="export-file"),
    path("exports/<int:export_id>/retry", export_retry_view, name="export-retry"),
    path("exports/<int:export_id>/leaks/<int:leak_id>.jpg", leak_thumbnail, name="export-leak-thumbnail"),
]
