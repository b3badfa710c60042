"""Blur modes, judged on pixels: what is inside a box changes, what lies outside every region does not."""

import numpy as np
import pytest

from reviewer.imaging.blur import BLUR_MODES, blur, region
from reviewer.imaging.geometry import Box


def textured(width=320, height=240, seed=1):
    """Sharp random detail everywhere, so any blur shows as a drop in local contrast."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def detail(pixels, box):
    """Mean absolute difference between horizontal neighbours inside `box`: high when sharp, low when blurred."""
    x0, y0, x1, y1 = (int(v) for v in box.as_list())
    patch = pixels[y0:y1, x0:x1].astype(np.int16)
    return float(np.abs(np.diff(patch, axis=1)).mean())


def untouched_outside(before, after, boxes, mode):
    height, width = before.shape[:2]
    outside = np.ones((height, width), dtype=bool)
    for box in boxes:
        r = region(box, width, height, mode=mode)
        outside[int(np.floor(r.y0)) : int(np.ceil(r.y1)), int(np.floor(r.x0)) : int(np.ceil(r.x1))] = False
    assert outside.any()
    return np.array_equal(before[outside], after[outside])


@pytest.mark.parametrize("mode", ["gaussian", "pixelate", "fill"])
def test_inside_the_box_changes_and_nothing_outside_its_region(mode):
    pixels = textured()
    face = Box(100, 60, 160, 130)
    out = blur(pixels, [face], mode=mode)
    assert out.shape == pixels.shape
    assert out.dtype == np.uint8
    assert detail(out, face) < 0.15 * detail(pixels, face)
    assert untouched_outside(pixels, out, [face], mode)
    assert not np.shares_memory(out, pixels)


def test_gaussian_covers_every_pixel_of_the_box_fully():
    """The box itself gets the full blur: no pixel of it keeps a trace of its own sharp value."""
    pixels = textured()
    face = Box(100.4, 60.6, 159.5, 129.2)
    out = blur(pixels, [face], mode="gaussian")
    x0, y0, x1, y1 = 100, 60, 160, 130  # every pixel the box touches, even partly
    inside = out[y0:y1, x0:x1].astype(np.int16)
    # Fully blurred random noise sits near its mean; a pixel half-blended with the original would not.
    assert np.abs(inside - 127).max() < 40
    assert detail(out, Box(x0, y0, x1, y1)) < 2


def test_gaussian_feathers_outward_without_a_hard_edge():
    pixels = np.zeros((200, 200, 3), dtype=np.uint8)
    pixels[:, 100:] = 255  # a vertical edge through the face's box
    face = Box(70, 70, 130, 130)
    out = blur(pixels, [face], mode="gaussian").astype(np.int16)
    r = region(face, 200, 200, mode="gaussian")
    row = out[100, :, 0]
    # Along the row through the face, the change from the original grows gradually into the core.
    change = np.abs(row - pixels[100, :, 0].astype(np.int16))
    left_band = change[int(r.x0) : 70 - int(0.3 * 60)]
    assert left_band.max() < 128
    assert change[int(r.x0) - 1] == 0


def test_each_box_is_blurred_with_its_own_strength_small_face_beside_large():
    """ImageNet's single sigma (0.1 x the largest box) barely touches a small face; the default does not."""
    pixels = textured(400, 300)
    large, small = Box(20, 20, 220, 260), Box(300, 40, 320, 62)
    out = blur(pixels, [large, small], mode="gaussian")
    imagenet = blur(pixels, [large, small], mode="imagenet")
    assert detail(out, small) < 0.15 * detail(pixels, small)
    assert detail(out, large) < 0.15 * detail(pixels, large)
    assert detail(imagenet, small) > detail(out, small)
    assert untouched_outside(pixels, out, [large, small], "gaussian")


@pytest.mark.parametrize("mode", BLUR_MODES)
@pytest.mark.parametrize(
    "face",
    [Box(0, 0, 40, 50), Box(280, 190, 320, 240), Box(-10, 100, 30, 150), Box(300, -5, 330, 30)],
    ids=["top-left", "bottom-right", "past-left", "past-top-right"],
)
def test_boxes_at_and_past_the_edges(mode, face):
    pixels = textured()
    out = blur(pixels, [face], mode=mode)
    visible = Box(max(face.x0, 0), max(face.y0, 0), min(face.x1, 320), min(face.y1, 240))
    assert detail(out, visible) < 0.5 * detail(pixels, visible)
    if mode != "imagenet":
        assert untouched_outside(pixels, out, [face], mode)


@pytest.mark.parametrize("mode", ["gaussian", "pixelate", "fill"])
def test_overlapping_boxes_are_both_blurred(mode):
    pixels = textured()
    a, b = Box(80, 60, 150, 140), Box(120, 90, 190, 170)
    out = blur(pixels, [a, b], mode=mode)
    assert detail(out, a) < 0.15 * detail(pixels, a)
    assert detail(out, b) < 0.15 * detail(pixels, b)
    assert untouched_outside(pixels, out, [a, b], mode)


def test_imagenet_mode_leaves_far_pixels_and_blurs_with_the_largest_box_sigma():
    pixels = textured()
    face = Box(100, 80, 150, 130)
    out = blur(pixels, [face], mode="imagenet")
    assert np.array_equal(out[:, 250:], pixels[:, 250:])  # far from the mask: the original, exactly
    assert detail(out, Box(110, 90, 140, 120)) < 0.3 * detail(pixels, face)


@pytest.mark.parametrize("mode", BLUR_MODES)
def test_no_boxes_returns_an_identical_copy(mode):
    pixels = textured()
    out = blur(pixels, [], mode=mode)
    assert np.array_equal(out, pixels)
    assert not np.shares_memory(out, pixels)


def test_unknown_mode_and_wrong_pixels_are_refused():
    with pytest.raises(ValueError, match="unknown blur mode 'smudge'"):
        blur(textured(), [Box(1, 1, 5, 5)], mode="smudge")
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        blur(np.zeros((10, 10), dtype=np.uint8), [])
