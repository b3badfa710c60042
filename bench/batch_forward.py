"""Does a batched forward pass help CenterFace on this machine? One blob per image against batches of N images
(padded to the group's largest blob), the model alone, alternated, per-repeat ratios and their median.

    .venv/bin/python bench/batch_forward.py --images ../shared/eval/wider-dev/images [--limit 24] [--repeats 7]

Veil detects one image at a time (a batched pass measured 1.0-1.1x the time here, no gain on 2 cores), so there
is no batched detector method; run this again on a machine with more cores or a GPU before adding one.
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

from bench.evalset import image_paths
from reviewer.imaging.detectors.centerface import OUTPUT_NAMES, CenterFaceDetector, load_net, prepare
from reviewer.imaging.loading import load_pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", required=True, type=Path)
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--long-side", type=int, default=832)
    parser.add_argument("--sizes", default="4,8", help="Batch sizes, comma-separated.")
    args = parser.parse_args()
    net = load_net(CenterFaceDetector().model_path)
    blobs = [prepare(load_pixels(p), args.long_side)[0] for p in image_paths(args.images)[: args.limit]]
    sizes = [int(n) for n in args.sizes.split(",")]

    def single() -> None:
        for blob in blobs:
            net.setInput(blob)
            net.forward(OUTPUT_NAMES)

    def batched(n: int) -> None:
        for i in range(0, len(blobs), n):
            group = blobs[i : i + n]
            big = np.zeros((len(group), 3, max(b.shape[2] for b in group), max(b.shape[3] for b in group)), np.float32)
            for k, blob in enumerate(group):
                big[k, :, : blob.shape[2], : blob.shape[3]] = blob[0]
            net.setInput(big)
            net.forward(OUTPUT_NAMES)

    single()
    batched(sizes[0])  # warm-up
    ratios: dict[int, list[float]] = {n: [] for n in sizes}
    singles = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        single()
        one = time.perf_counter() - started
        singles.append(one)
        for n in sizes:
            started = time.perf_counter()
            batched(n)
            ratios[n].append((time.perf_counter() - started) / one)
    print(f"command: .venv/bin/python bench/batch_forward.py {shlex.join(sys.argv[1:])}")
    print(
        f"{len(blobs)} images at long side {args.long_side}; one blob each: median {statistics.median(singles):.2f} s"
    )
    for n in sizes:
        print(f"batch of {n}: time / one-by-one, per repeat {[round(r, 2) for r in ratios[n]]}, "
              f"median {statistics.median(ratios[n]):.3f}x")  # fmt: skip


if __name__ == "__main__":
    main()
