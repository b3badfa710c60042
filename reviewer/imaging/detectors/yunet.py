"""YuNet through cv2.FaceDetectorYN, when the admin points Veil at its ONNX file (not shipped with Veil)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from reviewer.imaging.detectors.base import Detection, Detector, DetectorError, check_pixels, finish
from reviewer.imaging.detectors.centerface import input_size, parse_number, weights_sha256

_models: dict[tuple[str, float, float], Any] = {}
_lock = threading.Lock()


class YuNetDetector(Detector):
    name = "yunet"

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        threshold: float = 0.2,
        long_side: int = 832,
        thorough: bool = False,
        nms_iou: float = 0.3,
        top_k: int = 5000,
    ):
        if not model_path:
            raise DetectorError("YuNet needs model_path: the path of its ONNX file (set VEIL_YUNET_MODEL)")
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise DetectorError(f"YuNet model not found at {self.model_path}")
        threshold = parse_number(threshold, "threshold", float)
        long_side = parse_number(long_side, "long_side", int)
        if not 0.0 < threshold < 1.0:
            raise DetectorError(f"threshold must lie between 0 and 1 (exclusive); got {threshold}")
        if not 32 <= int(long_side) <= 4096:
            raise DetectorError(f"long_side must be between 32 and 4096 px; got {long_side}")
        self.threshold = float(threshold)
        self.long_side = int(long_side)
        self.thorough = bool(thorough)  # YuNet has no thorough mode; kept so a run's settings read the same
        self.nms_iou = float(nms_iou)
        self.top_k = int(top_k)

    def _model(self):
        import cv2

        key = (str(self.model_path.resolve()), self.threshold, self.nms_iou)
        if key not in _models:
            try:
                _models[key] = cv2.FaceDetectorYN.create(
                    key[0], "", (320, 320), self.threshold, self.nms_iou, self.top_k
                )
            except cv2.error as exc:
                raise DetectorError(f"OpenCV cannot read the YuNet model {key[0]}: {exc}") from exc
        return _models[key]

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        import cv2

        width, height = check_pixels(pixels)
        new_w, new_h = input_size(width, height, self.long_side)
        resized = cv2.resize(pixels, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        bgr = cv2.cvtColor(resized, cv2.COLOR_RGB2BGR)  # YuNet was trained on BGR
        model = self._model()
        with _lock:
            model.setInputSize((new_w, new_h))
            _, faces = model.detect(bgr)
        if faces is None:
            return []
        sx, sy = new_w / width, new_h / height
        scored = [
            ((x / sx, y / sy, (x + w) / sx, (y + h) / sy), float(row[-1])) for row in faces for x, y, w, h in [row[:4]]
        ]
        return finish(scored, width, height)

    def describe(self) -> dict[str, Any]:
        import cv2

        return {
            "name": self.name,
            "version": f"opencv {cv2.__version__}; weights {self.model_path.name}",
            "weights_sha256": weights_sha256(self.model_path),
            "settings": {
                "threshold": self.threshold,
                "long_side": self.long_side,
                "thorough": self.thorough,
                "nms_iou": self.nms_iou,
                "model_path": str(self.model_path),
            },
        }
