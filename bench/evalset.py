"""The evaluation sets of ../shared/eval: boxes.json, and the matching conventions of its README.

A ground-truth face is found when a detection overlaps it with IoU >= 0.5 (greedy, highest score first);
a detection matching an `ignore` box is neither a hit nor a false alarm; recall is reported by face
height (<16, 16-32, 32-64, >=64 px) and precision over all detections not in `ignore`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from reviewer.imaging.detectors import Detection
from reviewer.imaging.geometry import Box, iou

BINS = ((0, 16, "<16"), (16, 32, "16-32"), (32, 64, "32-64"), (64, float("inf"), "64+"))
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class Sample:
    path: Path
    faces: list[Box]
    ignore: list[Box]


def load(images_dir: str | Path, boxes_path: str | Path) -> list[Sample]:
    """Every image of `images_dir` (sorted), with its faces and ignore boxes (none if boxes.json omits it)."""
    spec = json.loads(Path(boxes_path).read_text())
    faces, ignore = spec.get("faces", {}), spec.get("ignore", {})
    images = sorted(p for p in Path(images_dir).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return [
        Sample(
            path=p,
            faces=[Box(*b) for b in faces.get(p.name, [])],
            ignore=[Box(*b) for b in ignore.get(p.name, [])],
        )
        for p in images
    ]


def image_paths(images_dir: str | Path) -> list[Path]:
    return sorted(p for p in Path(images_dir).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


@dataclass
class Tally:
    found: dict[str, int] = field(default_factory=lambda: {b[2]: 0 for b in BINS})
    total: dict[str, int] = field(default_factory=lambda: {b[2]: 0 for b in BINS})
    true_positives: int = 0
    false_positives: int = 0

    def add(self, detections: Iterable[Detection], sample: Sample, iou_threshold: float = 0.5) -> None:
        matched = [False] * len(sample.faces)
        for det in sorted(detections, key=lambda d: d.score, reverse=True):
            best, best_iou = -1, iou_threshold
            for i, face in enumerate(sample.faces):
                if matched[i]:
                    continue
                overlap = iou(det.box, face)
                if overlap >= best_iou:
                    best, best_iou = i, overlap
            if best >= 0:
                matched[best] = True
                self.true_positives += 1
            elif any(iou(det.box, box) >= iou_threshold for box in sample.ignore):
                continue
            else:
                self.false_positives += 1
        for face, hit in zip(sample.faces, matched, strict=True):
            label = bin_of(face.height)
            self.total[label] += 1
            self.found[label] += int(hit)

    def recall(self, labels: Iterable[str] | None = None) -> float:
        labels = list(labels) if labels is not None else list(self.total)
        total = sum(self.total[b] for b in labels)
        return sum(self.found[b] for b in labels) / total if total else float("nan")

    @property
    def precision(self) -> float:
        boxes = self.true_positives + self.false_positives
        return self.true_positives / boxes if boxes else float("nan")


def bin_of(height: float) -> str:
    for low, high, label in BINS:
        if low <= height < high:
            return label
    return BINS[-1][2]
