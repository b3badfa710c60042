"""Peak memory of showing a 16-bit greyscale PNG (a thumbnail, as the web page makes it), old path vs new.

A 10000 x 10000 16-bit PNG is ~200 KB on disk and exactly at the default pixel limit. Each path runs in a fresh
process so its peak RSS is its own. Baseline: the float64 conversion Veil used before (measured in the same run).

    .venv/bin/python bench/decode_memory.py [--side 10000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_png(path: Path, side: int) -> None:
    import numpy as np
    from PIL import Image

    ramp = (np.arange(side, dtype=np.uint32) * 65535 // max(side - 1, 1)).astype(np.uint16)
    Image.fromarray(np.broadcast_to(ramp, (side, side)).copy()).save(path, format="PNG", optimize=True)


def run_new(path: str) -> None:
    from reviewer.imaging.loading import open_displayed

    with open(path, "rb") as fh:
        img = open_displayed(fh)
    img.thumbnail((256, 256))


def run_old(path: str) -> None:
    # The conversion as it was: the whole image as float64, divided, then cast.
    import numpy as np
    from PIL import Image

    from reviewer.imaging.loading import _decode, _open_checked

    img = _open_checked(path, 100_000_000)
    _decode(img)
    arr = np.asarray(img, dtype=np.float64)
    arr = (arr / max(arr.max(), 1.0) * 255.0).astype(np.uint8)
    out = Image.fromarray(arr, "L").convert("RGB")
    out.thumbnail((256, 256))


def child(which: str, path: str) -> None:
    {"old": run_old, "new": run_new}[which](path)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)  # MiB (ru_maxrss is KiB on Linux)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=10_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wide.png"
        make_png(path, args.side)
        size_kb = path.stat().st_size // 1024
        peaks = {}
        for which in ("old", "new"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", which, str(path)], check=True, capture_output=True, text=True
            )
            peaks[which] = int(out.stdout.strip().splitlines()[-1])
    print(f"# .venv/bin/python bench/decode_memory.py --side {args.side}")
    print(f"16-bit greyscale PNG {args.side}x{args.side}, {size_kb} KB on disk")
    print(f"peak RSS, float64 conversion (before): {peaks['old']} MiB")
    print(f"peak RSS, banded 8-bit conversion (now): {peaks['new']} MiB")
    print(f"ratio: {peaks['old'] / peaks['new']:.1f}x less")


if __name__ == "__main__":
    main()
