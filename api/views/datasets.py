"""Datasets, their images with proposals and candidates, and imports with their rejections (admins only)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from api.base import AdminListView, AdminView, get_or_404, validated
from api.filters import Filter
from api.serializers.datasets import (
    CandidateSerializer,
    DatasetCreateSerializer,
    DatasetSerializer,
    ImageSerializer,
    ImportJobSerializer,
    ImportRejectionSerializer,
    ImportUploadSerializer,
    ProposalSerializer,
)
from reviewer.errors import ServiceError
from reviewer.models import Dataset, Image, ImportJob, ImportRejection
from reviewer.selectors import datasets as datasets_selectors
from reviewer.selectors import detection as detection_selectors
from reviewer.selectors.datasets import dataset_status_counts
from reviewer.services.imports import import_queue
from reviewer.services.ingest import dataset_get_or_create

RUN_FILTER = Filter("run_id", "integer")
RUN_PARAMETER = OpenApiParameter("run", int, description="A detection run of the image's dataset (default: current).")


class DatasetListView(AdminListView):
    """The datasets with their image counts per status. POST {name}: create one (400 if the name is taken)."""

    serializer_class = DatasetSerializer
    ordering_fields = ("name", "id", "created_at")
    ordering = "name"

    def get_queryset(self):
        return datasets_selectors.datasets_all()

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        counts = dataset_status_counts(datasets=page)
        return self.get_paginated_response(DatasetSerializer(page, many=True, context={"counts": counts}).data)

    @extend_schema(request=DatasetCreateSerializer, responses={201: DatasetSerializer})
    def post(self, request):
        data = validated(DatasetCreateSerializer, request.data)
        dataset, created = dataset_get_or_create(name=data["name"], user=request.user)
        if not created:
            raise ServiceError(f"A dataset called {dataset.name!r} exists already.", code="exists")
        counts = dataset_status_counts(datasets=[dataset])
        return Response(DatasetSerializer(dataset, context={"counts": counts}).data, status=status.HTTP_201_CREATED)


class DatasetDetailView(AdminView):
    @extend_schema(responses=DatasetSerializer)
    def get(self, request, pk: int):
        dataset = get_or_404(Dataset, pk)
        counts = dataset_status_counts(datasets=[dataset])
        return Response(DatasetSerializer(dataset, context={"counts": counts}).data)


class DatasetImagesView(AdminListView):
    """The dataset's images, in path order by default."""

    serializer_class = ImageSerializer
    filters = {
        "status": Filter("status", choices=tuple(Image.Status.values)),
        "is_gold": Filter("is_gold", "boolean"),
        "needs_second_look": Filter("needs_second_look", "boolean"),
    }
    ordering_fields = ("relative_path", "id")
    ordering = "relative_path"

    def get_queryset(self):
        return datasets_selectors.images_of_dataset(dataset=get_or_404(Dataset, self.kwargs["pk"]))


class ImageDetailView(AdminView):
    @extend_schema(responses=ImageSerializer)
    def get(self, request, pk: int):
        return Response(ImageSerializer(get_or_404(Image, pk)).data)


class ImageProposalsView(AdminListView):
    """The detector's proposals on one image (of the current run unless ?run= names another)."""

    serializer_class = ProposalSerializer
    ordering_fields = ("ordinal",)
    ordering = "ordinal"

    @extend_schema(parameters=[RUN_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        image = get_or_404(Image.objects.select_related("dataset"), self.kwargs["pk"])
        return detection_selectors.proposals_of_image(image=image, run_id=_run_param(self.request))


class ImageCandidatesView(ImageProposalsView):
    """Regions under the threshold or found only by a recall pass. Never blurred on their own."""

    serializer_class = CandidateSerializer

    def get_queryset(self):
        image = get_or_404(Image.objects.select_related("dataset"), self.kwargs["pk"])
        return detection_selectors.candidates_of_image(image=image, run_id=_run_param(self.request))


def _run_param(request) -> int | None:
    value = request.query_params.get("run")
    return RUN_FILTER.clean("run", value) if value else None


class DatasetImportsView(AdminListView):
    """GET: the dataset's imports, newest first. POST multipart `files` (images or archives), optionally
    `paths` with each file's relative path: import them; the job comes back with its counters and rejections."""

    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser]
    filters = {"status": Filter("status", choices=tuple(ImportJob.Status.values))}

    def get_queryset(self):
        return datasets_selectors.imports_of_dataset(dataset=get_or_404(Dataset, self.kwargs["pk"]))

    @extend_schema(request={"multipart/form-data": ImportUploadSerializer}, responses={202: ImportJobSerializer})
    def post(self, request, pk: int):
        dataset = get_or_404(Dataset, pk)
        files = request.FILES.getlist("files")
        if not files:
            raise ServiceError("Send at least one file in the multipart field 'files'.", code="no_files")
        paths = request.data.getlist("paths") if hasattr(request.data, "getlist") else []  # NUL: NulGuardMiddleware
        # The files go to storage and a worker imports them: GET the import for its progress.
        job = import_queue(dataset=dataset, files=files, user=request.user, source=ImportJob.Source.API, paths=paths)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailView(AdminView):
    @extend_schema(responses=ImportJobSerializer)
    def get(self, request, pk: int):
        return Response(ImportJobSerializer(get_or_404(ImportJob, pk, "import")).data)


class ImportRejectionsView(AdminListView):
    """Every file an import refused, with a stable reason code and a sentence."""

    serializer_class = ImportRejectionSerializer
    filters = {"reason": Filter("reason", choices=tuple(ImportRejection.Reason.values))}
    ordering = "id"

    def get_queryset(self):
        return datasets_selectors.rejections_of_import(import_job=get_or_404(ImportJob, self.kwargs["pk"], "import"))


urlpatterns = [
    path("datasets/", DatasetListView.as_view(), name="api-dataset-list"),
    path("datasets/<int:pk>/", DatasetDetailView.as_view(), name="api-dataset-detail"),
    path("datasets/<int:pk>/images/", DatasetImagesView.as_view(), name="api-dataset-images"),
    path("datasets/<int:pk>/imports/", DatasetImportsView.as_view(), name="api-dataset-import"),
    path("images/<int:pk>/", ImageDetailView.as_view(), name="api-image-detail"),
    path("images/<int:pk>/proposals/", ImageProposalsView.as_view(), name="api-image-proposals"),
    path("images/<int:pk>/candidates/", ImageCandidatesView.as_view(), name="api-image-candidates"),
    path("imports/<int:pk>/", ImportDetailView.as_view(), name="api-import-detail"),
    path("imports/<int:pk>/rejections/", ImportRejectionsView.as_view(), name="api-import-rejections"),
]
