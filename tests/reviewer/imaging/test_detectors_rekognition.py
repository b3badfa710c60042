"""Amazon Rekognition, with AWS stubbed by botocore's Stubber: the real service cannot be reached from here."""

from __future__ import annotations

import boto3
import numpy as np
import pytest
from botocore.stub import ANY, Stubber

from reviewer.imaging.detectors import DetectorError, get_detector
from reviewer.imaging.geometry import Box


@pytest.fixture
def client():
    return boto3.client("rekognition", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


def _face(left, top, width, height, confidence):
    return {"BoundingBox": {"Left": left, "Top": top, "Width": width, "Height": height}, "Confidence": confidence}


def test_fractions_become_pixels_clamped_to_the_image_and_confidence_a_score(client):
    pixels = np.zeros((200, 400, 3), np.uint8)
    response = {
        "FaceDetails": [
            _face(0.25, 0.1, 0.1, 0.2, 87.0),
            _face(-0.05, 0.9, 0.2, 0.25, 99.5),  # runs past the left and bottom edges
            _face(0.5, 0.5, 0.1, 0.1, 12.0),  # under the threshold
        ]
    }
    with Stubber(client) as stub:
        stub.add_response("detect_faces", response, {"Image": {"Bytes": ANY}, "Attributes": ["DEFAULT"]})
        detector = get_detector("rekognition", client=client, threshold=0.2)
        detections = detector.detect(pixels)
        stub.assert_no_pending_responses()

    assert [d.score for d in detections] == pytest.approx([0.995, 0.87])
    assert detections[0].box == pytest.approx(Box(0.0, 180.0, 60.0, 200.0))
    assert detections[1].box == pytest.approx(Box(100.0, 20.0, 140.0, 60.0))
    assert detector.last_truncated is False


def test_a_full_page_of_100_faces_is_flagged_as_possibly_truncated(client):
    faces = [_face((i % 10) / 10, (i // 10) / 10, 0.05, 0.05, 90.0) for i in range(100)]
    with Stubber(client) as stub:
        stub.add_response("detect_faces", {"FaceDetails": faces}, {"Image": {"Bytes": ANY}, "Attributes": ["DEFAULT"]})
        detector = get_detector("rekognition", client=client)
        detections = detector.detect(np.zeros((100, 100, 3), np.uint8))

    assert len(detections) == 100
    assert detector.last_truncated is True


def test_a_service_error_is_a_detector_error_with_its_reason(client):
    with Stubber(client) as stub:
        stub.add_client_error("detect_faces", service_error_code="InvalidImageFormatException", service_message="bad")
        detector = get_detector("rekognition", client=client)
        with pytest.raises(DetectorError, match="InvalidImageFormatException"):
            detector.detect(np.zeros((10, 10, 3), np.uint8))


def test_describe_names_the_service():
    described = get_detector("rekognition", client=object(), threshold=0.5).describe()

    assert described["name"] == "rekognition"
    assert "rekognition" in described["version"]
    assert described["settings"]["threshold"] == 0.5
