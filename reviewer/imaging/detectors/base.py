"""What every detector shares: the Detection record, the interface, and the clean-up of raw boxes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reviewer.imaging.geometry import Box, clamp


class DetectorError(Exception):
    """A detector that cannot run as configured (missing weights, bad settings). Not a per-image failure."""


@dataclass(frozen=True, slots=True)
class Detection:
    """One proposed face: a box in pixels of the image given to `detect`, and a score in [0, 1]."""

    box: Box
    score: float


def check_pixels(pixels: np.ndarray) -> tuple[int, int]:
    """Refuse anything but the loader's output (H x W x 3 uint8), which is what boxes are measured on."""
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        shape = getattr(pixels, "shape", None)
        dtype = getattr(pixels, "dtype", None)
        raise ValueError(f"a detector takes H x W x 3 uint8 RGB pixels; got shape {shape}, dtype {dtype}")
    height, width = pixels.shape[:2]
    if height < 1 or width < 1:
        raise ValueError(f"image has no pixels ({width}x{height})")
    return width, height


def finish(scored: Iterable[tuple[Sequence[float], float]], width: int, height: int) -> list[Detection]:
    """Clamp raw boxes to the image, drop what is left empty, and sort by score, highest first.

    Boxes under a pixel once clamped are dropped rather than refused: the model may put a sliver on the
    edge, and the database refuses empty boxes.
    """
    out: list[Detection] = []
    for values, score in scored:
        box = Box(*(float(v) for v in values))
        if not all(math.isfinite(v) for v in box.as_list()) or not math.isfinite(score):
            continue
        box = clamp(box, width, height)
        if box.width < 1.0 or box.height < 1.0:
            continue
        out.append(Detection(box=box, score=min(max(float(score), 0.0), 1.0)))
    out.sort(key=lambda d: d.score, reverse=True)
    return out


def nms_arrays(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, highest score first (vectorised per kept box)."""
    if len(boxes) == 0:
        return np.empty(0, dtype=np.int64)
    x0, y0, x1, y1 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]))
        ih = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]))
        inter = iw * ih
        union = areas[i] + areas[rest] - inter
        overlap = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        order = rest[overlap < iou_threshold]
    return np.asarray(keep, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class CandidateRegion:
    """A region that may be a face but is not proposed: under the threshold (`low_score`), found only by a
    recall pass (`recall_pass`) or by the second detector (`second_detector`). Shown to people for a second
    look; never blurred on its own."""

    box: Box
    score: float
    source: str = "low_score"
    bucket: str = ""  # which detectors saw it (reviewer.imaging.detectors.net.BUCKETS); "" when not measured
    evidence: dict = field(default_factory=dict)  # each detector's score on it, its height, its net score


@dataclass(frozen=True)
class DetectionSet:
    """What one image gives: proposals (sorted by score) and candidates (sorted by score, none overlapping a
    proposal)."""

    proposals: list[Detection]
    candidates: list[CandidateRegion]


def overlap_of_smaller(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Intersection over the smaller area, of `box` against every row of `boxes`."""
    iw = np.maximum(0.0, np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]))
    ih = np.maximum(0.0, np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]))
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    own = max(box[2] - box[0], 0) * max(box[3] - box[1], 0)
    smaller = np.minimum(areas, own)
    return np.where(smaller > 0, iw * ih / np.where(smaller > 0, smaller, 1), 0.0)


def merge_stacked(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices kept when a box mostly inside a better-scored one is dropped (one face, one proposal).

    Plain NMS keeps a face's box and the larger head box around it (their IoU is low); measured on
    wider-dev, dropping a box whose intersection covers `threshold` of the smaller one removes those stacks
    without losing a face.
    """
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    for i in order:
        if keep and overlap_of_smaller(boxes[keep], boxes[i]).max() >= threshold:
            continue
        keep.append(int(i))
    return np.asarray(keep, dtype=np.int64)


class Detector:
    """The interface: `detect(pixels) -> list[Detection]`, sorted by score, boxes clamped to the image.

    `detect_all(pixels)` adds the candidates for a second look; detectors that have none return an empty list.
    """

    name = "detector"

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        raise NotImplementedError

    def detect_all(self, pixels: np.ndarray) -> DetectionSet:
        return DetectionSet(proposals=self.detect(pixels), candidates=[])

    def describe(self) -> dict[str, Any]:
        """Name, version (library and weights), weights hash and settings: what a run records to be reproducible."""
        raise NotImplementedError
