"""File names as a dataset keeps them: readable, safe on every file system an export is unpacked on, unique.

Pure code: no Django. Import calls `clean_path` on every name it is given; the result is the image's path in the
dataset and, with the export's suffix, its path in every archive. What the admin gave is kept beside it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

MAX_PATH_CHARS = 1024  # the dataset's column; a longer path is refused, never cut
MAX_SEGMENT_BYTES = 255  # one folder or file name on ext4, APFS, NTFS
# Characters Windows refuses in a file name; unpacking an export there must not fail or rename silently.
_WINDOWS_RESERVED_CHARS = frozenset('<>:"|?*')
_WINDOWS_DEVICE_NAMES = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
)
# Invisible characters that change how a name reads: bidi overrides and isolates (U+202E makes "gpj.exe" show as
# "exe.jpg"), marks, and zero-width ones.
_INVISIBLE = frozenset(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)
# Names an export writes itself; an image may not take them (or anything under annotations/).
RESERVED_PATHS = frozenset({"manifest.json", "manifest.jsonl"})
RESERVED_FOLDERS = frozenset({"annotations"})


@dataclass(frozen=True)
class CleanPath:
    path: str | None  # None when refused
    refusal: tuple[str, str] | None = None  # (reason code, message)
    changed: bool = False  # the path differs from what was given


def _is_hidden_char(ch: str) -> bool:
    return ch in _INVISIBLE or unicodedata.category(ch) == "Cc"


def describe(raw: str, limit: int = 200) -> str:
    """The name as text safe to show or store: control and invisible characters written as \\uXXXX, cut at limit."""
    text = "".join(f"\\u{ord(ch):04x}" if _is_hidden_char(ch) else ch for ch in raw)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean_segment(segment: str) -> str:
    segment = "".join("_" if ch in _WINDOWS_RESERVED_CHARS else ch for ch in segment)
    segment = segment.rstrip(" .")  # Windows drops trailing dots and spaces, so two names would become one
    if segment.split(".", 1)[0].lower() in _WINDOWS_DEVICE_NAMES:
        segment = "_" + segment
    return segment


def clean_path(raw: str) -> CleanPath:
    """A relative POSIX path safe to keep and to export, or a refusal.

    Refused: absolute paths and '..' (unsafe_path), NUL anywhere (unsafe_path: a NUL cuts a name in C and in
    PostgreSQL), paths over 1,024 characters or a part over 255 bytes (name_too_long). Cleaned: control
    characters, newlines and bidi or zero-width characters removed; Windows' reserved characters replaced by '_'.
    """
    name = (raw or "").replace("\\", "/")
    if "\x00" in name:
        return CleanPath(None, ("unsafe_path", "the file name contains a NUL character"))
    if len(name) > MAX_PATH_CHARS:
        return CleanPath(None, ("name_too_long", f"the path is {len(name):,} characters; at most {MAX_PATH_CHARS:,}"))
    if not name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return CleanPath(None, ("unsafe_path", "absolute path or '..' in the file name"))
    name = unicodedata.normalize("NFC", "".join(ch for ch in name if not _is_hidden_char(ch)))
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return CleanPath(None, ("unsafe_path", "absolute path or '..' in the file name"))
    parts = [_clean_segment(p) for p in parts]
    if not parts or any(not p for p in parts):
        return CleanPath(None, ("unsafe_path", "the file name is empty once control characters are removed"))
    for part in parts:
        size = len(part.encode("utf-8"))
        if size > MAX_SEGMENT_BYTES:
            return CleanPath(None, ("name_too_long", f"a part of the path is {size:,} bytes; at most 255"))
    path = "/".join(parts)
    return CleanPath(path, changed=path != raw)


def is_reserved(export_path: str) -> bool:
    """Whether an export writes a file of its own at this path (case-insensitive, as on macOS and Windows)."""
    lowered = export_path.lower()
    return lowered in RESERVED_PATHS or lowered.split("/", 1)[0] in RESERVED_FOLDERS


def with_counter(path: str, n: int) -> str:
    """`a/b.jpg` -> `a/b~2.jpg`: the name an image takes when its export path is already taken."""
    folder, _, filename = path.rpartition("/")
    stem, dot, suffix = filename.rpartition(".")
    if not dot or not stem:
        stem, suffix = filename, ""
    renamed = f"{stem}~{n}" + (f".{suffix}" if suffix else "")
    return f"{folder}/{renamed}" if folder else renamed


def unreserved(path: str) -> str:
    """`manifest.json` -> `_manifest.json`, `annotations/x.png` -> `_annotations/x.png`; other paths unchanged."""
    return "_" + path if is_reserved(path) else path


def export_key(export_path: str) -> str:
    """What two export paths must not share: the same letters in any case (macOS and Windows ignore case)."""
    return unicodedata.normalize("NFC", export_path).casefold()
