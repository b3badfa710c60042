"""The leak check of an export: the detector runs again on each exported image, as the user will download it.

A face found overlapping an approved box is a residual face (the blur did not hide it); one found elsewhere is a
possible missed face. Both become Leak rows with a small crop for the export page, in the exports storage.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile

from reviewer.imaging.blur import region
from reviewer.imaging.geometry import Box, iou
from reviewer.imaging.loading import load_pixels
from reviewer.models import Export, Image, Leak
from reviewer.services.export_files import export_storage, leak_crop_name

LEAK_THUMBNAIL_SIZE = 160
_detectors: dict[tuple, Any] = {}


def leak_detector(threshold: float):
    """The default detector at the leak check's threshold, built once per process."""
    from reviewer.imaging.detectors import get_detector
    from reviewer.services.detection import detector_options

    key = (settings.VEIL_DETECTOR, threshold, settings.VEIL_DETECTION_LONG_SIDE)
    if key not in _detectors:
        options = detector_options(detector=settings.VEIL_DETECTOR, settings={"threshold": threshold})
        _detectors[key] = get_detector(settings.VEIL_DETECTOR, **options)
    return _detectors[key]


def classify_leak(found: Box, boxes: list[Box], width: int, height: int, mode: str) -> str:
    """Residual when the detection overlaps an approved box (IoU >= 0.3, or its centre inside the region the
    blur covered for that box); otherwise a possible missed face."""
    cx, cy = (found.x0 + found.x1) / 2, (found.y0 + found.y1) / 2
    for box in boxes:
        covered = region(box, width, height, mode=mode)
        if iou(found, box) >= 0.3 or (covered.x0 <= cx <= covered.x1 and covered.y0 <= cy <= covered.y1):
            return Leak.Kind.RESIDUAL
    return Leak.Kind.MISSED


def leaks_find(*, export: Export, image: Image, boxes: list[Box], output: bytes, detector, mode: str) -> list[Leak]:
    """Run `detector` on the encoded `output` of `image` and write a Leak row (and a crop) per face it finds."""
    # The check runs on what the user downloads: the encoded file, decoded again.
    pixels = load_pixels(io.BytesIO(output))
    leaks = []
    for det in detector.detect(pixels):
        leak = Leak(export=export, image=image, kind=classify_leak(det.box, boxes, image.width, image.height, mode),
                    score=det.score)  # fmt: skip
        leak.set_box(det.box)
        leaks.append(leak)
    leaks = Leak.objects.bulk_create(leaks)
    for leak in leaks:
        _save_leak_thumbnail(leak, pixels)
    return leaks


def _save_leak_thumbnail(leak: Leak, pixels) -> None:
    from PIL import Image as PILImage

    height, width = pixels.shape[:2]
    box = leak.box
    pad = max(16.0, 0.5 * box.longest_side)
    x0, y0 = max(0, int(box.x0 - pad)), max(0, int(box.y0 - pad))
    x1, y1 = min(width, int(box.x1 + pad) + 1), min(height, int(box.y1 + pad) + 1)
    crop = PILImage.fromarray(pixels[y0:y1, x0:x1])
    crop.thumbnail((LEAK_THUMBNAIL_SIZE, LEAK_THUMBNAIL_SIZE))
    buf = io.BytesIO()
    crop.save(buf, format="JPEG", quality=85)
    # Through the exports storage, so the web process can show a crop that a worker on another machine made.
    export_storage().save(leak_crop_name(leak), ContentFile(buf.getvalue()))
