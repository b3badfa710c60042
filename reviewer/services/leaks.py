"""The leak check of an export: the detector runs again on each exported image, as the user will download it.

A face found overlapping an approved box is a residual face (the blur did not hide it); one found elsewhere is a
possible missed face. Both become Leak rows with a small crop for the export page, in the exports storage.

Missed faces are also looked for on the original, harder (the detector's `missed_regions`: five views, a region
no approved box covers kept when the views agree): the blur of the boxes around a face that nobody boxed erases
the context the detector needs to see it in the output (on wider-dev, of the 21 faces of 16 px+ a lazy reviewer
misses, the same views and rule flag 13 run on the output, 17 run on the original), and a release is checked
once, so it can afford the views (bench/safety_net.py prints their time against the output's pass alone).
A find there in the same place as one of the output's finds is that find, not a second one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile

from reviewer.imaging.blur import region
from reviewer.imaging.geometry import Box, iou
from reviewer.imaging.loading import load_pixels
from reviewer.models import Export, Image, Leak
from reviewer.services.export_files import export_storage, leak_crop_name
from reviewer.services.safety import same_place

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


@dataclass
class LeakFinds:
    """What the leak check found in one image, before any row is written: Leak rows not saved yet, and the
    output's pixels their crops are cut from."""

    leaks: list[Leak]
    pixels: Any


def leaks_detect(
    *, image: Image, boxes: list[Box], output: bytes, detector, mode: str, source: bytes | None = None
) -> LeakFinds:
    """Run `detector` on the encoded `output` of `image` (one unsaved Leak per face it finds); with the `source`
    (the original's bytes) and a detector that has `missed_regions`, add the possibly missed faces its views agree
    on (see the module docstring). Writes nothing: the export runs it outside its transaction (the views take a
    second or two per image) and saves the finds with leaks_save."""
    # The check runs on what the user downloads: the encoded file, decoded again.
    pixels = load_pixels(io.BytesIO(output))
    leaks = []
    for det in detector.detect(pixels):
        leak = Leak(image=image, kind=classify_leak(det.box, boxes, image.width, image.height, mode), score=det.score)
        leak.set_box(det.box)
        leaks.append(leak)
    if source is not None and hasattr(detector, "missed_regions"):
        found = [leak.box for leak in leaks]
        for region in detector.missed_regions(load_pixels(io.BytesIO(source)), boxes):
            if any(same_place(region.box, box) for box in found):
                continue
            leak = Leak(image=image, kind=Leak.Kind.MISSED, score=region.score)
            leak.set_box(region.box)
            leaks.append(leak)
    return LeakFinds(leaks=leaks, pixels=pixels)


def leaks_save(*, export: Export, finds: LeakFinds) -> list[Leak]:
    """Write the Leak rows of `finds` for `export` (one INSERT) and a crop of each in the exports storage."""
    for leak in finds.leaks:
        leak.export = export
    leaks = Leak.objects.bulk_create(finds.leaks)
    for leak in leaks:
        _save_leak_thumbnail(leak, finds.pixels)
    return leaks


def leaks_find(
    *, export: Export, image: Image, boxes: list[Box], output: bytes, detector, mode: str, source: bytes | None = None
) -> list[Leak]:
    """leaks_detect, then leaks_save: the Leak rows (and crops) of one image."""
    finds = leaks_detect(image=image, boxes=boxes, output=output, detector=detector, mode=mode, source=source)
    return leaks_save(export=export, finds=finds)


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
