"""Private image files. Nothing under MEDIA_ROOT has a public URL: every byte goes through a right check here.

A user who may not see an image gets 404, the same answer as for an image that does not exist, so ids leak nothing.
"""

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path
from django.views.decorators.http import require_GET

from reviewer import policies
from reviewer.imaging.loading import ImageRejected
from reviewer.models import Image
from reviewer.services.thumbnails import image_display_get, image_thumbnail_get


def _visible_image(request, image_id: int) -> Image:
    image = get_object_or_404(Image.objects.select_related("dataset"), pk=image_id)
    if not policies.can_view_image(request.user, image):
        raise Http404("No such image.")
    return image


def _private_response(name: str, content_type: str, *, download_name: str | None = None) -> FileResponse:
    try:
        fh = default_storage.open(name, "rb")
    except FileNotFoundError as exc:
        raise Http404("The file of this image is missing from storage.") from exc
    response = FileResponse(fh, content_type=content_type, as_attachment=False, filename=download_name)
    # Private data: never in a shared cache; a browser may keep it for the session.
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def image_original(request, image_id: int):
    image = _visible_image(request, image_id)
    content_type = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}.get(
        image.format, "application/octet-stream"
    )
    return _private_response(image.file.name, content_type, download_name=image.relative_path.rsplit("/", 1)[-1])


def _rendition_response(request, image_id: int, make) -> FileResponse:
    image = _visible_image(request, image_id)
    try:
        name, content_type = make(image=image)
    except ImageRejected as exc:
        raise Http404(f"This image cannot be shown: {exc.message}") from exc
    return _private_response(name, content_type)


@login_required
@require_GET
def image_display(request, image_id: int):
    return _rendition_response(request, image_id, image_display_get)


@login_required
@require_GET
def image_thumbnail(request, image_id: int):
    return _rendition_response(request, image_id, image_thumbnail_get)


urlpatterns = [
    path("images/<int:image_id>/original", image_original, name="image-original"),
    path("images/<int:image_id>/display", image_display, name="image-display"),
    path("images/<int:image_id>/thumbnail", image_thumbnail, name="image-thumbnail"),
]
