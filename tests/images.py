"""Image files made on the fly for tests: real encodings, known pixels, EXIF orientations, broken files."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def pixels(width: int = 64, height: int = 48, seed: int = 0) -> np.ndarray:
    """A deterministic RGB pattern with structure (so JPEG and blur both change it measurably)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)), ((x + y) % 64) * 4], axis=-1)
    noise = rng.integers(0, 32, size=(height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def encode(array: np.ndarray, fmt: str = "JPEG", *, orientation: int | None = None, **save_kwargs) -> bytes:
    img = Image.fromarray(array)
    buf = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        save_kwargs["exif"] = exif.tobytes()
    if fmt == "JPEG":
        save_kwargs.setdefault("quality", 95)
    img.save(buf, format=fmt, **save_kwargs)
    return buf.getvalue()


def jpeg_bytes(width: int = 64, height: int = 48, seed: int = 0, **kwargs) -> bytes:
    return encode(pixels(width, height, seed), "JPEG", **kwargs)


def png_bytes(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    return encode(pixels(width, height, seed), "PNG")


def truncated_jpeg_bytes(width: int = 256, height: int = 192, seed: int = 0) -> bytes:
    """A JPEG cut short: the header parses, the pixel data does not all decode."""
    data = jpeg_bytes(width, height, seed)
    return data[: len(data) // 2]


def corrupt_jpeg_bytes(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """A JPEG whose header is intact but whose entropy-coded data is garbage."""
    data = bytearray(jpeg_bytes(width, height, seed))
    start = data.find(b"\xff\xda")  # start of scan
    for i in range(start + 20, len(data) - 2):
        data[i] = 0xFF if i % 2 else 0x00
    return bytes(data)
