"""The one loader every stage reads pixels through: it checks a file and applies its EXIF orientation.

Detection, the review canvas and the export all see the same pixels, so a box cannot drift between them.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Formats a dataset of photographs holds. Anything else is refused rather than guessed at.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"})
DEFAULT_MAX_PIXELS = 100_000_000  # 100 megapixels; a setting (VEIL_MAX_IMAGE_PIXELS) overrides it

# Veil checks the pixel count itself, against its own setting, before any pixel is decoded (see _open_checked);
# Pillow's global guard would refuse at a different limit with a less helpful message.
Image.MAX_IMAGE_PIXELS = None

# EXIF orientation values that swap width and height when applied.
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})


class ImageRejected(Exception):
    """A file that is not an image Veil will accept. `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int  # as displayed, after EXIF orientation
    height: int
    orientation: int  # EXIF orientation tag, 1 when absent
    mode: str


def sha256_of(source: str | Path | BinaryIO, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            for chunk in iter(lambda: fh.read(chunk_size), b""):
                digest.update(chunk)
    else:
        source.seek(0)
        for chunk in iter(lambda: source.read(chunk_size), b""):
            digest.update(chunk)
        source.seek(0)
    return digest.hexdigest()


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(0x0112, 1)
        value = int(value)
    except Exception:  # a broken EXIF block must not make a good photo unreadable
        return 1
    return value if 1 <= value <= 8 else 1


def _open_checked(source: str | Path | BinaryIO, max_pixels: int) -> Image.Image:
    """Open without decoding, refusing unknown formats and oversized images before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(source)
    except Image.DecompressionBombError as exc:
        raise ImageRejected("too_large", f"image is too large to decode safely ({exc})") from exc
    except Image.DecompressionBombWarning as exc:
        raise ImageRejected("too_large", f"image is too large to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("not_an_image", "not an image file (its content is not a known image format)") from exc
    except OSError as exc:
        raise ImageRejected("corrupt", f"cannot read the image: {exc}") from exc
    if img.format not in ACCEPTED_FORMATS:
        fmt = img.format
        img.close()
        raise ImageRejected(
            "unsupported_format", f"{fmt} images are not accepted ({', '.join(sorted(ACCEPTED_FORMATS))} are)"
        )
    width, height = img.size
    if width < 1 or height < 1:
        img.close()
        raise ImageRejected("corrupt", f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        img.close()
        raise ImageRejected(
            "too_large",
            f"image is {width}x{height} = {width * height:,} pixels, above the limit of {max_pixels:,}",
        )
    return img


def _decode(img: Image.Image) -> None:
    """Decode every pixel now, so truncated or corrupt data is found at import, not at export."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("corrupt", f"image data is truncated or corrupt: {exc}") from exc


def probe(source: str | Path | BinaryIO, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Check a file fully (header, size limit, every pixel decodes) and describe it as displayed."""
    img = _open_checked(source, max_pixels)
    with img:
        orientation = _orientation(img)
        _decode(img)
        width, height = img.size
        if orientation in _TRANSPOSING_ORIENTATIONS:
            width, height = height, width
        return ImageInfo(format=img.format, width=width, height=height, orientation=orientation, mode=img.mode)


def open_displayed(source: str | Path | BinaryIO, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """A decoded RGB Pillow image, EXIF orientation applied (the pixels a reviewer sees)."""
    img = _open_checked(source, max_pixels)
    with img:
        _decode(img)
        try:
            oriented = ImageOps.exif_transpose(img)
        except Exception:  # unreadable EXIF: show the pixels as stored
            oriented = img.copy()
        if oriented.mode != "RGB":
            if oriented.mode in ("RGBA", "LA", "PA") or (oriented.mode == "P" and "transparency" in oriented.info):
                rgba = oriented.convert("RGBA")
                background = Image.new("RGB", rgba.size, (255, 255, 255))
                background.paste(rgba, mask=rgba.getchannel("A"))
                oriented = background
            elif oriented.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(oriented, dtype=np.float64)
                arr = (arr / max(arr.max(), 1.0) * 255.0).astype(np.uint8)
                oriented = Image.fromarray(arr, "L").convert("RGB")
            else:
                oriented = oriented.convert("RGB")
        return oriented


def load_pixels(source: str | Path | BinaryIO, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Pixels as displayed: an H x W x 3 uint8 RGB array."""
    with open_displayed(source, max_pixels=max_pixels) as img:
        return np.asarray(img, dtype=np.uint8).copy()
