"""Face detectors as pure code: pixels in, scored boxes out. No Django here.

    from reviewer.imaging.detectors import Detection, get_detector
    detector = get_detector("centerface", threshold=0.2, long_side=832, thorough=False)
    detections = detector.detect(pixels)  # H x W x 3 RGB uint8, as reviewer.imaging.loading.load_pixels gives
    detector.describe()                   # name, version, weights_sha256, settings

Weights and libraries load lazily, once per process, on the first `detect`.
"""

from __future__ import annotations

from typing import Any

from reviewer.imaging.detectors.base import Detection, Detector, DetectorError

DETECTOR_NAMES = ("centerface", "yunet", "rekognition")
DEFAULT_DETECTOR = "centerface"


def get_detector(name: str = DEFAULT_DETECTOR, **options: Any) -> Detector:
    """A detector by name with its settings. Raises DetectorError for an unknown name or bad settings."""
    key = (name or "").strip().lower()
    if key == "centerface":
        from reviewer.imaging.detectors.centerface import CenterFaceDetector

        return CenterFaceDetector(**options)
    if key == "yunet":
        from reviewer.imaging.detectors.yunet import YuNetDetector

        return YuNetDetector(**options)
    if key == "rekognition":
        from reviewer.imaging.detectors.rekognition import RekognitionDetector

        return RekognitionDetector(**options)
    raise DetectorError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")


__all__ = ["DEFAULT_DETECTOR", "DETECTOR_NAMES", "Detection", "Detector", "DetectorError", "get_detector"]
