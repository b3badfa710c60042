"""How many faces each blur mode leaves a detector can find, and what the export path costs per image.

    .venv/bin/python bench/export.py [--eval ../shared/eval] [--sets wider-dev,dlib-voc]
                                     [--modes gaussian,imagenet,pixelate,fill] [--limit N]

For each evaluation set, the set's hand-made boxes are the approved boxes. A face is "detectable" when the
default detector (CenterFace, long side 832, threshold 0.2, as the leak check runs it) finds it in the clean
image (IoU >= 0.3, greedy, highest score first); it "leaks" when the detector still finds it after the blur
(conventions of ../shared/eval/README.md). Leak rates are printed by face height (<16, 16-32, 32-64, 64+ px).

Time per image is the whole export path as the export job runs it (decode as displayed, blur, encode without
metadata), median over the images, beside ImageNet's published method measured in the same run. The leak
check's own detector pass costs the same for every mode and is printed once.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reviewer.imaging.blur import BLUR_MODES
from reviewer.imaging.detectors import get_detector
from reviewer.imaging.encode import render_image
from reviewer.imaging.geometry import Box, iou
from reviewer.imaging.loading import load_pixels

BINS = [("<16", 0, 16), ("16-32", 16, 32), ("32-64", 32, 64), ("64+", 64, 1e9)]
MATCH_IOU = 0.3
THRESHOLD = 0.2


def matched(faces: list[Box], detections) -> set[int]:
    """Indices of `faces` that a detection overlaps with IoU >= 0.3, greedy, highest score first."""
    found: set[int] = set()
    for det in sorted(detections, key=lambda d: d.score, reverse=True):
        if det.score < THRESHOLD:
            continue
        best, best_iou = None, MATCH_IOU
        for i, face in enumerate(faces):
            if i in found:
                continue
            overlap = iou(det.box, face)
            if overlap >= best_iou:
                best, best_iou = i, overlap
        if best is not None:
            found.add(best)
    return found


def bin_of(face: Box) -> str:
    for name, lo, hi in BINS:
        if lo <= face.height < hi:
            return name
    return BINS[-1][0]


def run_set(set_dir: Path, modes: list[str], detector, limit: int | None) -> dict:
    spec = json.loads((set_dir / "boxes.json").read_text())
    names = sorted(spec["faces"])[:limit] if limit else sorted(spec["faces"])
    detectable = {name: 0 for name, _, _ in BINS}
    leaked = {mode: {name: 0 for name, _, _ in BINS} for mode in modes}
    times = {mode: [] for mode in modes}
    detect_times = []
    for name in names:
        path = set_dir / "images" / name
        faces = [Box(*map(float, b)) for b in spec["faces"][name]]
        clean = load_pixels(path)
        t0 = time.perf_counter()
        found = matched(faces, detector.detect(clean))
        detect_times.append(time.perf_counter() - t0)
        for i in found:
            detectable[bin_of(faces[i])] += 1
        for mode in modes:
            t0 = time.perf_counter()
            rendered = render_image(path, faces, mode=mode, jpeg_quality=95)
            times[mode].append(time.perf_counter() - t0)
            after = load_pixels(io.BytesIO(rendered.data))
            still = matched(faces, detector.detect(after)) & found
            for i in still:
                leaked[mode][bin_of(faces[i])] += 1
    return {
        "images": len(names),
        "detectable": detectable,
        "leaked": leaked,
        "ms": {mode: 1000 * statistics.median(t) for mode, t in times.items()},
        "detect_ms": 1000 * statistics.median(detect_times),
    }


def rate(n: int, d: int) -> str:
    return f"{n / d:.3f} ({n}/{d})" if d else "   -   (0/0)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval", default=str(ROOT.parent / "shared" / "eval"))
    parser.add_argument("--sets", default="wider-dev,dlib-voc")
    parser.add_argument("--modes", default=",".join(BLUR_MODES))
    parser.add_argument("--limit", type=int, default=None, help="first N images of each set (quick looks)")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if "imagenet" not in modes:
        modes.append("imagenet")  # the baseline every figure is compared with
    detector = get_detector("centerface", threshold=THRESHOLD, long_side=832, thorough=False)
    print("command:", " ".join([".venv/bin/python", "bench/export.py", *sys.argv[1:]]))
    print(f"detector: {detector.describe()}")
    for set_name in args.sets.split(","):
        result = run_set(Path(args.eval) / set_name, modes, detector, args.limit)
        det = result["detectable"]
        total_det = sum(det.values())
        big_det = total_det - det["<16"]
        by_height = ", ".join(f"{k}: {v}" for k, v in det.items())
        print(f"\n== {set_name}: {result['images']} images, {total_det} detectable faces ({by_height}); "
              f"leak check pass {result['detect_ms']:.0f} ms/image")  # fmt: skip
        header = f"{'mode':<10} {'overall':>16} {'16px+':>16} " + " ".join(f"{k:>16}" for k, _, _ in BINS)
        print(header + f" {'ms/image':>9} {'x imagenet':>10}")
        base_ms = result["ms"]["imagenet"]
        for mode in modes:
            lk = result["leaked"][mode]
            total = sum(lk.values())
            big = total - lk["<16"]
            row = f"{mode:<10} {rate(total, total_det):>16} {rate(big, big_det):>16} "
            row += " ".join(f"{rate(lk[k], det[k]):>16}" for k, _, _ in BINS)
            row += f" {result['ms'][mode]:>9.1f} {result['ms'][mode] / base_ms:>10.2f}"
            print(row)


if __name__ == "__main__":
    main()
