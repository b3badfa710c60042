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


# The transpose that turns an upright photo into what a camera stores for each EXIF orientation: the inverse of
# what the orientation tells a viewer (and Pillow's exif_transpose) to do.
_STORED_AS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def stored_for_orientation(displayed: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores for `orientation` so that a viewer shows `displayed` upright."""
    if orientation == 1:
        return displayed
    return np.ascontiguousarray(np.asarray(Image.fromarray(displayed).transpose(_STORED_AS[orientation])))


def jpeg_bytes(width: int = 64, height: int = 48, seed: int = 0, **kwargs) -> bytes:
    return encode(pixels(width, height, seed), "JPEG", **kwargs)


def png_bytes(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    return encode(pixels(width, height, seed), "PNG")


def truncated_jpeg_bytes(width: int = 256, height: int = 192, seed: int = 0) -> bytes:
    """A JPEG cut short: the header parses, the pixel data does not all decode."""
    data = jpeg_bytes(width, height, seed)
    return data[: len(data) // 2]


def corrupt_jpeg_bytes(seed: int = 0) -> bytes:
    """A file that starts like a JPEG (SOI and APP0 markers) and continues with garbage."""
    return b"\xff\xd8\xff\xe0" + np.random.default_rng(seed).integers(0, 256, 600, dtype=np.uint8).tobytes()


def png_bomb_bytes(width: int = 100_000, height: int = 100_000) -> bytes:
    """A small PNG whose header claims width x height pixels (a decompression bomb's calling card)."""
    import struct
    import zlib

    data = bytearray(png_bytes(8, 8))
    ihdr = 8 + 8  # signature, then length and type of the first chunk (IHDR)
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def png_with_chunk_bomb(kind: bytes = b"zTXt", inflated: int = 8 << 20) -> bytes:
    """A ~8 KB PNG with a zTXt, iTXt or iCCP chunk that inflates to `inflated` bytes (past Pillow's limit)."""
    import zlib

    bomb = zlib.compress(b"a" * inflated, 9)
    payload = {b"zTXt": b"k\x00\x00", b"iCCP": b"icc\x00\x00", b"iTXt": b"k\x00\x01\x00\x00\x00"}[kind] + bomb
    data = png_bytes(8, 8)
    return data[:33] + png_chunk(kind, payload) + data[33:]  # right after the signature and IHDR


def png_bad_crc_bytes() -> bytes:
    """A PNG whose header chunk's checksum is wrong."""
    data = bytearray(png_bytes(8, 8))
    data[29] ^= 0xFF  # the last byte of IHDR's CRC
    return bytes(data)


def png16_bytes(width: int, height: int) -> bytes:
    """A 16-bit greyscale PNG: a horizontal ramp from 0 to 65535."""
    ramp = (np.arange(width, dtype=np.uint32) * 65535 // max(width - 1, 1)).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(np.broadcast_to(ramp, (height, width)).copy()).save(buf, format="PNG")
    return buf.getvalue()
