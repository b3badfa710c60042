"""The leak check of an export: what may still show a face in an exported image, found without searching again.

Two looks, one detector pass per image:
- the detector runs once on each exported image, as the user will download it (encoded, decoded again). A face
  found overlapping an approved box is a *residual* face: the blur did not hide it.
- the image's stored regions (the candidates its detection run kept with their evidence: the safety net's one
  search, reviewer.imaging.detectors.net) are compared with the approved boxes: an open candidate no approved
  box covers is listed as a possible *missed* face, with the candidate's score. The originals are never searched
  again here.
A face the output's pass finds outside every box is listed as missed only for an image the net never searched
(no done result in the dataset's current detection run: imported approved boxes, say), only from MIN_HEIGHT px,
and never where a person said there is no face (reviewer.services.safety.not_a_face_regions). Elsewhere it adds
nothing but noise: outside the boxes the output's pixels are the original's, so its finds there are the
proposals people already judged, plus what the blur of neighbouring faces makes look like one (on the tune half
of wider-dev approved with its true boxes, 0.42 such finds per image of 10 px and more, none a face).

Each find becomes a Leak row with a small crop of the output for the export page, in the exports storage.
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
from reviewer.models import DetectionResult, Export, Image, Leak
from reviewer.services.export_files import export_storage, leak_crop_name
from reviewer.services.safety import is_dismissed, same_place

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
    """One detector pass on the encoded `output` of `image` (an unsaved Leak per residual face it finds, and per
    missed one on an image the net never searched), and the image's open candidates no box of `boxes` covers (see
    the module docstring). Writes nothing: the export runs it outside its transaction and saves the finds with
    leaks_save.

    `source` (the original's bytes) is accepted and not read: the originals are not searched at export any more;
    the search ran once, at detection."""
    from reviewer.imaging.detectors.net import MIN_HEIGHT
    from reviewer.services.safety import not_a_face_regions, open_candidates

    pixels = load_pixels(io.BytesIO(output))
    dismissed = not_a_face_regions([image.pk]).get(image.pk, [])
    searched = DetectionResult.objects.filter(
        image=image, run_id=image.dataset.current_detection_run_id, status=DetectionResult.Status.DONE
    ).exists()
    leaks = []
    for det in detector.detect(pixels):
        kind = classify_leak(det.box, boxes, image.width, image.height, mode)
        if kind == Leak.Kind.MISSED and (searched or det.box.height < MIN_HEIGHT or is_dismissed(det.box, dismissed)):
            continue
        leak = Leak(image=image, kind=kind, score=det.score)
        leak.set_box(det.box)
        leaks.append(leak)
    found = [leak.box for leak in leaks]
    for candidate in open_candidates([image], boxes={image.pk: boxes}).get(image.pk, []):
        if any(same_place(candidate.box, box) for box in found):
            continue
        leak = Leak(image=image, kind=Leak.Kind.MISSED, score=candidate.score)
        leak.set_box(candidate.box)
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
