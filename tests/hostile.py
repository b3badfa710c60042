"""The hostile-file corpus, built on the fly: every file an import must refuse (or survive) without harm.

Each case is (path given, bytes, expected). `expected` is a rejection reason, "imported:<path kept>", or
"duplicate". No file is committed: each is made here from a few lines of code.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

from tests.archives import make_tar, make_zip
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
    truncated_jpeg_bytes,
)

BYTE_LIMIT = 300_000  # VEIL_MAX_IMAGE_BYTES while the corpus is imported


@dataclass(frozen=True)
class Case:
    path: str
    data: bytes
    expected: str  # a rejection reason, "imported:<relative path>" or "duplicate"
    rejected_as: str | None = None  # the rejection's name when it is not the path (an archive's own name)


def _pil(fmt: str, mode: str = "RGB", size=(16, 12), **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 128).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(jpeg_bytes(16, 16, seed=40))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(_pil("GIF", "P"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def _bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(_pil("BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def _noise_png(side: int, seed: int) -> bytes:
    noise = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    return encode(noise, "PNG")


def _encrypted_zip() -> bytes:
    """A zip whose entry is flagged encrypted (zipfile will not write the flag, so it is set in the bytes)."""
    data = bytearray(make_zip({"secret.jpg": jpeg_bytes(seed=41)}))
    data[6] |= 0x1  # the local header's general-purpose flags
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1  # and the central directory's
    return bytes(data)


def _exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    buf = io.BytesIO()
    Image.fromarray(pixels(20, 10, seed=42)).save(buf, format="JPEG", exif=exif.tobytes())
    return buf.getvalue()


def _cmyk_jpeg() -> bytes:
    return _pil("JPEG", "CMYK")


def _transparent_palette_png() -> bytes:
    buf = io.BytesIO()
    img = Image.new("P", (8, 8), 0)
    img.save(buf, format="PNG", transparency=0)
    return buf.getvalue()


def _animated_gif() -> bytes:
    buf = io.BytesIO()
    frames = [Image.new("P", (10, 10), i) for i in range(3)]
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def corpus() -> list[Case]:
    png = png_bytes(12, 12, seed=50)
    long_path = "deep/" * 800 + "x.jpg"  # 4,005 characters: past the 1,024-character column
    return [
        # Not images, whatever their names say.
        Case("text.jpg", b"this is a text file renamed .jpg", "not_an_image"),
        Case("empty.jpg", b"", "not_an_image"),
        Case("page.png", b"<!doctype html><script>alert(1)</script>", "not_an_image"),
        Case(
            "vector.jpg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>', "not_an_image"
        ),
        Case("doc.jpg", b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF", "not_an_image"),
        Case("program.jpg", b"\x7fELF\x02\x01\x01" + bytes(200), "not_an_image"),
        # Corrupt: starts like an image, then breaks.
        Case("truncated.jpg", truncated_jpeg_bytes(), "corrupt"),
        Case("garbage.jpg", corrupt_jpeg_bytes(), "corrupt"),
        Case("cut-header.png", png[:20], "corrupt"),
        Case("cut-pixels.png", _noise_png(64, 51)[:3000], "corrupt"),
        Case("bad-crc.png", png_bad_crc_bytes(), "corrupt"),  # issue 9, item 13
        Case("garbage.gif", b"GIF89a" + bytes(range(256)) * 2, "corrupt"),
        Case("garbage.webp", b"RIFF\x40\x00\x00\x00WEBPVP8 " + bytes(range(200)), "corrupt"),
        Case("garbage.tif", b"II*\x00" + bytes(range(256)), "corrupt"),
        Case("garbage.bmp", b"BM" + bytes(100), "corrupt"),
        # Formats a photo dataset does not hold.
        Case("image.ppm", _pil("PPM"), "unsupported_format"),
        Case("icon.ico", _pil("ICO"), "unsupported_format"),
        Case("image.tga", _pil("TGA"), "unsupported_format"),
        Case("image.pcx", _pil("PCX"), "unsupported_format"),
        # Bombs: a header that claims billions of pixels, metadata that inflates, a file over the byte limit.
        Case("bomb.png", png_bomb_bytes(), "too_large"),
        Case("bomb.jpg", _jpeg_claiming(65000, 65000), "too_large"),
        Case("bomb.gif", _gif_claiming(65535, 65535), "too_large"),
        Case("bomb.bmp", _bmp_claiming(50000, 50000), "too_large"),
        Case("ztxt-bomb.png", png_with_chunk_bomb(b"zTXt"), "too_large"),  # issue 9, item 1
        Case("iccp-bomb.png", png_with_chunk_bomb(b"iCCP"), "too_large"),  # issue 9, item 1
        Case("itxt-bomb.png", png_with_chunk_bomb(b"iTXt"), "too_large"),
        Case("heavy.png", _noise_png(400, 52), "too_large"),  # 480 KB, over the byte limit
        # Odd but valid: imported, and nothing after them suffers.
        Case("wide-16bit.png", png16_bytes(2000, 2000), "imported:wide-16bit.png"),  # issue 9, item 4
        Case("cmyk.jpg", _cmyk_jpeg(), "imported:cmyk.jpg"),
        Case("palette.png", _transparent_palette_png(), "imported:palette.png"),
        Case("animated.gif", _animated_gif(), "imported:animated.gif"),
        Case("bad-orientation.jpg", _exif_orientation(9), "imported:bad-orientation.jpg"),
        Case("polyglot.jpg", jpeg_bytes(seed=43) + make_zip({"x.txt": b"x"}), "imported:polyglot.jpg"),
        # Paths that climb out, or that no file system should get.
        Case("../escape.jpg", jpeg_bytes(seed=44), "unsafe_path"),
        Case("../../etc/passwd.jpg", jpeg_bytes(seed=45), "unsafe_path"),
        Case("/abs/x.jpg", jpeg_bytes(seed=46), "unsafe_path"),
        Case("C:/windows/x.jpg", jpeg_bytes(seed=47), "unsafe_path"),
        Case("nul\x00.jpg", jpeg_bytes(seed=48), "unsafe_path", rejected_as="nul\\u0000.jpg"),  # item 10
        Case(long_path, jpeg_bytes(seed=49), "name_too_long", rejected_as=long_path[:1023] + "…"),  # item 10
        Case("a" * 300 + ".jpg", jpeg_bytes(seed=53), "name_too_long"),
        # Names made safe (item 10) and unique for export (item 2), the given name kept.
        Case("line\nbreak.jpg", jpeg_bytes(seed=54), "imported:linebreak.jpg"),
        Case("名前_\u202egpj.exe", jpeg_bytes(seed=55), "imported:名前_gpj.exe"),
        Case("\x1b[31mred.jpg", jpeg_bytes(seed=56), "imported:[31mred.jpg"),
        Case("ab:cd.jpg", jpeg_bytes(seed=57), "imported:ab_cd.jpg"),
        Case("manifest.json", png_bytes(10, 10, seed=58), "imported:_manifest.json"),
        Case("annotations/coco.json", png_bytes(10, 10, seed=59), "imported:_annotations/coco.json"),
        Case("same.png", png_bytes(10, 10, seed=60), "imported:same.png"),
        Case("same.gif", encode(pixels(10, 10, seed=61), "GIF"), "imported:same~2.gif"),
        # Content already seen, or a path already taken by other bytes.
        Case("copy-of-same.png", png_bytes(10, 10, seed=60), "duplicate"),
        Case("same.png", png_bytes(10, 10, seed=62), "path_conflict"),
        # Archives: nested, links and devices, encrypted, unreadable.
        Case("nested.zip", make_zip({"x.jpg": jpeg_bytes(seed=63)}), "nested_archive", rejected_as="in/nested.zip"),
        Case("nested.tgz", make_tar({"x.jpg": jpeg_bytes(seed=64)}), "nested_archive", rejected_as="in/nested.tgz"),
        Case(
            "disguised.jpg", make_tar({"x.jpg": jpeg_bytes(seed=65)}), "nested_archive", rejected_as="in/disguised.jpg"
        ),
    ]


def archive_cases() -> list[Case]:
    """Whole archives whose members are hostile; `rejected_as` names the member (or the archive) refused."""
    return [
        Case("links.zip", make_zip({}, symlinks={"link.jpg": "/etc/passwd"}), "link_or_device", rejected_as="link.jpg"),
        Case("sym.tgz", make_tar({}, symlinks={"sym.jpg": "/etc/shadow"}), "link_or_device", rejected_as="sym.jpg"),
        Case("hard.tgz", make_tar({}, hardlinks={"hard.jpg": "/etc/passwd"}), "link_or_device", rejected_as="hard.jpg"),
        Case("dev.tgz", make_tar({}, devices=["dev/zero.jpg"]), "link_or_device", rejected_as="dev/zero.jpg"),
        Case("climb.zip", make_zip({"../../up.jpg": jpeg_bytes(seed=66)}), "unsafe_path", rejected_as="../../up.jpg"),
        Case("enc.zip", _encrypted_zip(), "bad_archive", rejected_as="secret.jpg"),
        Case("broken.zip", b"PK\x03\x04 not really a zip", "bad_archive", rejected_as="broken.zip"),
        Case("broken.tgz", b"\x1f\x8b\x08\x00" + bytes(50), "bad_archive", rejected_as="broken.tgz"),
    ]
