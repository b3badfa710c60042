"""Exports over HTTP (admins only): start one, list a dataset's, follow one's progress and leaks, download it.

An export id answers the same 404 to anyone who may not see it, whether or not it exists, so ids leak nothing.
"""

from __future__ import annotations

from django.http import FileResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from api.base import AdminListView, SignedInView, get_or_404, validated
from api.filters import Filter
from api.permissions import IsSignedIn
from api.serializers.export import ExportDetailSerializer, ExportSerializer, ExportStartSerializer, LeakSerializer
from reviewer import policies
from reviewer.models import Dataset, Export, Leak
from reviewer.selectors import export as export_selectors
from reviewer.services.export import export_retry, export_start
from reviewer.services.export_files import export_output_open

NO_SUCH_EXPORT = "No such export."


def visible_export(request, pk: int) -> Export:
    """The export if this user may see it; one NotFound for a missing export and a forbidden one alike."""
    export = Export.objects.select_related("created_by", "dataset").filter(pk=pk).first()
    if export is None or not policies.can_download_export(request.user, export):
        raise NotFound(NO_SUCH_EXPORT)
    return export


class DatasetExportsView(AdminListView):
    """GET: the dataset's exports, newest first. POST: start one over its approved images (409 when none is
    approved, or when the release gate refuses without `override_gate`); every option is optional."""

    serializer_class = ExportSerializer
    filters = {"status": Filter("status", choices=tuple(Export.Status.values))}

    def get_queryset(self):
        return export_selectors.exports_for_dataset(get_or_404(Dataset, self.kwargs["pk"]))

    @extend_schema(request=ExportStartSerializer, responses={201: ExportSerializer})
    def post(self, request, pk: int):
        dataset = get_or_404(Dataset, pk)
        start = validated(ExportStartSerializer, request.data)
        export = export_start(
            dataset=dataset, options=start["options"], user=request.user, gate_override=start["override_gate"]
        )
        return Response(ExportSerializer(export).data, status=status.HTTP_201_CREATED)


class ExportDetailView(SignedInView):
    """One export's options and progress, with its chunks' states. 404 for a user who may not see it (admins only
    today)."""

    @extend_schema(responses=ExportDetailSerializer)
    def get(self, request, pk: int):
        return Response(ExportDetailSerializer(visible_export(request, pk)).data)


class ExportLeaksView(AdminListView):
    """Faces the leak check still found in the exported images: residual (inside a box) or possibly missed."""

    serializer_class = LeakSerializer
    permission_classes = [IsSignedIn]
    filters = {"kind": Filter("kind", choices=tuple(Leak.Kind.values))}
    ordering = "id"

    def get_queryset(self):
        return export_selectors.export_leaks(visible_export(self.request, self.kwargs["pk"]))


class ExportDownloadView(SignedInView):
    """The finished archive (zip or tar) as an attachment; 404 before it is done or for anyone not allowed."""

    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The archive."),
            (200, "application/x-tar"): OpenApiResponse(OpenApiTypes.BINARY, description="The archive."),
        }
    )
    def get(self, request, pk: int, member: str | None = None):
        export = visible_export(request, pk)
        archive = export_output_open(export, member)  # NotFound (404) with the sentence
        if member is not None:
            return FileResponse(archive, as_attachment=True, filename=member.rsplit("/", 1)[-1])
        content_type = "application/x-tar" if export.file_name.endswith(".tar") else "application/zip"
        name = export.file_name.rsplit("/", 1)[-1]
        return FileResponse(archive, as_attachment=True, filename=name, content_type=content_type)


class ExportFileView(ExportDownloadView):
    """One file of a folder-layout export (a WebDataset shard, manifest.jsonl, an image by its output path)."""


class ExportRetryView(SignedInView):
    """POST: retry a failed export from where it stopped (its failed chunks, or its assembly); admins only.
    409 for an export that has not failed or never got its chunks."""

    @extend_schema(request=None, responses={200: ExportSerializer})
    def post(self, request, pk: int):
        export = visible_export(request, pk)
        return Response(ExportSerializer(export_retry(export=export, user=request.user)).data)


urlpatterns = [
    path("datasets/<int:pk>/exports/", DatasetExportsView.as_view(), name="api-dataset-exports"),
    path("exports/<int:pk>/", ExportDetailView.as_view(), name="api-export-detail"),
    path("exports/<int:pk>/leaks/", ExportLeaksView.as_view(), name="api-export-leaks"),
    path("exports/<int:pk>/download/", ExportDownloadView.as_view(), name="api-export-download"),
    path("exports/<int:pk>/files/<path:member>", ExportFileView.as_view(), name="api-export-file"),
    path("exports/<int:pk>/retry/", ExportRetryView.as_view(), name="api-export-retry"),
]
