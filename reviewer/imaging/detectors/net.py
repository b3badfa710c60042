"""The safety net's one search for faces the proposals may have missed: run once per image, at detection. Pure.

Two independent detectors look at the image: CenterFace's proposal pass, decoded down to REGION_FLOOR (its
regions under the proposal threshold come free with the proposals), and RetinaFace-MobileNet0.25 (a second
architecture, reviewer.imaging.detectors.retinaface) at SECOND_LONG_SIDE. Every region either one sees at
REGION_FLOOR or more, of MIN_HEIGHT px and more, that no proposal covers, is measured: each detector's best
score on it (a box overlapping it with IoU >= MATCH_IOU), and its height. Its *net score* ranks it:

    net score = max(CENTERFACE_WEIGHT x centerface score, retinaface score) x sqrt(height / 16 px)

(a face seen by either detector, taller faces first: a 16 px region scores its best detector's score.) A region
whose net score reaches MIN_NET_SCORE becomes a candidate, at most MAX_CANDIDATES per image, best first. The
form and the constants were chosen on the *tune* half of wider-dev (bench/safety_net.py --half tune prints the
whole trade-off: share of a lazy review's misses flagged against flags on no face per image, one row per
operating point), so the figures on the check half are not tuned on.

The bucket says which detectors saw the region: `agree` (both), `centerface`, `retinaface`. The release gate
weighs an open candidate by the measured share of faces among resolved candidates of its bucket.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from reviewer.imaging.detectors.base import CandidateRegion, Detection, finish
from reviewer.imaging.geometry import Box

SECOND_LONG_SIDE = 832  # RetinaFace's input long side: about 0.4x CenterFace's pass at 832 px (bench/safety_net.py)
REGION_FLOOR = 0.05  # scores from which a detector's box is a region worth measuring
MIN_HEIGHT = 10.0  # shorter regions are crowd specks: too many to show, too small to matter
MATCH_IOU = 0.4  # a detector "sees" a region when one of its boxes overlaps it this much
SAME_REGION_IOU = 0.3  # two regions this close are one place (the better scored one stands for it)
COVER_IOU = 0.3  # a proposal overlapping a region this much (or holding its centre) hides it already
CENTERFACE_WEIGHT = 2.0  # CenterFace's scores run about half RetinaFace's on the same faces (tune half)
MIN_NET_SCORE = 0.45  # tune half of wider-dev: 0.42 candidates on no face per image (bench/safety_net.py)
MAX_CANDIDATES = 16
BUCKETS = ("agree", "centerface", "retinaface")


def net_score(centerface: float, retinaface: float, height: float) -> float:
    """The evidence a region is a face (module docstring): the better detector's score, taller first."""
    return max(CENTERFACE_WEIGHT * centerface, retinaface) * math.sqrt(max(height, 0.0) / 16.0)


def bucket_of(centerface: float, retinaface: float) -> str:
    if centerface >= REGION_FLOOR and retinaface >= REGION_FLOOR:
        return "agree"
    return "centerface" if centerface >= REGION_FLOOR else "retinaface"


def best_scores(boxes: np.ndarray, scores: np.ndarray, box: Box) -> float:
    """The highest score of the rows of `boxes` overlapping `box` with IoU >= MATCH_IOU (0 when none)."""
    if len(boxes) == 0:
        return 0.0
    overlaps = ious(boxes, box)
    seen = overlaps >= MATCH_IOU
    return float(scores[seen].max()) if seen.any() else 0.0


def select_candidates(
    *,
    width: int,
    height: int,
    proposals: Sequence[Detection],
    first: tuple[np.ndarray, np.ndarray],
    second: tuple[np.ndarray, np.ndarray] | None,
    min_net_score: float = MIN_NET_SCORE,
    max_candidates: int = MAX_CANDIDATES,
) -> list[CandidateRegion]:
    """Candidates of one image from the first detector's boxes (`first`: CenterFace, every score from
    REGION_FLOOR; the proposals among them are skipped) and the second's (`second`: RetinaFace, or None when it
    did not run), in pixels of the image. Best net score first; each carries its evidence and bucket."""
    empty = (np.empty((0, 4), np.float32), np.empty(0, np.float32))
    first_boxes, first_scores = first
    second_boxes, second_scores = second if second is not None else empty
    pooled = [(d, "low_score") for d in _regions(first_boxes, first_scores, width, height)]
    pooled += [(d, "second_detector") for d in _regions(second_boxes, second_scores, width, height)]
    pooled.sort(key=lambda item: item[0].score, reverse=True)
    proposed = [p.box for p in proposals]
    kept: list[tuple[CandidateRegion, float]] = []
    places: list[Box] = []
    for det, source in pooled:
        box = det.box
        if box.height < MIN_HEIGHT or covers(box, proposed):
            continue
        if any(_iou(box, other) >= SAME_REGION_IOU for other in places):
            continue
        places.append(box)
        cf = best_scores(first_boxes, first_scores, box)
        rf = best_scores(second_boxes, second_scores, box) if second is not None else 0.0
        score = net_score(cf, rf, box.height)
        if score < min_net_score:
            continue
        evidence = {
            "centerface": round(cf, 4),
            "retinaface": round(rf, 4) if second is not None else None,
            "height": round(box.height, 1),
            "net_score": round(score, 4),
        }
        region = CandidateRegion(box, det.score, source, bucket=bucket_of(cf, rf), evidence=evidence)
        kept.append((region, score))
    kept.sort(key=lambda item: item[1], reverse=True)
    return [region for region, _ in kept[:max_candidates]]


def _regions(boxes: np.ndarray, scores: np.ndarray, width: int, height: int) -> list[Detection]:
    keep = scores >= REGION_FLOOR
    return finish(zip(boxes[keep].tolist(), scores[keep].tolist(), strict=True), width, height)


def ious(boxes: np.ndarray, box: Box) -> np.ndarray:
    b = np.asarray(box.as_list(), dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64)
    iw = np.maximum(0.0, np.minimum(b[2], boxes[:, 2]) - np.maximum(b[0], boxes[:, 0]))
    ih = np.maximum(0.0, np.minimum(b[3], boxes[:, 3]) - np.maximum(b[1], boxes[:, 1]))
    inter = iw * ih
    union = (b[2] - b[0]) * (b[3] - b[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _iou(a: Box, b: Box) -> float:
    return float(ious(np.asarray([b.as_list()]), a)[0])


def covers(region: Box, boxes: Sequence[Box]) -> bool:
    """A region some box hides: overlapping it (IoU >= COVER_IOU) or holding its centre."""
    cx, cy = (region.x0 + region.x1) / 2, (region.y0 + region.y1) / 2
    return any(_iou(region, b) >= COVER_IOU or (b.x0 <= cx <= b.x1 and b.y0 <= cy <= b.y1) for b in boxes)
