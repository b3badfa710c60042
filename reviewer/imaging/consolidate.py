"""Merging several reviewers' boxes on one image into one final box set, and scoring boxes against others.

Pure code: boxes in, boxes out. A missed face is a leak and an extra box is only a cosmetic loss, so the merge
is recall first:

- every box any reviewer kept survives, in some face of the result;
- boxes of *different* reviewers that overlap with IoU >= 0.5 are taken as one face (two boxes of the same
  reviewer are always two faces: that reviewer saw two);
- one face's boxes are merged into their union (the smallest box covering all of them), so every pixel some
  reviewer called face stays covered. The median of the corners is available for admins who prefer tight boxes
  (`rule="median"`), at the price of leaving part of a wide reviewer's box outside.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from reviewer.imaging.geometry import Box, iou

MATCH_IOU = 0.5
# A reviewer's box finds a gold box when they overlap this much: how reviewers are scored, in a batch or in the
# qualification round alike.
GOLD_IOU = 0.5
RULES = ("union", "median")


@dataclass(frozen=True)
class Face:
    """One face of the consolidated result: the merged box and which reviewers (by index) boxed it."""

    box: Box
    reviewers: tuple[int, ...]
    boxes: tuple[Box, ...] = field(default=())

    @property
    def support(self) -> int:
        return len(self.reviewers)


@dataclass(frozen=True)
class Consolidation:
    faces: list[Face]
    review_count: int

    @property
    def boxes(self) -> list[Box]:
        return [face.box for face in self.faces]

    @property
    def is_unanimous(self) -> bool:
        """Every reviewer boxed every face (true as well when all of them found no face)."""
        return all(face.support == self.review_count for face in self.faces)

    @property
    def agreement(self) -> float:
        """Share of the faces that every reviewer boxed; 1.0 when nobody boxed anything."""
        if not self.faces:
            return 1.0
        return sum(face.support == self.review_count for face in self.faces) / len(self.faces)


def merge(boxes: Sequence[Box], rule: str = "union") -> Box:
    if not boxes:
        raise ValueError("merge needs at least one box")
    if rule == "union":
        return Box(
            min(b.x0 for b in boxes), min(b.y0 for b in boxes), max(b.x1 for b in boxes), max(b.y1 for b in boxes)
        )
    if rule == "median":
        return Box(*(statistics.median(getattr(b, side) for b in boxes) for side in ("x0", "y0", "x1", "y1")))
    raise ValueError(f"unknown merge rule {rule!r}; use one of {', '.join(RULES)}")


def consolidate(
    reviews: Sequence[Sequence[Box]], *, iou_threshold: float = MATCH_IOU, rule: str = "union"
) -> Consolidation:
    """Merge the boxes of several reviews (one sequence of boxes per reviewer) into faces.

    Greedy and deterministic: reviewers are taken in the given order; each box joins the face it overlaps
    most (IoU with any box already in that face >= `iou_threshold`) among faces that hold no box of the same
    reviewer yet, otherwise it starts a new face.
    """
    if rule not in RULES:
        raise ValueError(f"unknown merge rule {rule!r}; use one of {', '.join(RULES)}")
    groups: list[tuple[list[int], list[Box]]] = []
    for reviewer, boxes in enumerate(reviews):
        # The reviewer's boxes are matched in order of size, largest first, so a big face claims its group
        # before a small box nearby can.
        for box in sorted(boxes, key=lambda b: -b.area):
            best, best_iou = None, iou_threshold
            for group in groups:
                if reviewer in group[0]:
                    continue
                overlap = max(iou(box, other) for other in group[1])
                if overlap >= best_iou and (best is None or overlap > best_iou):
                    best, best_iou = group, overlap
            if best is None:
                groups.append(([reviewer], [box]))
            else:
                best[0].append(reviewer)
                best[1].append(box)
    faces = [Face(merge(boxes, rule), tuple(members), tuple(boxes)) for members, boxes in groups]
    faces.sort(key=lambda f: (f.box.y0, f.box.x0))
    return Consolidation(faces=faces, review_count=len(reviews))


def match_pairs(
    found: Sequence[Box], truth: Sequence[Box], *, iou_threshold: float = MATCH_IOU
) -> list[tuple[int, int]]:
    """One-to-one (found index, truth index) pairs with IoU >= the threshold, the highest overlaps paired first."""
    pairs = sorted(
        ((iou(a, b), i, j) for i, a in enumerate(found) for j, b in enumerate(truth)),
        key=lambda p: -p[0],
    )
    used_found: set[int] = set()
    used_truth: set[int] = set()
    matched: list[tuple[int, int]] = []
    for overlap, i, j in pairs:
        if overlap < iou_threshold:
            break
        if i in used_found or j in used_truth:
            continue
        used_found.add(i)
        used_truth.add(j)
        matched.append((i, j))
    return matched


def match_count(found: Sequence[Box], truth: Sequence[Box], *, iou_threshold: float = MATCH_IOU) -> int:
    """How many pairs one-to-one matching can make, pairing the highest overlaps first."""
    return len(match_pairs(found, truth, iou_threshold=iou_threshold))


def missed_gold(
    found: Sequence[Box], gold: Sequence[Box], *, iou_threshold: float = MATCH_IOU
) -> tuple[list[Box], int]:
    """The gold boxes no found box matched (to show the reviewer), and how many found boxes matched none."""
    matched = match_pairs(found, gold, iou_threshold=iou_threshold)
    hit = {j for _, j in matched}
    return [g for j, g in enumerate(gold) if j not in hit], len(found) - len(matched)


def score_against_gold(
    found: Sequence[Box], gold: Sequence[Box], *, iou_threshold: float = MATCH_IOU
) -> tuple[int, int]:
    """(misses, extras) of a reviewer's boxes against the known boxes of a gold image."""
    matched = match_count(found, gold, iou_threshold=iou_threshold)
    return len(gold) - matched, len(found) - matched


def pair_agreement(a: Sequence[Box], b: Sequence[Box], *, iou_threshold: float = MATCH_IOU) -> float:
    """F1 of two reviewers' boxes on one image: 1.0 when they found the same faces (or both none)."""
    if not a and not b:
        return 1.0
    return 2 * match_count(a, b, iou_threshold=iou_threshold) / (len(a) + len(b))
