"""The per-image export path: the blur lands on the face as displayed, and no metadata leaves with the pixels."""

import io

import numpy as np
import pytest
from PIL import Image

from reviewer.imaging.encode import encode_clean, output_path, render_image
from reviewer.imaging.geometry import Box
from reviewer.imaging.loading import load_pixels
from tests.images import encode, stored_for_orientation

FACE = Box(20, 30, 60, 70)  # where the "face" is in the displayed image (120 wide, 90 tall)


def displayed_with_face():
    """Smooth grey everywhere, sharp checkerboard on the face: blur shows only where it was applied."""
    pixels = np.full((90, 120, 3), 128, dtype=np.uint8)
    y, x = np.mgrid[30:70, 20:60]
    pixels[30:70, 20:60] = np.where(((x // 2 + y // 2) % 2 == 0)[..., None], 255, 0)
    return pixels


def stored_with_orientation(displayed, orientation):
    stored = stored_for_orientation(displayed, orientation)
    return encode(stored, "PNG" if orientation == 1 else "JPEG", orientation=orientation, quality=100)


def checker_energy(pixels, box):
    x0, y0, x1, y1 = (int(v) for v in box.as_list())
    return float(np.abs(np.diff(pixels[y0:y1, x0:x1].astype(np.int16), axis=1)).mean())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_puts_the_blur_on_the_face_as_displayed(orientation):
    displayed = displayed_with_face()
    source = io.BytesIO(stored_with_orientation(displayed, orientation))
    assert load_pixels(source).shape == displayed.shape  # the loader sees what people see
    rendered = render_image(source, [FACE], mode="gaussian", jpeg_quality=95)
    out = load_pixels(io.BytesIO(rendered.data))
    assert out.shape == displayed.shape
    assert checker_energy(out, FACE) < 0.05 * checker_energy(displayed, FACE)
    # Far from the face the smooth grey is as it was (up to JPEG rounding), so the blur went nowhere else.
    assert np.abs(out[:, 100:].astype(np.int16) - 128).max() <= 3
    with Image.open(io.BytesIO(rendered.data)) as img:
        assert img.getexif().get(0x0112) is None  # pixels upright, tag gone


def jpeg_segments(data):
    """Marker bytes of every JPEG segment before the image data."""
    markers, i = [], 2
    while i < len(data) and data[i] == 0xFF and data[i + 1] != 0xDA:
        markers.append(data[i + 1])
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return markers


def png_chunks(data):
    chunks, i = [], 8
    while i < len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        chunks.append(data[i + 4 : i + 8].decode("latin-1"))
        i += 12 + length
    return chunks


def test_exported_jpeg_has_no_exif_gps_xmp_icc_or_comment():
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)  # GPS latitude
    buf = io.BytesIO()
    Image.fromarray(displayed_with_face()).save(
        buf, "JPEG", exif=exif.tobytes(), icc_profile=b"\0" * 128, comment=b"who took it", xmp=b"<x:xmpmeta/>"
    )
    rendered = render_image(io.BytesIO(buf.getvalue()), [], mode="gaussian")
    assert rendered.format == "JPEG"
    markers = jpeg_segments(rendered.data)
    assert 0xE1 not in markers  # APP1: EXIF, GPS, XMP
    assert 0xE2 not in markers  # APP2: ICC
    assert 0xFE not in markers  # COM
    assert b"CameraMaker" not in rendered.data
    assert b"who took it" not in rendered.data


def test_exported_png_stays_png_without_metadata_chunks():
    buf = io.BytesIO()
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_text("Author", "someone")
    Image.fromarray(displayed_with_face()).save(buf, "PNG", pnginfo=info, icc_profile=b"\0" * 128)
    rendered = render_image(io.BytesIO(buf.getvalue()), [FACE])
    assert rendered.format == "PNG"
    chunks = png_chunks(rendered.data)
    assert not {"tEXt", "iTXt", "zTXt", "eXIf", "iCCP", "tIME"} & set(chunks)
    assert b"someone" not in rendered.data


def test_jpeg_quality_is_honoured():
    pixels = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    assert len(encode_clean(pixels, "JPEG", jpeg_quality=60)) < len(encode_clean(pixels, "JPEG", jpeg_quality=95))


def test_output_paths_keep_the_relative_path_unless_the_format_changes():
    assert output_path("a/b/photo.JPG", "JPEG") == "a/b/photo.JPG"
    assert output_path("a/b/scan.png", "PNG") == "a/b/scan.png"
    assert output_path("a/anim.gif", "GIF") == "a/anim.png"
