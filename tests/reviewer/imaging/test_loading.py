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
    png16_bytes,
    png_bad_crc_bytes,
    png_bomb_bytes,
    png_bytes,
    png_with_chunk_bomb,
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


@pytest.mark.parametrize("kind", [b"zTXt", b"iTXt", b"iCCP"])
def test_a_metadata_chunk_that_inflates_past_the_limit_is_refused_not_raised(kind):
    data = png_with_chunk_bomb(kind)
    assert len(data) < 12_000
    with pytest.raises(ImageRejected) as excinfo:
        probe(io.BytesIO(data))
    assert excinfo.value.code == "too_large"
    assert "metadata chunk (PNG text or colour profile) inflates too far" in excinfo.value.message


def test_a_png_with_a_bad_checksum_is_corrupt_not_not_an_image():
    with pytest.raises(ImageRejected) as excinfo:
        probe(io.BytesIO(png_bad_crc_bytes()))
    assert excinfo.value.code == "corrupt"
    assert excinfo.value.message == "the file starts like an image but its header is damaged"


def test_a_16_bit_png_is_scaled_to_8_bits_without_a_float64_copy():
    import tracemalloc

    data = png16_bytes(2000, 1000)
    tracemalloc.start()
    try:
        pixels_out = load_pixels(io.BytesIO(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pixels_out.shape == (1000, 2000, 3)
    assert pixels_out[0, 0].tolist() == [0, 0, 0]
    assert pixels_out[0, -1].tolist() == [255, 255, 255]
    assert pixels_out[0, 1000].tolist() == [127, 127, 127]
    # numpy's share: the 8-bit copy (2 MB), one band and the RGB array (6 MB); a float64 copy alone is 16 MB.
    assert peak < 12 * 1024 * 1024, peak
