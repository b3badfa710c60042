"""Would more views of the two face detectors flag the faces a lazy review misses? The evidence behind issue 18's
"needs a head detector": extra passes measured on the lazy misses and on the background, and score forms built
from them, each as the trade-off bench/safety_net.py prints for the chosen form.

    VEIL_DATA_DIR=$(mktemp -d) .venv/bin/python bench/net_views.py \
        --images ../shared/eval/wider-dev/images --boxes ../shared/eval/wider-dev/boxes.json --half tune

Passes, each over the decoded image: CenterFace at 832 px (the proposals' pass; its regions from REGION_FLOOR) and
at 1248 px; RetinaFace at 832 px (the net's second detector), on the mirrored image, at 1248 and at 1664 px.
A lazy miss is a true face of 16 px+ no proposal covers (as bench/safety_net.py counts it); a pass "sees" it with
a box overlapping it (IoU >= 0.3) or holding its centre, as bench/safety_net.py counts a flag. Printed:
1. per lazy miss, each pass's best score on it;
2. per pass, its regions (no proposal covering them, 10 px+) on no true or `ignore` face per image, by score;
3. per score form, the operating points whose candidates on no face stay at or under 1 per image: lazy misses
   flagged against candidates on no face per image (at most net.MAX_CANDIDATES per image, best first), as step 1
   of bench/safety_net.py does. A row per change of either figure.
Nothing here is used by Veil; choose on --half tune, as ../shared/eval/README.md says.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()

import numpy as np

from bench.evalset import load
from bench.safety_net import pick_half, usable
from reviewer.imaging.detectors import get_detector, net
from reviewer.imaging.detectors.base import finish, nms_arrays
from reviewer.imaging.detectors.retinaface import RetinaFaceDetector
from reviewer.imaging.loading import load_pixels

PASSES = ("cf832", "cf1248", "rf832", "rf_mirrored", "rf1248", "rf1664")
FLOORS = (0.05, 0.1, 0.2, 0.3, 0.5)
FORMS = {
    "chosen: max(2 CF, RF)": (("cf832", "rf832"), lambda e: np.maximum(2 * e["cf832"], e["rf832"])),
    "max(2 CF, RF, RF mirrored)": (
        ("cf832", "rf832", "rf_mirrored"),
        lambda e: np.maximum.reduce([2 * e["cf832"], e["rf832"], e["rf_mirrored"]]),
    ),
    "max(2 CF, RF + RF mirrored)": (
        ("cf832", "rf832", "rf_mirrored"),
        lambda e: np.maximum(2 * e["cf832"], e["rf832"] + e["rf_mirrored"]),
    ),
    "(2 CF + RF + RF mirrored) / 2": (
        ("cf832", "rf832", "rf_mirrored"),
        lambda e: (2 * e["cf832"] + e["rf832"] + e["rf_mirrored"]) / 2,
    ),
    "max(2 CF, RF, RF 1248)": (
        ("cf832", "rf832", "rf1248"),
        lambda e: np.maximum.reduce([2 * e["cf832"], e["rf832"], e["rf1248"]]),
    ),
}


def passes_of(pixels: np.ndarray, centerface, retina: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    width = pixels.shape[1]
    mirrored_boxes, mirrored_scores = retina[832].raw(np.ascontiguousarray(pixels[:, ::-1]))
    if len(mirrored_boxes):
        mirrored_boxes = np.stack(
            [width - mirrored_boxes[:, 2], mirrored_boxes[:, 1], width - mirrored_boxes[:, 0], mirrored_boxes[:, 3]],
            axis=1,
        )
    found = {
        "cf832": centerface.raw(pixels, 832, threshold=net.REGION_FLOOR),
        "cf1248": centerface.raw(pixels, 1248, threshold=net.REGION_FLOOR),
        "rf832": retina[832].raw(pixels),
        "rf_mirrored": (mirrored_boxes, mirrored_scores),
        "rf1248": retina[1248].raw(pixels),
        "rf1664": retina[1664].raw(pixels),
    }
    return {k: (np.asarray(b, np.float64).reshape(-1, 4), np.asarray(s, np.float64)) for k, (b, s) in found.items()}


def sees(face: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Rows of `boxes` that point at `face` as bench/safety_net.py counts it (net.covers): overlapping it with
    IoU >= net.COVER_IOU, or holding its centre."""
    if not len(boxes):
        return np.zeros(0, bool)
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    holds = (boxes[:, 0] <= cx) & (cx <= boxes[:, 2]) & (boxes[:, 1] <= cy) & (cy <= boxes[:, 3])
    return (net.iou_matrix(face[None], boxes)[0] >= net.COVER_IOU) | holds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", required=True, type=Path)
    parser.add_argument("--boxes", required=True, type=Path)
    parser.add_argument("--half", choices=["all", "tune", "check"], default="tune")
    args = parser.parse_args()
    samples = pick_half(load(args.images, args.boxes), args.half)
    centerface = get_detector("centerface")
    retina = {side: RetinaFaceDetector(threshold=net.REGION_FLOOR, long_side=side) for side in (832, 1248, 1664)}
    print(f"command: VEIL_DATA_DIR=$(mktemp -d) .venv/bin/python bench/net_views.py {shlex.join(sys.argv[1:])}")

    misses, background, images = [], {(p, f): 0 for p in PASSES for f in FLOORS}, []
    for sample in samples:
        pixels = load_pixels(sample.path)
        height, width = pixels.shape[:2]
        found = passes_of(pixels, centerface, retina)
        boxes, scores = found["cf832"]
        proposed = scores >= centerface.threshold
        proposals = finish(zip(boxes[proposed].tolist(), scores[proposed].tolist(), strict=True), width, height)
        proposal_boxes = np.asarray([p.box.as_list() for p in proposals], np.float64).reshape(-1, 4)
        truth = np.asarray([f.as_list() for f in usable(sample.faces + sample.ignore)], np.float64).reshape(-1, 4)
        for name, (b, s) in found.items():
            region = ((b[:, 3] - b[:, 1]) >= net.MIN_HEIGHT) & ~net.covered_rows(b, proposal_boxes)
            no_face = region & ~net.covered_rows(b, truth)
            for floor in FLOORS:
                background[(name, floor)] += int((no_face & (s >= floor)).sum())
        faces = np.asarray([f.as_list() for f in sample.faces if f.height >= 16], np.float64).reshape(-1, 4)
        lazy = faces[~net.covered_rows(faces, proposal_boxes)] if len(faces) else faces
        for face in lazy:
            best = {
                name: float(s[sees(face, b)].max()) if sees(face, b).any() else 0.0 for name, (b, s) in found.items()
            }
            misses.append((sample.path.name, face[3] - face[1], best))
        images.append((found, proposal_boxes, truth, lazy))

    print(f"\n{len(samples)} images ({args.half}), {len(misses)} lazy misses of 16 px+")
    print("\n1. each pass's best score on each lazy miss")
    print(f"{'image':48} {'height':>6} " + " ".join(f"{p:>11}" for p in PASSES))
    for name, height, best in misses:
        print(f"{name[:48]:48} {height:6.1f} " + " ".join(f"{best[p]:11.3f}" for p in PASSES))
    print("\n2. regions on no face per image (10 px+, no proposal covering them), by minimum score")
    print(f"{'pass':12} " + " ".join(f"{f'>= {f:g}':>8}" for f in FLOORS))
    for p in PASSES:
        print(f"{p:12} " + " ".join(f"{background[(p, f)] / len(samples):8.2f}" for f in FLOORS))

    print("\n3. score forms (each x (height / 16) ** net.HEIGHT_POWER): lazy misses flagged against candidates on no "
          "face per image")  # fmt: skip
    for form, (keys, score) in FORMS.items():
        per_image = []
        for found, proposal_boxes, truth, lazy in images:
            boxes = np.concatenate([found[k][0] for k in keys])
            scores = np.concatenate([found[k][1] for k in keys])
            keep = (scores >= net.REGION_FLOOR) & ((boxes[:, 3] - boxes[:, 1]) >= net.MIN_HEIGHT)
            keep &= ~net.covered_rows(boxes, proposal_boxes)
            idx = np.nonzero(keep)[0]
            idx = idx[nms_arrays(boxes[idx], scores[idx], net.SAME_REGION_IOU)] if idx.size else idx
            places = boxes[idx]
            evidence = {k: net._best(places, *found[k]) for k in PASSES}
            value = score(evidence) * (np.maximum(places[:, 3] - places[:, 1], 0) / 16) ** net.HEIGHT_POWER
            no_face = ~net.covered_rows(places, truth)
            points = np.stack([sees(m, places) for m in lazy], axis=1) if len(lazy) else np.zeros((len(places), 0))
            per_image.append((value, no_face, points.astype(bool).reshape(len(places), len(lazy))))
        values = np.concatenate([v for v, _, _ in per_image])
        print(f"  {form}")
        last = None
        for point in sorted(set(np.round(np.quantile(values, np.linspace(0.8, 0.999, 60)), 3))):
            flagged = no_face_total = 0
            for value, no_face, points in per_image:
                order = np.argsort(-value)[: net.MAX_CANDIDATES]
                chosen = order[value[order] >= point]
                no_face_total += int(no_face[chosen].sum())
                flagged += int(points[chosen].any(axis=0).sum()) if len(chosen) else 0
            row = (flagged, round(no_face_total / len(samples), 2))
            if row != last and row[1] <= 1.0:
                print(f"    point {point:6.3f}: {flagged}/{len(misses)} flagged, {row[1]:.2f} on no face per image")
            last = row


if __name__ == "__main__":
    main()
