"""Metadata-free encoding, and the whole per-image export path: decode as displayed, blur, encode.

An exported file carries pixels and nothing else: no EXIF (so no GPS and no orientation tag, the pixels are
already upright), no XMP, no ICC profile, no comments. Pillow writes none of those unless given them, and the
image is rebuilt from a bare array, so nothing from the source can ride along.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from reviewer.imaging.blur import DEFAULT_MODE, blur
from reviewer.imaging.geometry import Box
from reviewer.imaging.loading import DEFAULT_MAX_PIXELS, open_displayed

DEFAULT_JPEG_QUALITY = 95

# The source's format when Pillow can write it without losing anything a dataset cares about; others become PNG.
_KEPT_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "BMP": "BMP", "TIFF": "TIFF"}
_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}


@dataclass(frozen=True)
class Rendered:
    data: bytes
    format: str
    pixels: np.ndarray  # the blurred pixels before encoding (H x W x 3 RGB uint8)


def output_format(source_format: str) -> str:
    """The format an exported copy is written in: the source's (JPEG stays JPEG, PNG stays PNG), GIF -> PNG."""
    return _KEPT_FORMATS.get((source_format or "").upper(), "PNG")


def output_path(relative_path: str, source_format: str) -> str:
    """The archive path: the original relative path, with a new suffix only when the format had to change."""
    fmt = output_format(source_format)
    if fmt == (source_format or "").upper():
        return relative_path
    stem = relative_path.rsplit(".", 1)[0] if "." in relative_path.rsplit("/", 1)[-1] else relative_path
    return stem + _SUFFIXES[fmt]


def encode_clean(pixels: np.ndarray, fmt: str, *, jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
    """Encode RGB pixels as `fmt` with no metadata at all."""
    img = Image.fromarray(np.ascontiguousarray(pixels), "RGB")
    buf = io.BytesIO()
    fmt = fmt.upper()
    if fmt == "JPEG":
        # Quality 90+ keeps full colour resolution too, so skin and edges look as in the source.
        subsampling = 0 if jpeg_quality >= 90 else 2
        img.save(buf, format="JPEG", quality=int(jpeg_quality), subsampling=subsampling, optimize=False)
    elif fmt == "PNG":
        img.save(buf, format="PNG", compress_level=6)
    elif fmt == "WEBP":
        img.save(buf, format="WEBP", quality=int(jpeg_quality))
    elif fmt == "TIFF":
        img.save(buf, format="TIFF", compression="tiff_deflate")
    elif fmt == "BMP":
        img.save(buf, format="BMP")
    else:
        raise ValueError(f"cannot encode {fmt!r}")
    return buf.getvalue()


def render_image(
    source: str | Path | BinaryIO,
    boxes: Iterable[Box],
    *,
    mode: str = DEFAULT_MODE,
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Rendered:
    """One exported image: the source decoded as displayed, every box blurred, encoded clean.

    Raises loading.ImageRejected when the source no longer decodes.
    """
    with open_displayed(source, max_pixels=max_pixels) as img:
        source_format = _source_format(source, img)
        pixels = np.asarray(img, dtype=np.uint8)
    blurred = blur(pixels, boxes, mode=mode)
    fmt = output_format(source_format)
    return Rendered(data=encode_clean(blurred, fmt, jpeg_quality=jpeg_quality), format=fmt, pixels=blurred)


def _source_format(source, img: Image.Image) -> str:
    # open_displayed returns a converted copy that has lost `format`; ask the file itself.
    if img.format:
        return img.format
    if hasattr(source, "seek"):
        source.seek(0)
    with Image.open(source) as probe:
        fmt = probe.format or "PNG"
    if hasattr(source, "seek"):
        source.seek(0)
    return fmt
