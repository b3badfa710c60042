import io

import numpy as np
import pytest
from PIL import Image

from reviewer.imaging.loading import ImageRejected, load_pixels, probe
from tests.images import (
    corrupt_jpeg_bytes,
    encode,
    jpeg_bytes,
    pixels,
    png_bomb_bytes,
    png_bytes,
    stored_for_orientation,
    truncated_jpeg_bytes,
)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied_and_sizes_are_as_displayed(orientation):
    displayed = np.zeros((30, 40, 3), dtype=np.uint8)
    displayed[:10, :10] = (255, 0, 0)  # a red square at the displayed top-left
    data = encode(stored_for_orientation(displayed, orientation), "PNG", orientation=orientation)

    info = probe(io.BytesIO(data))
    loaded = load_pixels(io.BytesIO(data))

    assert (info.width, info.height, info.orientation) == (40, 30, orientation)
    assert loaded.shape == (30, 40, 3)
    assert loaded[2, 2].tolist() == [255, 0, 0]
    assert loaded[25, 35].tolist() == [0, 0, 0]


def test_png_and_jpeg_are_accepted_with_their_format():
    assert probe(io.BytesIO(png_bytes(20, 10))).format == "PNG"
    assert probe(io.BytesIO(jpeg_bytes(20, 10))).format == "JPEG"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"just some text that is not an image", "not_an_image"),
        (b"", "not_an_image"),
        (truncated_jpeg_bytes(), "corrupt"),
        (corrupt_jpeg_bytes(), "corrupt"),
    ],
)
def test_bad_files_are_refused_with_a_reason(data, code):
    with pytest.raises(ImageRejected) as excinfo:
        probe(io.BytesIO(data))
    assert excinfo.value.code == code
    assert excinfo.value.message


def test_images_above_the_pixel_limit_are_refused_before_decoding():
    data = png_bytes(200, 100)
    with pytest.raises(ImageRejected) as excinfo:
        probe(io.BytesIO(data), max_pixels=19_999)
    assert excinfo.value.code == "too_large"
    assert "200x100 = 20,000 pixels, above the limit of 19,999" in excinfo.value.message


def test_a_decompression_bomb_header_is_refused_without_allocating_its_pixels():
    # A tiny PNG claiming 100000 x 100000 pixels: the header alone must be enough to refuse it.
    with pytest.raises(ImageRejected) as excinfo:
        probe(io.BytesIO(png_bomb_bytes()))
    assert excinfo.value.code == "too_large"


def test_unsupported_formats_are_refused():
    buf = io.BytesIO()
    Image.fromarray(pixels(8, 8)).save(buf, format="PPM")
    with pytest.raises(ImageRejected) as excinfo:
        probe(io.BytesIO(buf.getvalue()))
    assert excinfo.value.code == "unsupported_format"


def test_transparent_png_is_flattened_on_white():
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    assert load_pixels(io.BytesIO(buf.getvalue()))[0, 0].tolist() == [255, 255, 255]
