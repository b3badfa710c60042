"""The leak check of an export: what may still show a face in an exported image, found without searching again.

Two looks, one detector pass per image:
- the detector runs once on each exported image, as the user will download it (encoded, decoded again). A face
  found on an approved box itself (not merely in the margin its blur reached; classify_leak) is a *residual*
  face: the blur did not hide it.
- the image's stored regions (the candidates its detection run kept with their evidence: the safety net's one
  search, reviewer.imaging.detectors.net) are compared with the approved boxes: an open candidate no approved
  box covers is listed as a possible *missed* face, with the candidate's score. The originals are never searched
  again here.
A face the output's pass finds outside every box is listed as missed only for an image the net never searched
(no done result in the dataset's current detection run: imported approved boxes, say), only from MIN_HEIGHT px,
and never where a person said there is no face (reviewer.selectors.safety.not_a_face_regions). Elsewhere it adds
nothing but noise: outside the boxes the output's pixels are the original's, so its finds there are the
proposals people already judged, plus what the blur of neighbouring faces makes look like one (on the tune half
of wider-dev approved with its true boxes, 0.42 such finds per image of 10 px and more, none a face).

Each find becomes a Leak row with a small crop of the output for the export page, in the exports storage.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from reviewer import policies
from reviewer.errors import Conflict, ServiceError
from reviewer.imaging.geometry import Box, iou
from reviewer.imaging.loading import load_pixels
from reviewer.models import Candidate, DetectionResult, Export, Image, Leak
from reviewer.selectors.safety import is_dismissed, not_a_face_regions, open_candidates, same_place
from reviewer.services.approval import image_send_back
from reviewer.services.audit import audit_record
from reviewer.services.export_files import export_storage, leak_crop_name
from reviewer.services.safety import second_look_update

LEAK_THUMBNAIL_SIZE = 160
RESIDUAL_IOU = 0.3  # a find this close to an approved box, centred in it, is that box's face (classify_leak)
RESIDUAL_HELD_SHARE = 0.5  # a find holding this much of a box is a face larger than its box...
RESIDUAL_HOLDING_SCORE = 0.5  # ...when it scores this much (tune half: blur smudges holding a box score < 0.4)
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


def classify_leak(found: Box, boxes: list[Box], *, score: float = 1.0) -> str:
    """Residual when the blur of an approved box did not hide the face it was drawn on: the detection sits on the
    box itself (IoU >= RESIDUAL_IOU with its centre inside the box, not merely inside the blur's margin), or it
    holds at least half of the box and scores RESIDUAL_HOLDING_SCORE or more (a face larger than its box: a box
    over the eyes only). Otherwise a possible missed face.

    Not the blur's margin: on the tune half of wider-dev approved with its true boxes, 15 of the 20 finds the old
    rule (centre anywhere the blur reached) called residual were off every box (a detection spanning blurred
    neighbours, the smudge a blurred crowd face leaves), 14 of them on no face, all scoring under 0.4; the 5 on
    a box itself were all on a face. So the rule reads neither the blur mode nor its margin.
    """
    cx, cy = (found.x0 + found.x1) / 2, (found.y0 + found.y1) / 2
    for box in boxes:
        if iou(found, box) >= RESIDUAL_IOU and box.x0 <= cx <= box.x1 and box.y0 <= cy <= box.y1:
            return Leak.Kind.RESIDUAL
        area = (box.x1 - box.x0) * (box.y1 - box.y0)
        held = _intersection(found, box) / area if area > 0 else 0.0
        if held >= RESIDUAL_HELD_SHARE and score >= RESIDUAL_HOLDING_SCORE:
            return Leak.Kind.RESIDUAL
    return Leak.Kind.MISSED


def _intersection(a: Box, b: Box) -> float:
    return max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))


@dataclass
class LeakFinds:
    """What the leak check found in one image, before any row is written: Leak rows not saved yet, and the
    output's pixels their crops are cut from."""

    leaks: list[Leak]
    pixels: Any


def leaks_detect(*, image: Image, boxes: list[Box], output: bytes, detector, mode: str) -> LeakFinds:
    """One detector pass on the encoded `output` of `image` (an unsaved Leak per residual face it finds, and per
    missed one on an image the net never searched), and the image's open candidates no box of `boxes` covers (see
    the module docstring). Writes nothing: the export runs it outside its transaction and saves the finds with
    leaks_save. The original is not searched: the safety net's search ran once, at detection. `mode` (the blur
    the export used) is taken for callers; what counts as residual does not depend on it (classify_leak)."""
    from reviewer.imaging.detectors.net import MIN_HEIGHT

    pixels = load_pixels(io.BytesIO(output))
    dismissed = not_a_face_regions([image.pk]).get(image.pk, [])
    searched = DetectionResult.objects.filter(
        image=image, run_id=image.dataset.current_detection_run_id, status=DetectionResult.Status.DONE
    ).exists()
    leaks = []
    for det in detector.detect(pixels):
        kind = classify_leak(det.box, boxes, score=det.score)
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


# --- resolving the finds ------------------------------------------------------------------------------------


def leak_dismiss(*, leak: Leak, actor) -> Leak:
    """An admin's word that a leak-check find is not a face: it stops flagging its image and holding releases.

    Writes the leak's resolution, who and when, an audit event, and the image's second-look mark.
    Refuses: a non-admin (Forbidden); a leak already resolved (Conflict).
    """
    policies.require_admin(actor, "resolve leak-check finds")
    with transaction.atomic():
        locked = Leak.objects.select_for_update().get(pk=leak.pk)
        if locked.resolution:
            raise Conflict(f"That find was already resolved ({locked.resolution}).", code="resolved")
        locked.resolution, locked.resolved_by, locked.resolved_at = "not_a_face", actor, timezone.now()
        locked.save(update_fields=["resolution", "resolved_by", "resolved_at"])
        audit_record(actor=actor, verb="leak.dismissed", obj=locked, image=locked.image_id, kind=locked.kind)
        second_look_update(image_ids=[locked.image_id])
    return locked


@dataclass
class SendBackResult:
    sent_back: list[int] = field(default_factory=list)  # image ids
    skipped: list[int] = field(default_factory=list)  # images that could not go back (never reviewed)


def leaks_send_back(*, export: Export, actor, leak_ids: Iterable[int] | None = None) -> SendBackResult:
    """Send the images of an export's open leak-check finds back to review, in one action.

    `leak_ids=None` takes every open find of the export (all flagged at once); otherwise those finds (one
    image, singly). Each image goes through image_send_back (its approval and reviews retired, back in the
    reviewers' queues, audit event with the reason); each possibly missed face becomes a candidate of the
    current run (source recall_pass) so the reviewer sees where to look. Refuses: a non-admin (Forbidden);
    ids that are not open finds of this export (ServiceError).
    """
    policies.require_admin(actor, "send images back to review")
    leaks = Leak.objects.filter(export=export, resolution="").select_related("image", "image__dataset")
    if leak_ids is not None:
        wanted = {int(i) for i in leak_ids}
        leaks = leaks.filter(pk__in=wanted)
        if {leak.pk for leak in leaks} != wanted:
            raise ServiceError("Some of those finds are not open finds of this export.", code="unknown_leak")
    by_image: dict[int, list[Leak]] = defaultdict(list)
    for leak in leaks.order_by("image_id", "id"):
        by_image[leak.image_id].append(leak)
    result = SendBackResult()
    for image_id, finds in by_image.items():
        image = finds[0].image
        if image.status in (Image.Status.NEW, Image.Status.DETECTED):
            result.skipped.append(image_id)
            continue
        with transaction.atomic():
            _candidates_from_leaks(image, finds)
            reason = f"leak check of export {export.pk}: " + ", ".join(
                f"{leak.kind} face at [{', '.join(f'{v:.0f}' for v in leak.box.as_list())}]" for leak in finds
            )
            image_send_back(image=image, actor=actor, reason=reason)
        result.sent_back.append(image_id)
    return result


def _candidates_from_leaks(image: Image, finds: list[Leak]) -> None:
    """Possibly missed faces as candidates of the current run, so the review page shows the reviewer where."""
    run_id = image.dataset.current_detection_run_id
    if run_id is None:
        return
    existing = list(Candidate.objects.filter(run_id=run_id, image=image))
    ordinal = max((c.ordinal for c in existing), default=-1) + 1
    rows = []
    for leak in finds:
        if leak.kind != Leak.Kind.MISSED or any(iou(c.box, leak.box) >= 0.5 for c in existing):
            continue
        row = Candidate(run_id=run_id, image=image, ordinal=ordinal, score=leak.score,
                        source=Candidate.Source.RECALL_PASS)  # fmt: skip
        row.set_box(leak.box)
        rows.append(row)
        ordinal += 1
    Candidate.objects.bulk_create(rows)
