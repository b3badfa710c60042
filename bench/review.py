"""How long the review page takes to show the next image after Enter, against loading the next page.

    .venv/bin/python bench/review.py [--images 30] [--think 0.8] [--size 1600x1200] [--port 8790]

Builds a throwaway installation under a temporary VEIL_DATA_DIR (SQLite, like `make run`), with two batches of
--images synthetic JPEGs of --size, three proposals each, starts `manage.py runserver` on --port, and drives
Debian's headless Chromium with Playwright as a reviewer who accepts every image with Enter:

- veil: the review page as shipped. The reviewer "looks" for --think seconds (time for the prefetch of the next
  image's JSON and pixels to land), then presses Enter; measured from the key press to the frame after the next
  image is on screen (in the page), and from Python (key press to the position text changing).
- veil, no think time: Enter pressed as soon as the image is shown, before the prefetch can land.
- baseline, same run: a classic page per image: navigating to the next image's review page (HTML, scripts,
  pixels, boxes) until it is drawn. It does not even include saving, which a form post would add.

Figures are medians over the images.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"


def seed(images: int, size: tuple[int, int]):
    from reviewer.models import Assignment, Batch, BatchItem, Dataset, DetectionRun, Image, Proposal, User
    from tests.factories import ImageFactory

    reviewer = User.objects.create_user("bench-reviewer", password="bench-pass-123", role="reviewer")
    dataset = Dataset.objects.create(name="bench")
    run = DetectionRun.objects.create(dataset=dataset, detector="bench", status="done")
    dataset.current_detection_run = run
    dataset.save()
    from tests.images import jpeg_bytes

    batches = []
    for name in ("veil", "baseline"):
        batch = Batch.objects.create(dataset=dataset, name=name)
        for pos in range(images):
            image = ImageFactory(
                dataset=dataset,
                relative_path=f"{name}/{pos:04d}.jpg",
                status=Image.Status.DETECTED,
                content=jpeg_bytes(*size, seed=pos + (0 if name == "veil" else 10_000)),
            )
            BatchItem.objects.create(batch=batch, image=image, position=pos)
            w, h = size
            for i, (fx, fy) in enumerate([(0.2, 0.3), (0.5, 0.4), (0.75, 0.6)]):
                Proposal.objects.create(
                    run=run, image=image, ordinal=i, score=0.5 + i / 10,
                    x0=fx * w, y0=fy * h, x1=fx * w + w / 12, y1=fy * h + h / 9,
                )  # fmt: skip
        Assignment.objects.create(batch=batch, reviewer=reviewer)
        batches.append(batch)
    return batches


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--think", type=float, default=0.8)
    parser.add_argument("--size", default="1600x1200")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is needed (apt-get install chromium)")

    from bench.embedded import embedded_veil

    data_dir = embedded_veil("review")
    veil_batch, baseline_batch = seed(args.images, size)
    port = args.port or free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        baseline_ids = list(baseline_batch.items.order_by("position").values_list("image_id", flat=True))
        figures = drive(base, veil_batch.pk, baseline_batch.pk, baseline_ids, args)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)

    def med(values):
        return statistics.median(values)

    print(f"# {' '.join(['.venv/bin/python', 'bench/review.py', *sys.argv[1:]])}")
    print(f"images per run: {args.images}, {size[0]}x{size[1]} JPEG, 3 proposals each, think time {args.think}s")
    rows = [
        ("veil: Enter -> next image drawn (in page)", figures["veil_page"]),
        ("veil: Enter -> next image shown (from Python)", figures["veil_py"]),
        ("veil, no think time (in page)", figures["rush_page"]),
        ("baseline: load the next image's page (from Python)", figures["baseline_py"]),
    ]
    for label, values in rows:
        print(f"{label:55s} median {med(values):7.1f} ms   p90 {sorted(values)[int(len(values) * 0.9) - 1]:7.1f} ms")
    ratio = med(figures["baseline_py"]) / med(figures["veil_py"])
    print(f"baseline / veil (both from Python, medians): {ratio:.1f}x")


def drive(base: str, veil_batch: int, baseline_batch: int, baseline_ids: list[int], args) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"veil_page": [], "veil_py": [], "rush_page": [], "baseline_py": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 1366, "height": 768}, bypass_csp=True)  # its waits are JS strings
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=username]", "bench-reviewer")
        page.fill("input[name=password]", "bench-pass-123")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/review/")

        # Baseline first, on its own batch: every image's page loaded from scratch (pixels not cached yet).
        for image_id in baseline_ids:
            t0 = time.perf_counter()
            page.goto(f"{base}/review/batches/{baseline_batch}/images/{image_id}")
            page.wait_for_selector(".rv-ready")
            out["baseline_py"].append((time.perf_counter() - t0) * 1000)
            time.sleep(0.05)

        page.goto(f"{base}/review/batches/{veil_batch}/start")
        page.wait_for_selector(".rv-ready")
        half = args.images // 2
        for i in range(args.images - 1):
            rush = i >= half
            if not rush:
                time.sleep(args.think)
            before = page.inner_text("#rv-position")
            t0 = time.perf_counter()
            page.keyboard.press("Enter")
            page.wait_for_function(f"document.getElementById('rv-position').textContent !== {before!r}")
            elapsed = (time.perf_counter() - t0) * 1000
            page.wait_for_function("document.getElementById('review-app').dataset.lastSwitchMs !== undefined")
            in_page = float(page.get_attribute("#review-app", "data-last-switch-ms"))
            if rush:
                out["rush_page"].append(in_page)
            else:
                out["veil_py"].append(elapsed)
                out["veil_page"].append(in_page)
        page.wait_for_function("document.getElementById('rv-saves').dataset.pending === '0'")
        browser.close()
    return out


if __name__ == "__main__":
    main()
