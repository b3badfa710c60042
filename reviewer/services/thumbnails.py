"""Renditions of originals for the browser: thumbnails and a display copy when the original cannot be shown as is."""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from reviewer.imaging.loading import open_displayed
from reviewer.models import Image

# Browsers show these as they are, applying the EXIF orientation themselves (CSS image-orientation: from-image).
# The content type is named here, not taken from Pillow's registry: PIL.Image.MIME lacks WEBP until the WebP
# plugin happens to be loaded, and a WebP sent as application/octet-stream is not shown.
BROWSER_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


def _rendition_name(image: Image, kind: str, suffix: str) -> str:
    return f"renditions/{image.dataset_id}/{image.sha256[:2]}/{image.sha256}-{kind}{suffix}"


def _displayed(image: Image) -> PILImage.Image:
    with image.file.open("rb") as fh:
        return open_displayed(fh, max_pixels=settings.VEIL_MAX_IMAGE_PIXELS)


def _store(name: str, picture: PILImage.Image, **save_kwargs) -> None:
    buf = io.BytesIO()
    picture.save(buf, **save_kwargs)
    default_storage.save(name, ContentFile(buf.getvalue()))


def image_thumbnail_get(*, image: Image) -> tuple[str, str]:
    """The storage name and content type of the image's thumbnail, made on first use (displayed orientation)."""
    size = settings.VEIL_THUMBNAIL_SIZE
    name = _rendition_name(image, f"thumb{size}", ".jpg")
    if not default_storage.exists(name):
        displayed = _displayed(image)
        displayed.thumbnail((size, size), PILImage.Resampling.LANCZOS)
        _store(name, displayed, format="JPEG", quality=85)
    return name, "image/jpeg"


def image_thumbnail_write(*, image: Image, pixels) -> bool:
    """Write the image's thumbnail from pixels already decoded (detection has them), unless it exists.

    Pages that list images (the approval queue, the dataset grid) then find their thumbnails made instead of
    decoding every original on their first visit. Returns whether it wrote one.
    """
    size = settings.VEIL_THUMBNAIL_SIZE
    name = _rendition_name(image, f"thumb{size}", ".jpg")
    if default_storage.exists(name):
        return False
    picture = PILImage.fromarray(pixels)
    picture.thumbnail((size, size), PILImage.Resampling.LANCZOS)
    _store(name, picture, format="JPEG", quality=85)
    return True


def image_display_get(*, image: Image) -> tuple[str, str]:
    """What the review canvas loads: the original when a browser shows it correctly, otherwise a PNG copy.

    The copy has the EXIF orientation applied and no tag, so it is image.width x image.height either way.
    """
    if image.format in BROWSER_FORMATS:
        return image.file.name, BROWSER_FORMATS[image.format]
    name = _rendition_name(image, "display", ".png")
    if not default_storage.exists(name):
        _store(name, _displayed(image), format="PNG")
    return name, "image/png"
