"""Exports over HTTP (admins only): start one, list a dataset's, follow one's progress and leaks."""

from django.shortcuts import get_object_or_404
from django.urls import path
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import IsVeilAdmin
from api.serializers.export import ExportSerializer, LeakSerializer
from reviewer import policies
from reviewer.models import Dataset, Export
from reviewer.selectors.export import export_leaks, exports_for_dataset
from reviewer.services.errors import Forbidden
from reviewer.services.export import export_start


class DatasetExportsView(APIView):
    """GET: the dataset's exports, newest first. POST: start one; body = options (blur, archive, annotations,
    jpeg_quality, leak_check, leak_threshold, fail_on_residual), all optional, and override_gate: the reason to
    export although the release gate refuses (409 with the estimate and what to look at otherwise)."""

    permission_classes = [IsVeilAdmin]

    def get(self, request, pk: int):
        dataset = get_object_or_404(Dataset, pk=pk)
        return Response({"results": ExportSerializer(exports_for_dataset(dataset)[:100], many=True).data})

    def post(self, request, pk: int):
        dataset = get_object_or_404(Dataset, pk=pk)
        options = dict(request.data.items()) if hasattr(request.data, "items") else {}
        if hasattr(request.data, "getlist") and request.data.getlist("annotations"):
            options["annotations"] = request.data.getlist("annotations")
        override = options.pop("override_gate", None)
        export = export_start(dataset=dataset, options=options, user=request.user, gate_override=override)
        return Response(ExportSerializer(export).data, status=status.HTTP_201_CREATED)


class ExportDetailView(APIView):
    permission_classes = [IsVeilAdmin]

    def get(self, request, pk: int):
        export = get_object_or_404(Export.objects.select_related("created_by"), pk=pk)
        if not policies.can_download_export(request.user, export):
            raise Forbidden("You may not see this export.")
        data = ExportSerializer(export).data
        data["leaks"] = LeakSerializer(export_leaks(export)[:500], many=True).data
        return Response(data)


urlpatterns = [
    path("datasets/<int:pk>/exports/", DatasetExportsView.as_view(), name="api-dataset-exports"),
    path("exports/<int:pk>/", ExportDetailView.as_view(), name="api-export-detail"),
]
