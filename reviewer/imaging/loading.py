"""The one loader every stage reads pixels through: it checks a file and applies its EXIF orientation.

Detection, the review canvas and the export all see the same pixels, so a box cannot drift between them.
"""

from __future__ import annotations

import hashlib
import struct
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

# What a damaged file makes Pillow raise; anything else is a bug and should be seen as one.
_DAMAGE = (OSError, SyntaxError, ValueError, struct.error, IndexError, TypeError, EOFError, KeyError, ZeroDivisionError)

# EXIF orientation values that swap width and height when applied.
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})


# The first bytes of the formats Veil accepts: a file that starts like one and still fails to open is corrupt
# (a bad checksum, a cut header), not "not an image".
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")


def _looks_like_image(head: bytes) -> bool:
    return head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _head_of(source: str | Path | BinaryIO) -> bytes:
    try:
        if isinstance(source, (str, Path)):
            with open(source, "rb") as fh:
                return fh.read(16)
        position = source.tell()
        head = source.read(16)
        source.seek(position)
        return head
    except (OSError, AttributeError):  # unreadable or unseekable: Image.open will say so
        return b""


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
    head = _head_of(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(source)
    except Image.DecompressionBombError as exc:
        raise ImageRejected("too_large", f"image is too large to decode safely ({exc})") from exc
    except Image.DecompressionBombWarning as exc:
        raise ImageRejected("too_large", f"image is too large to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        if _looks_like_image(head):
            raise ImageRejected("corrupt", "the file starts like an image but its header is damaged") from exc
        raise ImageRejected("not_an_image", "not an image file (its content is not a known image format)") from exc
    except _DAMAGE as exc:
        raise _rejection_for(exc, "cannot read the image") from exc
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


def _rejection_for(exc: BaseException, during: str) -> ImageRejected:
    """The rejection for an error Pillow raised while opening or decoding a file Veil has already sized."""
    text = str(exc)
    # Pillow raises a plain ValueError("Decompressed data too large ...") when a PNG zTXt, iTXt or iCCP chunk
    # inflates past its limit: a few bytes on disk, megabytes once inflated.
    if isinstance(exc, ValueError) and "too large" in text.lower():
        return ImageRejected("too_large", f"a metadata chunk (PNG text or colour profile) inflates too far: {text}")
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return ImageRejected("too_large", f"image is too large to decode safely ({text})")
    return ImageRejected("corrupt", f"{during}: {text or exc.__class__.__name__}")


def _decode(img: Image.Image) -> None:
    """Decode every pixel now, so truncated or corrupt data is found at import, not at export."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
    except (*_DAMAGE, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _rejection_for(exc, "image data is truncated or corrupt") from exc


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
        oriented = img
        if _orientation(img) != 1:  # exif_transpose copies even when there is nothing to turn
            try:
                oriented = ImageOps.exif_transpose(img)
            except Exception:  # unreadable EXIF: show the pixels as stored
                oriented = img
        if oriented.mode != "RGB":
            if oriented.mode in ("RGBA", "LA", "PA") or (oriented.mode == "P" and "transparency" in oriented.info):
                rgba = oriented.convert("RGBA")
                background = Image.new("RGB", rgba.size, (255, 255, 255))
                background.paste(rgba, mask=rgba.getchannel("A"))
                oriented = background
            elif oriented.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                oriented = _wide_to_rgb(oriented)
            else:
                oriented = oriented.convert("RGB")
        if oriented is img:  # closing the file below releases img's pixels
            oriented = img.copy()
        return oriented


# Rows converted at a time: the extra memory of a wide-to-8-bit conversion is one band, whatever the image's size.
_BAND_ROWS = 256


def _wide_to_rgb(img: Image.Image) -> Image.Image:
    """16- or 32-bit greyscale scaled to 8 bits by its own maximum, a band of rows at a time.

    Memory beyond the decoded image is one 8-bit copy plus one band: bounded by the pixel count, never a float64
    copy of the whole image (a 10000 x 10000 16-bit PNG took 2.1 GB that way).
    """
    _low, high = img.getextrema()
    high = max(float(high), 1.0)
    width, height = img.size
    out = np.empty((height, width), dtype=np.uint8)
    for top in range(0, height, _BAND_ROWS):
        band = np.asarray(img.crop((0, top, width, min(height, top + _BAND_ROWS))), dtype=np.float32)
        np.clip(band, 0, high, out=band)
        out[top : top + band.shape[0]] = (band * (255.0 / high)).astype(np.uint8)
    gray = Image.fromarray(out)
    del out
    return gray.convert("RGB")


def load_pixels(source: str | Path | BinaryIO, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Pixels as displayed: an H x W x 3 uint8 RGB array."""
    with open_displayed(source, max_pixels=max_pixels) as img:
        return np.asarray(img, dtype=np.uint8).copy()
