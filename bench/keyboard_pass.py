"""A keyboard-only review pass over crowd photos: the real review page in headless Chromium, keys only.

    .venv/bin/python bench/keyboard_pass.py [--eval ../shared/eval] [--images 20] [--port 18310] [--tolerance 2]
        [--strategies before,after]

1. A throwaway Veil (its own VEIL_DATA_DIR, SQLite, `manage.py runserver` on --port) imports the --images photos
   of the evaluation sets with the most true faces of 16 px and more, once per strategy (a dataset each), runs
   real detection (default mode) on them and makes one batch of each for one reviewer.
2. Debian's headless Chromium opens the review page and is driven with page.keyboard only: no click, no mouse
   move (so the page never learns where a pointer is), no script that changes the page. What the bench reads
   from the page (the selected box's rectangle, the candidates and the side list on screen, the zoom) it reads
   as a person reads the screen. On each image the reviewer first deletes every proposal that is on no face
   (it covers no true face nor `ignore` region by the rule below: a false positive), then, for every true face of
   16 px+ that no proposal covers (IoU >= 0.3 or holding its centre, the safety net's rule), adds a box. Two
   strategies, the same photos, one run:
   - before: the keys the page had before the side list. Deleting: Tab / Shift+Tab (the shorter way round, boxes
     left to right) until the box is selected, Delete; after each Delete the bench presses Escape without
     counting it, as the old page left nothing selected. Adding: from a candidate that covers the face, V /
     Shift+V until it is selected, F; else P, which with no pointer places a box in the middle of the view.
   - after: deleting with the side list: J / K (the shorter way round the list) until the box is selected,
     Delete (which selects the next box down the list). Adding: from a candidate as before; else the digits
     aim (each picks the ninth of the cell aimed at that holds the face's centre, until the cell is no wider
     and no taller than the face), then P places the box in the middle of that cell.
   In both, a box is then sized with Shift+arrows and moved with arrows (Ctrl: ten times the step) like a
   careful person, until every edge is within --tolerance original pixels of the face, zooming in with + when
   the arrow step at the current zoom is too coarse for that, and back to the whole image with 0 before the
   next P. Enter saves and opens the next image.
3. From the database, per strategy: per image and in total the faces of 16 px+, those the proposals cover,
   faces added from candidates and with P, false positives deleted, keys per deletion and per added face
   (median, p90), seconds per image (of this driver, not of a person: every key waits for the page to answer),
   the recall on faces of 16 px+ (IoU >= 0.5, bench/evalset.py) of the proposals and of the saved boxes, and
   three errors in original pixels: the saved box against the one the page showed before Enter, the shown box
   against the face meant, the saved box against the face.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
USER, PASSWORD = "bench-keys", "bench-pass-123"

# Read-only looks at the page: what a person sees on screen. Nothing here changes the page's state.
READ_VIEW = """() => {
  const img = document.getElementById('rv-img');
  const rect = (n) => n ? ['x', 'y', 'width', 'height'].map((a) => Number(n.getAttribute(a))) : null;
  const sel = rect(document.querySelector('.rv-box.selected .rv-body'));
  const cands = [...document.querySelectorAll('.rv-cand')].map((g) => ({
    id: Number(g.dataset.cand), selected: g.classList.contains('selected'),
    rect: rect(g.querySelector('.rv-cand-body')),
  }));
  const added = [...document.querySelectorAll('.rv-box.added .rv-body')].map(rect);
  const boxes = [...document.querySelectorAll('.rv-box')].map((g) => ({
    key: Number(g.dataset.key), rect: rect(g.querySelector('.rv-body')), selected: g.classList.contains('selected'),
  }));
  const list = [...document.querySelectorAll('#rv-list-rows li')].map((li) => ({
    key: li.dataset.key ? Number(li.dataset.key) : null, cand: li.dataset.cand ? Number(li.dataset.cand) : null,
    selected: li.getAttribute('aria-selected') === 'true',
  }));
  const cell = document.querySelector('#rv-aim .rv-aim-cell');
  const node = document.querySelector('.rv-box.selected .rv-body');
  const stage = document.getElementById('rv-stage').getBoundingClientRect();
  const b = node && node.getBoundingClientRect();
  const onScreen = !!b && b.left >= stage.left - 0.5 && b.right <= stage.right + 0.5
    && b.top >= stage.top - 0.5 && b.bottom <= stage.bottom + 0.5; // sub-pixel: a box on the image's edge
  return {
    width: Number(img.getAttribute('width')), screenWidth: img.getBoundingClientRect().width,
    height_ratio: Number(img.getAttribute('height')) / Number(img.getAttribute('width')),
    zoom: Number(document.getElementById('rv-svg').dataset.zoom), selected: sel, candidates: cands, added, onScreen,
    boxes, list, aim: rect(cell),
    name: document.getElementById('rv-name').textContent, position: document.getElementById('rv-position').textContent,
  };
}"""


def corners(r):
    return None if r is None else [r[0], r[1], r[0] + r[2], r[1] + r[3]]


def pick(eval_dir: Path, n: int):
    """The n images of the evaluation sets with the most true faces of 16 px+ (ties by name)."""
    from bench.evalset import load

    samples = []
    for boxes in sorted(eval_dir.glob("*/boxes.json")):
        samples += load(boxes.parent / "images", boxes)
    samples.sort(key=lambda s: (-sum(f.height >= 16 for f in s.faces), s.path.name))
    return samples[:n]


def upscaled(samples, factor: float, folder: Path):
    """Each photo enlarged `factor` times into `folder` (a stand-in for camera-sized originals), boxes too."""
    from PIL import Image as PILImage

    from bench.evalset import Sample
    from reviewer.imaging.geometry import Box

    out = []
    for s in samples:
        with PILImage.open(s.path) as im:
            size = (round(im.width * factor), round(im.height * factor))
            im.convert("RGB").resize(size, PILImage.Resampling.LANCZOS).save(folder / s.path.name, quality=92)
        scale = lambda boxes: [Box(b.x0 * factor, b.y0 * factor, b.x1 * factor, b.y1 * factor) for b in boxes]  # noqa: E731
        out.append(Sample(path=folder / s.path.name, faces=scale(s.faces), ignore=scale(s.ignore)))
    return out


def setup(samples, strategy):
    from reviewer.models import Assignment, Batch, BatchItem, Dataset, Image, User
    from reviewer.services.detection import detection_run_process_sync, detection_run_start
    from reviewer.services.ingest import import_path

    admin = User.objects.get_or_create(username="bench-admin", defaults={"role": User.Role.ADMIN})[0]
    reviewer = User.objects.filter(username=USER).first()
    if reviewer is None:
        reviewer = User.objects.create_user(USER, password=PASSWORD, role=User.Role.REVIEWER)
    dataset = Dataset.objects.create(name=f"keyboard-pass-{strategy}", created_by=admin)
    with tempfile.TemporaryDirectory() as folder:
        for s in samples:
            shutil.copyfile(s.path, Path(folder) / s.path.name)
        import_path(dataset=dataset, path=Path(folder), user=admin)
    started = time.perf_counter()
    run = detection_run_start(dataset=dataset, detector="centerface", settings={}, user=admin, enqueue=False)
    run = detection_run_process_sync(run=run)
    detect_seconds = time.perf_counter() - started
    images = list(Image.objects.filter(dataset=dataset).order_by("relative_path"))
    batch = Batch.objects.create(dataset=dataset, name="crowds", created_by=admin)
    BatchItem.objects.bulk_create(BatchItem(batch=batch, image=im, position=n) for n, im in enumerate(images))
    Assignment.objects.create(batch=batch, reviewer=reviewer, assigned_by=admin)
    return run, batch, images, detect_seconds


class Reviewer:
    """Presses keys and looks at the screen; counts every key it presses."""

    def __init__(self, page, tolerance: float):
        self.page = page
        self.tolerance = tolerance
        self.keys = 0
        self.pressed: list[str] = []
        self.zooms = self.lost = 0

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.keys += 1
        self.pressed.append(key)

    def look(self) -> dict:
        return self.page.evaluate(READ_VIEW)

    def step(self, view) -> int:
        """The arrow step the editor offers at this zoom (editor.js nudgeStep), in original pixels."""
        scale = view["screenWidth"] / view["width"]
        return max(1, round(4 / scale))

    def fit_edges(self, face, resize) -> None:
        """Arrows (resize: Shift+arrows) until the box's top-left (resize: bottom-right; "size": its width and
        height) is as near the face's as the step allows: Ctrl+arrow while more than half a big step away, then
        plain arrows."""
        for _ in range(400):
            view = self.look()
            r, step = corners(view["selected"]), self.step(view)
            if resize == "size":
                dx, dy = face.width - (r[2] - r[0]), face.height - (r[3] - r[1])
            elif resize:
                dx, dy = face.x1 - r[2], face.y1 - r[3]
            else:
                dx, dy = face.x0 - r[0], face.y0 - r[1]
            axis = max((abs(dx), "x", dx), (abs(dy), "y", dy))
            if axis[0] <= step / 2:
                return
            big = axis[0] > 5 * step
            arrow = {
                ("x", True): "ArrowRight",
                ("x", False): "ArrowLeft",
                ("y", True): "ArrowDown",
                ("y", False): "ArrowUp",
            }
            key = arrow[(axis[1], axis[2] > 0)]
            mods = ("Control+" if big else "") + ("Shift+" if resize else "")  # "size" too
            self.press(mods + key)
            after = corners(self.look()["selected"])
            if os.environ.get("KEYS_DEBUG"):
                print(mods + key, r, after, step, face)
            if after == r:  # the box is at the edge of the image: nothing moved
                return
        raise RuntimeError("the box never settled")

    def select_box(self, target, strategy) -> None:
        """Select the box drawn at `target` (x, y, width, height): Tab / Shift+Tab (before) or J / K (after),
        whichever way round is shorter, as a person who sees where the box and the selection are."""
        for _ in range(400):
            view = self.look()
            if strategy == "before":
                order = sorted(view["boxes"], key=lambda b: (b["rect"][0], b["rect"][1]))
                ids = [b["key"] for b in order]
                at = next((i for i, b in enumerate(order) if b["selected"]), None)
                keys = ("Tab", "Shift+Tab")
            else:
                ids = [row["key"] if row["key"] is not None else -row["cand"] for row in view["list"]]
                at = next((i for i, row in enumerate(view["list"]) if row["selected"]), None)
                keys = ("j", "k")
            near = min(view["boxes"], key=lambda b: max(abs(a - t) for a, t in zip(b["rect"], target, strict=True)))
            goal = ids.index(near["key"])
            if at == goal:
                return
            if at is None:  # nothing selected: the first press selects the first (or, backwards, the last)
                forward, backward = goal + 1, len(ids) - goal
            else:
                forward, backward = (goal - at) % len(ids), (at - goal) % len(ids)
            self.press(keys[0] if forward <= backward else keys[1])
        raise RuntimeError("the box was never selected")

    def aim(self, face) -> None:
        """The digits, until the cell aimed at is no wider and no taller than the face (at most six)."""
        cx, cy = (face.x0 + face.x1) / 2, (face.y0 + face.y1) / 2
        for _ in range(6):
            view = self.look()
            if view["aim"] is None:
                # The first digit divides the image in view; at the whole image, the image itself.
                x0, y0, w, h = 0.0, 0.0, float(view["width"]), view["width"] * view["height_ratio"]
            else:
                x0, y0, w, h = view["aim"]
                if w <= face.width and h <= face.height:
                    return
            col = min(2, max(0, int((cx - x0) / (w / 3))))
            row = min(2, max(0, int((cy - y0) / (h / 3))))
            self.press(str(row * 3 + col + 1))

    def error(self, face) -> float:
        r = corners(self.look()["selected"])
        return max(abs(a - b) for a, b in zip(r, (face.x0, face.y0, face.x1, face.y1), strict=True))

    def match(self, face) -> None:
        """Size first (a big box near the image's edge cannot reach a face there), move, size again; zoom in
        while the step cannot get within the tolerance."""
        for _ in range(12):
            self.fit_edges(face, resize="size")
            self.fit_edges(face, resize=False)
            self.fit_edges(face, resize=True)
            if self.error(face) <= self.tolerance:
                return
            if self.step(self.look()) == 1:
                return
            self.press("+")
            self.zooms += 1
            view = self.look()
            self.lost += not view["onScreen"]  # the box being fitted is no longer (wholly) in view
            if os.environ.get("KEYS_DEBUG") and not view["onScreen"]:
                print("lost", face, view["selected"], view["zoom"])


def false_positives(proposals, sample):
    """Proposals on no face: covering no true face (any size) nor `ignore` region by the safety net's rule (IoU
    >= 0.3 or holding its centre), so deleting one never uncovers a face."""
    from reviewer.selectors.safety import is_covered

    regions = list(sample.faces) + list(sample.ignore)
    return [p for p in proposals if not any(is_covered(f, [p.box]) for f in regions)]


def drive(base, batch, truth, run, tolerance, min_height, strategy):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM is only read between key presses.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from reviewer.imaging.geometry import Box, iou
    from reviewer.models import Candidate, Proposal
    from reviewer.selectors.safety import is_covered

    log = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        # bypass_csp: the read-only looks above are page.evaluate, which the page's CSP (no eval) would refuse.
        context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=username]", USER)
        page.fill("input[name=password]", PASSWORD)
        page.keyboard.press("Enter")  # the login form, by keyboard too
        page.wait_for_url(f"{base}/review/")
        page.goto(f"{base}/review/batches/{batch.pk}/start")
        try:
            page.wait_for_selector(".rv-ready", timeout=120_000)  # a busy machine: the first page is slow
        except Exception:
            sys.exit(f"the review page never became ready at {page.url}: {errors or page.inner_text('main')[:500]}")
        who = Reviewer(page, tolerance)
        for _ in range(len(truth)):
            view = who.look()
            sample, image = truth[view["name"]]
            started = time.perf_counter()
            keys_before = who.keys
            proposals = [p.box for p in Proposal.objects.filter(run=run, image=image)]
            faces = [f for f in sample.faces if f.height >= min_height]
            uncovered = [f for f in faces if not is_covered(f, proposals)]
            entry = {
                "name": view["name"],
                "image": image.pk,
                "size": [image.width, image.height],
                "faces": len(faces),
                "covered": len(faces) - len(uncovered),
            }
            entry.update(from_candidates=0, with_p=0, keys=[], added=[], skipped=0, deleted=[])
            wrong = false_positives(list(Proposal.objects.filter(run=run, image=image)), sample)
            for proposal in sorted(wrong, key=lambda p: p.score):
                start = who.keys
                target = [proposal.x0, proposal.y0, proposal.x1 - proposal.x0, proposal.y1 - proposal.y0]
                who.select_box(target, strategy)
                who.press("Delete")
                if strategy == "before":
                    page.keyboard.press("Escape")  # the old page left nothing selected after Delete: not counted
                entry["deleted"].append(who.keys - start)
            for face in sorted(uncovered, key=lambda f: (f.x0, f.y0)):
                view = who.look()
                if is_covered(face, [Box(*corners(a)) for a in view["added"]]):
                    entry["skipped"] += 1  # a box added for another face covers this one already
                    continue
                start = who.keys
                cands = {c.pk: c.box for c in Candidate.objects.filter(run=run, image=image)}
                # Open candidates are the ones the page still draws (once shown); before, all of this image's.
                shown = {c["id"] for c in view["candidates"]} if view["candidates"] else set(cands)
                cover = [(iou(face, cands[i]), i) for i in shown if is_covered(face, [cands[i]])]
                if cover:
                    target = max(cover)[1]
                    if not view["candidates"]:
                        who.press("v")  # shows them and selects the leftmost
                    for _ in range(200):
                        view = who.look()
                        # V's order is the side list's: the open candidates strongest first.
                        ids = [row["cand"] for row in view["list"] if row["cand"] is not None]
                        chosen = {c["id"] for c in view["candidates"] if c["selected"]}
                        at = next((i for i, c in enumerate(ids) if c in chosen), None)
                        goal = ids.index(target)
                        if at == goal:
                            break
                        if at is None:
                            who.press("v")
                            continue
                        forward = (goal - at) % len(ids)
                        who.press("v" if forward <= len(ids) - forward else "Shift+V")
                    who.press("f")
                    entry["from_candidates"] += 1
                    how = "candidate"
                else:
                    if who.look()["zoom"] != 1:
                        who.press("0")  # back to the whole image: P places in the middle of the view
                    if strategy == "after":
                        who.aim(face)
                    who.press("p")
                    placed = corners(who.look()["selected"])
                    entry.setdefault("placed", []).append(placed)
                    entry["with_p"] += 1
                    how = "P"
                who.match(face)
                shown_box = corners(who.look()["selected"])
                entry["keys"].append(who.keys - start)
                entry["added"].append(
                    {"face": [face.x0, face.y0, face.x1, face.y1], "shown": shown_box, "how": how,
                     "pressed": who.pressed[start:]}
                )  # fmt: skip
            who.press("Enter")
            entry["seconds"] = time.perf_counter() - started
            entry["all_keys"] = who.keys - keys_before
            log.append(entry)
            if len(log) < len(truth):
                page.wait_for_function(f"document.getElementById('rv-name').textContent !== {view['name']!r}")
        page.wait_for_function("document.getElementById('rv-saves').dataset.pending === '0'")
        browser.close()
    return log, errors, (who.zooms, who.lost)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    near = [p / "shared" / "eval" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "eval").is_dir()]
    parser.add_argument("--eval", type=Path, default=(near or [Path("../shared/eval")])[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--port", type=int, default=18310)
    parser.add_argument(
        "--tolerance", type=float, default=2.0, help="Original pixels per edge a careful person accepts."
    )
    parser.add_argument("--upscale", type=float, default=1.0, help="Enlarge the photos (and boxes) this much first.")
    parser.add_argument("--json", type=Path, help="Also write the per-image log here.")
    parser.add_argument("--strategies", default="before,after", help="Which key strategies to run (see above).")
    args = parser.parse_args()
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not set(strategies) <= {"before", "after"}:
        sys.exit("--strategies takes before, after or both")
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is needed (apt-get install chromium)")
    from bench.embedded import embedded_veil

    data_dir = embedded_veil("keys")
    samples = pick(args.eval, args.images)
    if not samples:
        sys.exit(f"no evaluation set (*/boxes.json with images/) under {args.eval}")
    if args.upscale != 1:
        (data_dir / "upscaled").mkdir()
        samples = upscaled(samples, args.upscale, data_dir / "upscaled")
    passes = {}
    for strategy in strategies:
        run, batch, images, detect_seconds = setup(samples, strategy)
        truth = {im.relative_path: (next(s for s in samples if s.path.name == im.relative_path), im) for im in images}
        passes[strategy] = (run, batch, truth, detect_seconds)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{args.port}", "--noreload"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", args.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        results = {}
        for strategy, (run, batch, truth, _) in passes.items():
            base = f"http://127.0.0.1:{args.port}"
            results[strategy] = drive(base, batch, truth, run, args.tolerance, 16 * args.upscale, strategy)
    finally:
        server.terminate()
        server.wait(timeout=10)
    cmd = ".venv/bin/python bench/keyboard_pass.py " + " ".join(sys.argv[1:])
    print(f"command: {cmd.strip()}")
    summary = {}
    for strategy, (log, errors, zooms) in results.items():
        run, _batch, truth, detect_seconds = passes[strategy]
        print(f"\n=== strategy: {strategy} ===")
        summary[strategy] = report(args, samples, run, log, errors, detect_seconds, truth, zooms, strategy)
    print("\n=== keys, before -> after (same photos, same page, same run) ===")
    for what in ("per deletion", "per added face"):
        print(f"{what}: " + " -> ".join(f"{k}: {summary[k][what]}" for k in summary))
    if args.json:
        args.json.write_text(json.dumps({k: v[0] for k, v in results.items()}, indent=1))
    shutil.rmtree(data_dir, ignore_errors=True)


def report(args, samples, run, log, errors, detect_seconds, truth, zooms, strategy):
    min_height = 16 * args.upscale
    from bench.evalset import Sample, Tally
    from reviewer.imaging.detectors import Detection
    from reviewer.models import Proposal, Review, ReviewBox
    from reviewer.selectors.safety import is_covered

    def p90(values):
        return sorted(values)[max(0, round(0.9 * len(values)) - 1)] if values else float("nan")

    def med(values):
        return statistics.median(values) if values else float("nan")

    before, after = Tally(), Tally()
    cover_before = cover_after = faces_total = 0
    worst_saved_vs_shown = worst_shown_vs_face = worst_saved_vs_face = 0.0
    rows = []
    for entry in log:
        sample, image = truth[entry["name"]]
        big = Sample(path=sample.path, faces=[f for f in sample.faces if f.height >= min_height], ignore=sample.ignore)
        proposals = list(Proposal.objects.filter(run=run, image=image))
        before.add([Detection(p.box, p.score) for p in proposals], big)
        review = Review.objects.get(image=image, is_current=True)
        kept = list(ReviewBox.objects.filter(review=review).exclude(fate="deleted"))
        after.add([Detection(b.box, 1.0) for b in kept], big)
        cover_before += sum(is_covered(f, [p.box for p in proposals]) for f in big.faces)
        cover_after += sum(is_covered(f, [b.box for b in kept]) for f in big.faces)
        faces_total += len(big.faces)
        saved = [[b.x0, b.y0, b.x1, b.y1] for b in kept if b.fate == "added"]
        if len(saved) != len(entry["added"]):
            raise SystemExit(f"{entry['name']}: {len(entry['added'])} boxes added by keys, {len(saved)} saved")
        for add in entry["added"]:
            # The saved added box nearest to what the page showed for this face.
            row = min(saved, key=lambda s: max(abs(a - b) for a, b in zip(s, add["shown"], strict=True)))
            add["saved"] = row
            worst_saved_vs_shown = max(
                worst_saved_vs_shown, max(abs(a - b) for a, b in zip(row, add["shown"], strict=True))
            )
            worst_shown_vs_face = max(
                worst_shown_vs_face, max(abs(a - b) for a, b in zip(add["shown"], add["face"], strict=True))
            )
            worst_saved_vs_face = max(
                worst_saved_vs_face, max(abs(a - b) for a, b in zip(row, add["face"], strict=True))
            )
        rows.append(entry)

    widths = sorted(e["size"][0] for e in rows)
    print(f"set: the {len(samples)} photos of {args.eval} with the most true faces of 16 px+"
          f"{f', enlarged {args.upscale:g}x (faces of {min_height:g} px+)' if args.upscale != 1 else ''}; "
          f"{widths[0]}-{widths[-1]} px wide; detection default mode ({detect_seconds:.0f} s); viewport 1280x800; "
          f"tolerance {args.tolerance:g} px per edge")  # fmt: skip
    print("faces: true faces of 16 px+; props: of those, covered by a proposal; cand / P: added from a candidate / "
          "with P; keys: every key pressed on the image, Enter included")  # fmt: skip
    header = (
        f"{'image':48} {'faces':>5} {'props':>5} {'cand':>5} {'P':>4} {'del':>4} {'keys':>5} {'keys/face':>9} "
        f"{'keys/del':>8} {'s':>6}"
    )
    print(header)
    print("-" * len(header))
    all_keys = []
    for e in rows:
        all_keys += e["keys"]
        print(f"{e['name'][:48]:48} {e['faces']:5d} {e['covered']:5d} {e['from_candidates']:5d} {e['with_p']:4d} "
              f"{len(e['deleted']):4d} {e['all_keys']:5d} {med(e['keys']):9.1f} {med(e['deleted']):8.1f} "
              f"{e['seconds']:6.1f}")  # fmt: skip
    print("-" * len(header))
    added_c = sum(e["from_candidates"] for e in rows)
    added_p = sum(e["with_p"] for e in rows)
    keys_total, secs_total = sum(e["all_keys"] for e in rows), sum(e["seconds"] for e in rows)
    all_deleted = [k for e in rows for k in e["deleted"]]
    print(f"{'total':48} {faces_total:5d} {sum(e['covered'] for e in rows):5d} {added_c:5d} {added_p:4d} "
          f"{len(all_deleted):4d} {keys_total:5d} {med(all_keys):9.1f} {med(all_deleted):8.1f} "
          f"{secs_total:6.1f}")  # fmt: skip
    by = {"candidate": [], "P": []}
    for e in rows:
        for add, keys in zip(e["added"], e["keys"], strict=True):
            by[add["how"]].append(keys)
    print(f"keys per added face: median {med(all_keys):.0f}, p90 {p90(all_keys):.0f} (from a candidate: median "
          f"{med(by['candidate']):.0f}, p90 {p90(by['candidate']):.0f}; with P: median {med(by['P']):.0f}, "
          f"p90 {p90(by['P']):.0f}); faces skipped as covered by a box added for a neighbour: "
          f"{sum(e['skipped'] for e in rows)}")  # fmt: skip
    print(f"keys per deleted false positive (proposals covering no true face nor ignore region): "
          f"{len(all_deleted)} deleted, median {med(all_deleted):.0f}, p90 {p90(all_deleted):.0f}, mean "
          f"{statistics.mean(all_deleted) if all_deleted else float('nan'):.2f}")  # fmt: skip
    secs = [e["seconds"] for e in rows]
    print(f"seconds per image (this driver, every key waits for the page): median {med(secs):.1f}, p90 {p90(secs):.1f}")
    print(f"recall on faces of 16 px+ (IoU >= 0.5): proposals {before.recall():.3f} -> "
          f"saved boxes {after.recall():.3f}; covered (IoU >= 0.3 or centre held): "
          f"{cover_before / faces_total:.3f} -> {cover_after / faces_total:.3f}")  # fmt: skip
    print(f"max error, original px: saved vs shown before Enter {worst_saved_vs_shown:.3f}; shown vs the face meant "
          f"{worst_shown_vs_face:.2f}; saved vs the face meant {worst_saved_vs_face:.2f}")  # fmt: skip
    placed = [(p, e["size"]) for e in rows for p in e.get("placed", [])]
    if placed and strategy == "before":
        off = max(max(abs((p[0] + p[2]) / 2 - w / 2), abs((p[1] + p[3]) / 2 - h / 2)) for p, (w, h) in placed)
        sizes = " ".join(sorted({f"{round(p[2] - p[0])}x{round(p[3] - p[1])}" for p, _ in placed}))
        print(
            f"P with no pointer (the mouse never moved): {len(placed)} boxes, each in the middle of the view at the "
            f"whole image (at most {off:.1f} px from the image's centre), sized {sizes}"
        )
    kinds = {"V / Shift+V / F": ("v", "Shift+V", "f"), "P": ("p",), "+ (zoom in)": ("+",), "0 (whole image)": ("0",),
             "1-9 (aim)": tuple("123456789")}  # fmt: skip
    counts = {
        k: sum(key in keys for e in rows for a in e["added"] for key in a["pressed"]) for k, keys in kinds.items()
    }
    arrows = sum(
        key.endswith(("Left", "Right", "Up", "Down")) for e in rows for a in e["added"] for key in a["pressed"]
    )
    print(f"keys for the added faces: arrows {arrows}, " + ", ".join(f"{k} {n}" for k, n in counts.items()))
    print(f"+ pressed while fitting a box: {zooms[0]} times; the box was then not wholly on screen: {zooms[1]} times")
    print(f"page errors: {errors or 'none'}")
    return {
        "per deletion": f"median {med(all_deleted):.0f}, p90 {p90(all_deleted):.0f} ({len(all_deleted)} deleted)",
        "per added face": f"median {med(all_keys):.0f}, p90 {p90(all_keys):.0f} ({len(all_keys)} added)",
    }


if __name__ == "__main__":
    main()
