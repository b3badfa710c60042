"""Amazon Rekognition DetectFaces through boto3, as the ImageNet team used. Optional: needs AWS credentials.

Rekognition gives boxes as fractions of the image that may run past its edges (a face cut by the border),
confidences of 0-100, and at most 100 faces per image: an image with more is flagged in the log by the
caller through `last_truncated`, since a missed face is a leak.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from reviewer.imaging.detectors.base import Detection, Detector, DetectorError, check_pixels, finish
from reviewer.imaging.detectors.centerface import parse_number

MAX_FACES = 100
MAX_BYTES = 5 * 1024 * 1024  # the API's limit for image bytes sent inline


def encode_jpeg(pixels: np.ndarray) -> bytes:
    """JPEG bytes under the API's size limit, shrinking the quality (then the size) until they fit.

    Boxes come back as fractions, so a smaller image still maps back onto the original pixels.
    """
    from PIL import Image

    img = Image.fromarray(pixels)
    for quality in (95, 85, 75):
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality)
        if buf.tell() <= MAX_BYTES:
            return buf.getvalue()
    while True:
        img = img.resize((max(1, img.width * 3 // 4), max(1, img.height * 3 // 4)))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=75)
        if buf.tell() <= MAX_BYTES:
            return buf.getvalue()


class RekognitionDetector(Detector):
    name = "rekognition"

    def __init__(self, *, client=None, threshold: float = 0.2, region_name: str | None = None, **ignored: Any):
        # long_side / thorough are accepted and ignored: the service picks its own input size.
        threshold = parse_number(threshold, "threshold", float)
        if not 0.0 < threshold < 1.0:
            raise DetectorError(f"threshold must lie between 0 and 1 (exclusive); got {threshold}")
        self.threshold = float(threshold)
        self.region_name = region_name
        self._client = client
        self.last_truncated = False

    @property
    def client(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("rekognition", region_name=self.region_name)
        return self._client

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        from botocore.exceptions import BotoCoreError, ClientError

        width, height = check_pixels(pixels)
        try:
            response = self.client.detect_faces(Image={"Bytes": encode_jpeg(pixels)}, Attributes=["DEFAULT"])
        except (BotoCoreError, ClientError) as exc:
            raise DetectorError(f"Rekognition DetectFaces failed: {exc}") from exc
        faces = response.get("FaceDetails", [])
        self.last_truncated = len(faces) >= MAX_FACES
        scored = []
        for face in faces:
            score = float(face.get("Confidence", 0.0)) / 100.0
            if score < self.threshold:
                continue
            bb = face["BoundingBox"]
            x0, y0 = float(bb["Left"]) * width, float(bb["Top"]) * height
            scored.append(((x0, y0, x0 + float(bb["Width"]) * width, y0 + float(bb["Height"]) * height), score))
        return finish(scored, width, height)

    def describe(self) -> dict[str, Any]:
        import boto3

        return {
            "name": self.name,
            "version": f"aws rekognition DetectFaces; boto3 {boto3.__version__}",
            "weights_sha256": "",
            "settings": {"threshold": self.threshold, "region_name": self.region_name, "max_faces": MAX_FACES},
        }
