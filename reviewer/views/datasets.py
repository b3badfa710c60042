"""Admin pages for datasets: the list with counts per status, a dataset's images, and imports."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from reviewer.errors import ServiceError, UploadNotStored
from reviewer.forms import form_error_text
from reviewer.forms.pipeline import DatasetCreateForm, ExportStartForm
from reviewer.jobs import BrokerUnavailable
from reviewer.models import Dataset, Image, ImportJob
from reviewer.selectors.datasets import dataset_images, dataset_list, dataset_recent_imports, dataset_status_counts
from reviewer.services.imports import import_queue
from reviewer.services.ingest import dataset_get_or_create
from reviewer.views.access import admin_required
from reviewer.views.params import int_param

IMAGES_PER_PAGE = 60


@admin_required
def datasets_page(request):
    return render(request, "reviewer/dataset/list.html", {"datasets": dataset_list(), "statuses": Image.Status})


@admin_required
@require_POST
def dataset_create(request):
    """Create a dataset (or open the one of that name), importing any files sent with the form."""
    form = DatasetCreateForm(request.POST)
    try:
        if not form.is_valid():
            raise ServiceError(form_error_text(form), code="invalid_name")
        dataset, created = dataset_get_or_create(name=form.cleaned_data["name"], user=request.user)
    except ServiceError as exc:
        if _wants_json(request):
            return JsonResponse({"detail": exc.message}, status=400)
        messages.error(request, exc.message)
        return redirect("dataset-list")
    if request.FILES.getlist("files"):
        return _import_response(request, dataset)
    if not created:
        messages.info(request, f"A dataset called {dataset.name!r} exists already; here it is.")
    return redirect("dataset-detail", dataset.pk)


@admin_required
def dataset_page(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    status = request.GET.get("status") or None
    if status not in Image.Status.values:
        status = None
    after = int_param(request.GET.get("after"))
    page = list(dataset_images(dataset=dataset, status=status, after=after)[: IMAGES_PER_PAGE + 1])
    next_after = page[IMAGES_PER_PAGE - 1].pk if len(page) > IMAGES_PER_PAGE else None
    page = page[:IMAGES_PER_PAGE]
    return render(
        request,
        "reviewer/dataset/detail.html",
        {
            "dataset": dataset,
            "counts": dataset_status_counts(datasets=[dataset]).get(dataset.pk, {}),
            "statuses": Image.Status.choices,
            "status": status,
            "page": page,
            "after": after,
            "next_after": next_after,
            "imports": dataset_recent_imports(dataset=dataset),
            "export_form": ExportStartForm(),
        },
    )


@admin_required
@require_POST
def dataset_import(request, dataset_id: int):
    """Upload images and archives into an existing dataset."""
    return _import_response(request, get_object_or_404(Dataset, pk=dataset_id))


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _import_response(request, dataset: Dataset):
    """Answers JSON to the page's uploader and redirects a plain form post."""
    files = request.FILES.getlist("files")
    wants_json = _wants_json(request)
    if not files:
        if wants_json:
            return JsonResponse({"detail": "Choose at least one image or archive to import."}, status=400)
        messages.error(request, "Choose at least one image or archive to import.")
        return redirect("dataset-detail", dataset.pk)
    # The files go to storage and a worker imports them; the import's page shows its progress.
    try:
        job = import_queue(
            dataset=dataset,
            files=files,
            user=request.user,
            source=ImportJob.Source.PAGE,
            paths=request.POST.getlist("paths"),
        )
    except UploadNotStored as exc:  # the server's disk refused the files: nothing was kept, and it says why
        if wants_json:
            return JsonResponse({"detail": exc.message, "code": exc.code}, status=exc.http_status)
        messages.error(request, exc.message)
        return redirect("dataset-detail", dataset.pk)
    except BrokerUnavailable as exc:  # the files are stored and the import kept as queued; its page says so
        url = reverse("import-detail", args=[exc.extra["import_id"]])
        if wants_json:
            return JsonResponse({"detail": exc.message, "import": exc.extra["import_id"], "url": url}, status=503)
        messages.warning(request, exc.message)
        return redirect(url)
    url = reverse("import-detail", args=[job.pk])
    if wants_json:
        return JsonResponse({"import": job.pk, **_progress(job), "url": url}, status=202)
    return redirect(url)


def _progress(job: ImportJob) -> dict:
    return {
        "status": job.status,
        "files_seen": job.files_seen,
        "imported": job.imported_count if job.status == ImportJob.Status.DONE else None,
        "duplicates": job.duplicate_count,
        "duplicate_names": [d["name"] for d in job.duplicate_names],
        "rejected": job.rejected_count,
        "error": job.error,
        "finished": job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED),
    }


@admin_required
def import_progress(request, import_id: int):
    """What the import page polls: the job's counters as the database has them."""
    job = get_object_or_404(ImportJob, pk=import_id)
    return JsonResponse(_progress(job))


@admin_required
def import_page(request, import_id: int):
    job = get_object_or_404(ImportJob.objects.select_related("dataset"), pk=import_id)
    images = job.image_set.order_by("relative_path")
    paginator = Paginator(images, IMAGES_PER_PAGE)
    return render(
        request,
        "reviewer/dataset/import.html",
        {"job": job, "dataset": job.dataset, "rejections": job.rejections.all(), "page": paginator.get_page(1)},
    )


urlpatterns = [
    path("datasets/", datasets_page, name="dataset-list"),
    path("datasets/new", dataset_create, name="dataset-create"),
    path("datasets/<int:dataset_id>/", dataset_page, name="dataset-detail"),
    path("datasets/<int:dataset_id>/import", dataset_import, name="dataset-import"),
    path("imports/<int:import_id>/", import_page, name="import-detail"),
    path("imports/<int:import_id>/progress", import_progress, name="import-progress"),
]
