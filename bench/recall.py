"""Recall by face height and precision of CenterFace on an evaluation set, at the default settings, in recall
mode and in thorough mode, against a baseline measured in the same run: the model at each photo's own size
(what `deface` does without --scale). Also counts stacked proposals (a proposal mostly inside another one:
one face, two boxes) and the candidates each image gets for a second look.

    .venv/bin/python bench/recall.py --images ../shared/eval/wider-dev/images \
        --boxes ../shared/eval/wider-dev/boxes.json

Pixels are read through Veil's loader (EXIF orientation applied), as the pipeline reads them. Conventions:
../shared/eval/README.md (IoU >= 0.5, greedy by score; `ignore` boxes neither hit nor false alarm).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.evalset import BINS, Tally, load
from reviewer.imaging.detectors import get_detector
from reviewer.imaging.detectors.base import overlap_of_smaller
from reviewer.imaging.loading import load_pixels


def evaluate(samples, pixels, *, long_side, threshold, thorough, recall, repeats) -> tuple[Tally, float, int, float]:
    """The tally of one mode, its median images/s (model, proposals and candidates: pixels are decoded
    beforehand), its stacked proposals and its candidates per image."""
    tally, rates, stacked, candidates = Tally(), [], 0, 0
    for attempt in range(repeats):
        start = time.perf_counter()
        results = []
        for px in pixels:
            size = long_side or max(px.shape[:2])  # None: each photo's own size
            detector = get_detector("centerface", threshold=threshold, long_side=size, thorough=thorough, recall=recall)
            results.append(detector.detect_all(px))
        rates.append(len(samples) / (time.perf_counter() - start))
        if attempt == 0:
            for sample, found in zip(samples, results, strict=True):
                tally.add(found.proposals, sample)
                stacked += count_stacked(found.proposals)
                candidates += len(found.candidates)
    return tally, statistics.median(rates), stacked, candidates / len(samples)


def count_stacked(detections) -> int:
    """Proposals whose intersection with a better-scored one covers half of the smaller box."""
    boxes = np.asarray([d.box.as_list() for d in detections], dtype=np.float64).reshape(-1, 4)
    return sum(int(overlap_of_smaller(boxes[:i], boxes[i]).max() >= 0.5) for i in range(1, len(boxes)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", required=True, type=Path)
    parser.add_argument("--boxes", required=True, type=Path)
    parser.add_argument("--long-side", type=int, default=832)
    parser.add_argument("--threshold", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=1, help="Timing repeats (median); recall is deterministic.")
    parser.add_argument("--modes", default="native,default,recall,thorough", help="Which modes, comma-separated.")
    args = parser.parse_args()

    samples = load(args.images, args.boxes)
    pixels = [load_pixels(s.path) for s in samples]
    faces = sum(len(s.faces) for s in samples)
    modes = {
        "native": ("native size (baseline)", None, False, False),
        "default": (f"default: long side {args.long_side}", args.long_side, False, False),
        "recall": (f"recall: long side {args.long_side}", args.long_side, False, True),
        "thorough": (f"thorough: long side {args.long_side}", args.long_side, True, False),
    }
    chosen = [m.strip() for m in args.modes.split(",") if m.strip()]
    if "default" not in chosen or any(m not in modes for m in chosen):
        parser.error(f"--modes: a comma-separated choice of {', '.join(modes)}, default among them")
    rows = []
    for label, long_side, thorough, recall in (modes[m] for m in chosen):
        tally, rate, stacked, candidates = evaluate(
            samples, pixels, long_side=long_side, threshold=args.threshold, thorough=thorough, recall=recall,
            repeats=args.repeats,
        )  # fmt: skip
        rows.append((label, tally, rate, stacked, candidates))

    print(f"command: .venv/bin/python bench/recall.py {shlex.join(sys.argv[1:])}")
    print(f"set: {args.images} ({len(samples)} images, {faces} faces); threshold {args.threshold}; CenterFace")
    print("faces per height bin: " + ", ".join(f"{b[2]}: {rows[0][1].total[b[2]]}" for b in BINS))
    header = (
        f"{'mode':34} {'<16':>6} {'16-32':>6} {'32-64':>6} {'64+':>6} {'>=16':>6} {'all':>6} {'prec':>6} {'img/s':>7}"
        f" {'stacked':>7} {'cand/img':>8}"
    )
    print(header)
    print("-" * len(header))
    big = ["16-32", "32-64", "64+"]
    for label, tally, rate, stacked, candidates in rows:
        cells = " ".join(f"{tally.recall([b[2]]):6.3f}" for b in BINS)
        print(
            f"{label:34} {cells} {tally.recall(big):6.3f} {tally.recall():6.3f} {tally.precision:6.3f} {rate:7.1f}"
            f" {stacked:7d} {candidates:8.2f}"
        )
    by_mode = dict(zip(chosen, rows, strict=True))
    default = by_mode["default"]
    ratios = [
        f"{name}/default recall>=16 {row[1].recall(big) / default[1].recall(big):.3f}, time {default[2] / row[2]:.2f}x"
        for name, row in by_mode.items()
        if name != "default"
    ]
    print("ratios: " + "; ".join(ratios))
    print("target (issue 3, default settings): recall >= 0.88 on faces of 16 px and more, precision >= 0.62")
    print("target (issue 8, recall mode): recall >= 0.92 on faces of 16 px and more at <= 2.5x the default's time")


if __name__ == "__main__":
    main()
