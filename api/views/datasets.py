"""Datasets, their images, and imports over HTTP (admins only)."""

from django.shortcuts import get_object_or_404
from django.urls import path
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import IsVeilAdmin
from api.serializers.datasets import DatasetSerializer, ImageSerializer, ImportJobSerializer
from reviewer.models import Dataset, ImportJob
from reviewer.selectors.datasets import dataset_status_counts
from reviewer.services.errors import ServiceError
from reviewer.services.imports import import_queue
from reviewer.services.ingest import dataset_get_or_create


class DatasetListView(APIView):
    permission_classes = [IsVeilAdmin]

    def get(self, request):
        datasets = list(Dataset.objects.order_by("name"))
        context = {"counts": dataset_status_counts(datasets=datasets)}
        return Response({"results": DatasetSerializer(datasets, many=True, context=context).data})

    def post(self, request):
        dataset, created = dataset_get_or_create(name=str(request.data.get("name", "")), user=request.user)
        if not created:
            raise ServiceError(f"A dataset called {dataset.name!r} exists already.", code="exists")
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


class DatasetDetailView(generics.RetrieveAPIView):
    permission_classes = [IsVeilAdmin]
    serializer_class = DatasetSerializer
    queryset = Dataset.objects.all()

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if "pk" in self.kwargs:
            context["counts"] = dataset_status_counts(datasets=Dataset.objects.filter(pk=self.kwargs["pk"]))
        return context


class DatasetImagesView(generics.ListAPIView):
    permission_classes = [IsVeilAdmin]
    serializer_class = ImageSerializer

    def get_queryset(self):
        dataset = get_object_or_404(Dataset, pk=self.kwargs["pk"])
        images = dataset.images.order_by("relative_path")
        if self.request.query_params.get("status"):
            images = images.filter(status=self.request.query_params["status"])
        return images


class DatasetImportView(APIView):
    """POST multipart `files` (images or archives), optionally `paths` with each file's relative path.

    Answers 202 with the queued import; a worker imports it. GET /api/imports/<id>/ for its progress.
    """

    permission_classes = [IsVeilAdmin]
    parser_classes = [MultiPartParser]

    def post(self, request, pk: int):
        dataset = get_object_or_404(Dataset, pk=pk)
        files = request.FILES.getlist("files")
        if not files:
            raise ServiceError("Send at least one file in the multipart field 'files'.", code="no_files")
        job = import_queue(
            dataset=dataset,
            files=files,
            user=request.user,
            source=ImportJob.Source.API,
            paths=request.data.getlist("paths"),
        )
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailView(generics.RetrieveAPIView):
    permission_classes = [IsVeilAdmin]
    serializer_class = ImportJobSerializer
    queryset = ImportJob.objects.prefetch_related("rejections")


urlpatterns = [
    path("datasets/", DatasetListView.as_view(), name="api-dataset-list"),
    path("datasets/<int:pk>/", DatasetDetailView.as_view(), name="api-dataset-detail"),
    path("datasets/<int:pk>/images/", DatasetImagesView.as_view(), name="api-dataset-images"),
    path("datasets/<int:pk>/imports/", DatasetImportView.as_view(), name="api-dataset-import"),
    path("imports/<int:pk>/", ImportDetailView.as_view(), name="api-import-detail"),
]
