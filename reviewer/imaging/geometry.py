"""Boxes in pixels of the image as displayed (after EXIF orientation), origin top-left, corners."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# The most boxes one image may carry in a review, an approval or a gold set: far more faces than any photograph
# holds (a stadium crowd is a few hundred), and a cap on the rows one request can write.
MAX_BOXES_PER_IMAGE = 2000


class InvalidBox(ValueError):
    """A box that cannot be a face: not finite, inverted, empty, or outside the image."""


@dataclass(frozen=True, slots=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def longest_side(self) -> float:
        return max(self.width, self.height)

    def as_list(self) -> list[float]:
        return [self.x0, self.y0, self.x1, self.y1]

    def rounded(self, ndigits: int = 2) -> Box:
        return Box(*(round(v, ndigits) for v in self.as_list()))

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> Box:
        return cls(x, y, x + w, y + h)

    @classmethod
    def from_sequence(cls, values: Sequence[float]) -> Box:
        if len(values) != 4:
            raise InvalidBox(f"a box needs 4 numbers (x0, y0, x1, y1), got {len(values)}")
        try:
            return cls(*(float(v) for v in values))
        except (TypeError, ValueError) as exc:
            raise InvalidBox(f"box coordinates must be numbers: {list(values)!r}") from exc


def clamp(box: Box, width: int, height: int) -> Box:
    """The part of `box` that lies inside a width x height image."""
    return Box(
        min(max(box.x0, 0.0), width),
        min(max(box.y0, 0.0), height),
        min(max(box.x1, 0.0), width),
        min(max(box.y1, 0.0), height),
    )


def validate(box: Box, width: int, height: int, *, min_side: float = 1.0) -> Box:
    """Clamp `box` to the image and refuse what is left if it is degenerate.

    Raises InvalidBox with a message a person can act on.
    """
    values = box.as_list()
    if not all(math.isfinite(v) for v in values):
        raise InvalidBox(f"box {values} has a coordinate that is not a finite number")
    if box.x1 <= box.x0 or box.y1 <= box.y0:
        raise InvalidBox(f"box {values} is inverted or empty: x1 must exceed x0 and y1 must exceed y0")
    clamped = clamp(box, width, height)
    if clamped.width < min_side or clamped.height < min_side:
        raise InvalidBox(
            f"box {values} lies outside the {width}x{height} image or is under {min_side:g} px once clamped"
        )
    return clamped


def iou(a: Box, b: Box) -> float:
    ix = min(a.x1, b.x1) - max(a.x0, b.x0)
    iy = min(a.y1, b.y1) - max(a.y0, b.y0)
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def grow(box: Box, factor: float, width: int | None = None, height: int | None = None) -> Box:
    """Scale `box` about its centre by `factor` (1.3 = 30 % wider and taller), clamped if a size is given."""
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    hw, hh = box.width * factor / 2, box.height * factor / 2
    grown = Box(cx - hw, cy - hh, cx + hw, cy + hh)
    if width is not None and height is not None:
        grown = clamp(grown, width, height)
    return grown
