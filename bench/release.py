"""The machine-side release on a folder of images with boxes, with one worker and then two: does it scale out?

    .venv/bin/python bench/release.py [--images ../shared/eval/wider-dev/images]
        [--boxes ../shared/eval/wider-dev/boxes.json] [--copies 2] [--chunk-size 16]
        [--database-url postgres://postgres@127.0.0.1:5432/veil_release_bench] [--broker-url redis://127.0.0.1:6379/13]

For each worker count (1, then 2), on a fresh dataset of the same images (`--copies` adds mirrored copies, each a
distinct image, so there is enough work to time): import (in this process), detection with Veil's defaults (the
safety net's two detectors) through real Celery workers, approval of the given boxes (annotations_import, as
`import_annotations --as approved` does), and the export with the defaults (zip, residual check on every output)
through the same workers. Each worker is one process pinned to its own core with `taskset` (what two machines
do). Printed: wall time per stage, the speedup from one worker to two, core-seconds per image by stage (the
workers' CPU time from /proc, this process's for import and approval), the export's own stages (plan, chunks,
assembly, from its rows), and the estimate for a 1.5 M-image release on N machines like this one (2 cores: two
workers each), assuming the measured scaling efficiency holds and import is split into jobs that run in parallel
(one per folder, as ImageNet's 1,000 class folders would be). The assembly is one task: its time does not shrink
with machines and is estimated as measured per image.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--images", type=Path, default=ROOT.parent / "shared/eval/wider-dev/images")
parser.add_argument("--boxes", type=Path, default=ROOT.parent / "shared/eval/wider-dev/boxes.json")
parser.add_argument("--copies", type=int, default=2, help="1: the images; 2: plus a mirrored copy of each.")
parser.add_argument("--chunk-size", type=int, default=16, help="Images per export chunk (VEIL_EXPORT_CHUNK_SIZE).")
parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/veil_release_bench")
parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/13")
parser.add_argument("--workers", default="1,2", help="Worker counts to run, in order.")
parser.add_argument("--target-images", type=int, default=1_500_000)
args = parser.parse_args()
if "test_" in args.database_url.rsplit("/", 1)[-1]:
    sys.exit("Refusing to use a test database.")

DATA = Path(tempfile.mkdtemp(prefix="veil-release-"))
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DATABASE_URL": args.database_url,
    "CELERY_BROKER_URL": args.broker_url,
    "VEIL_DATA_DIR": str(DATA),
    "VEIL_EXPORT_CHUNK_SIZE": str(args.chunk_size),
}
os.environ.update(ENV)


def ensure_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


ensure_database(args.database_url)
import django

django.setup()
from django.core.management import call_command

call_command("migrate", verbosity=0)

from PIL import Image as PILImage

from reviewer.models import DetectionRun, Export, ExportChunk, User
from reviewer.services.annotations import annotations_import
from reviewer.services.detection import detection_run_start
from reviewer.services.export import export_start
from reviewer.services.ingest import dataset_get_or_create, import_path

TICKS = os.sysconf("SC_CLK_TCK")


def prepare_folder() -> tuple[Path, dict[str, list[list[float]]]]:
    """The images (and mirrored copies) in one folder, with their boxes by file name."""
    truth = json.loads(args.boxes.read_text())["faces"]
    folder = DATA / "source"
    folder.mkdir()
    boxes = {}
    for path in sorted(args.images.iterdir()):
        if path.name not in truth:
            continue
        shutil.copyfile(path, folder / path.name)
        boxes[path.name] = truth[path.name]
        for copy in range(1, args.copies):
            with PILImage.open(path) as im:
                mirrored = im.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT)
                name = f"{path.stem}-m{copy}{path.suffix}"
                mirrored.save(folder / name, quality=95)
                w = im.width
            boxes[name] = [[w - x1, y0, w - x0, y1] for x0, y0, x1, y1 in truth[path.name]]
    return folder, boxes


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their live and reaped children (the prefork pool)."""
    total = 0.0
    seen = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        pid = int(stat.parent.name)
        fields = text.rsplit(")", 1)[1].split()
        ppid = int(fields[1])
        if pid in pids or ppid in pids:
            if pid in seen:
                continue
            seen.add(pid)
            utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
            total += (utime + stime + cutime + cstime) / TICKS
    return total


class Workers:
    def __init__(self, count: int):
        self.count = count
        self.procs: list[subprocess.Popen] = []

    def __enter__(self):
        for core in range(self.count):
            log = open(DATA / f"worker-{self.count}-{core}.log", "ab")
            cmd = [
                "taskset", "-c", str(core), sys.executable, "-m", "celery", "-A", "config", "worker",
                "--loglevel=WARNING", "--concurrency=1", "--pool=prefork", "--without-gossip", "--without-mingle",
                "--without-heartbeat", "-Q", "celery", "-n", f"release-{self.count}-{core}@%h",
            ]  # fmt: skip
            self.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT))
        time.sleep(8)  # the workers import Django and connect
        return self

    def cpu(self) -> float:
        return cpu_seconds([p.pid for p in self.procs])

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()


def wait(predicate, what: str, timeout: float = 7200) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.25)


def release(workers: int, folder: Path, boxes: dict, admin) -> dict:
    from celery import current_app

    current_app.control.purge()
    dataset, _ = dataset_get_or_create(name=f"release-{workers}w-{time.time_ns()}", user=admin)
    out: dict = {"workers": workers}
    cpu0, t0 = time.process_time(), time.perf_counter()
    job = import_path(dataset=dataset, path=folder, user=admin)
    out["import"] = (time.perf_counter() - t0, time.process_time() - cpu0)
    n = dataset.images.count()
    out["images"] = n
    assert job.status == "done", job.error
    with Workers(workers) as pool:
        c0, t0 = pool.cpu(), time.perf_counter()
        run = detection_run_start(dataset=dataset, detector="centerface", settings={}, user=admin)
        wait(lambda: DetectionRun.objects.get(pk=run.pk).status in ("done", "failed"), "detection")
        out["detect"] = (time.perf_counter() - t0, pool.cpu() - c0)
        cpu0, t0 = time.process_time(), time.perf_counter()
        doc = [{"url": name, "bboxes": [dict(zip(("x0", "y0", "x1", "y1"), b, strict=True)) for b in bs]}
               for name, bs in boxes.items()]  # fmt: skip
        annotations_import(dataset=dataset, data=json.dumps(doc).encode(), import_as="approved", user=admin)
        out["approve"] = (time.perf_counter() - t0, time.process_time() - cpu0)
        c0, t0 = pool.cpu(), time.perf_counter()
        export = export_start(dataset=dataset, options={}, user=admin, gate_override="benchmark")
        wait(lambda: Export.objects.get(pk=export.pk).status in ("done", "failed"), "the export")
        out["export"] = (time.perf_counter() - t0, pool.cpu() - c0)
    export.refresh_from_db()
    assert export.status == "done", export.error
    chunks = ExportChunk.objects.filter(export=export)
    first = min(c.started_at for c in chunks)
    last = max(c.finished_at for c in chunks)
    out["plan_s"] = (first - export.started_at).total_seconds()
    out["chunks_s"] = (last - first).total_seconds()
    out["assemble_s"] = (export.finished_at - last).total_seconds()
    out["chunk_s"] = statistics.median((c.finished_at - c.started_at).total_seconds() for c in chunks)
    out["chunks"] = chunks.count()
    return out


def main() -> None:
    folder, boxes = prepare_folder()
    admin, _ = User.objects.get_or_create(username="release-admin", defaults={"role": User.Role.ADMIN})
    results = [release(int(w), folder, boxes, admin) for w in args.workers.split(",")]
    print(f"\nbench/release.py: {results[0]['images']} images ({args.images}, copies {args.copies}), export chunks of "
          f"{args.chunk_size}; each worker one process pinned to its own core; PostgreSQL + Redis")  # fmt: skip
    print(f"{'workers':>7} | {'import s':>8} | {'detect s':>8} | {'approve s':>9} | {'export s':>8} | "
          f"{'plan s':>6} | {'chunks s':>8} | {'assemble s':>10} | chunk median s")  # fmt: skip
    for r in results:
        print(f"{r['workers']:>7} | {r['import'][0]:8.1f} | {r['detect'][0]:8.1f} | {r['approve'][0]:9.1f} | "
              f"{r['export'][0]:8.1f} | {r['plan_s']:6.2f} | {r['chunks_s']:8.1f} | {r['assemble_s']:10.2f} | "
              f"{r['chunk_s']:.2f} ({r['chunks']} chunks)")  # fmt: skip
    n = results[-1]["images"]
    print("\ncore-seconds per image (workers' CPU for detection and export, this process's for import, approval):")
    for r in results:
        print(f"  {r['workers']} worker(s): import {r['import'][1] / n:.4f}, detect {r['detect'][1] / n:.3f}, "
              f"approve {r['approve'][1] / n:.4f}, export {r['export'][1] / n:.3f}")  # fmt: skip
    if len(results) < 2:
        return
    one, two = results[0], results[-1]
    det_speedup = one["detect"][0] / two["detect"][0]
    exp_speedup = one["export"][0] / two["export"][0]
    render_speedup = one["chunks_s"] / two["chunks_s"] if two["chunks_s"] else float("nan")
    print(f"\nspeedup, 1 -> {two['workers']} workers: detection {det_speedup:.2f}x, export {exp_speedup:.2f}x "
          f"(its chunks alone {render_speedup:.2f}x; plan and assembly are one task each)")  # fmt: skip

    # The estimate: per-image core-seconds from the two-worker run, the scaling efficiency measured above, and the
    # export's serial parts (plan, assembly) at their measured rate per image.
    target = args.target_images
    eff_det = min(1.0, det_speedup / two["workers"])
    eff_exp = min(1.0, render_speedup / two["workers"])
    det_cs = two["detect"][1] / n
    export_cpu_serial = (two["plan_s"] + two["assemble_s"]) / n
    render_cs = max(0.0, two["export"][1] / n - export_cpu_serial)
    import_cs, approve_s = two["import"][1] / n, two["approve"][0] / n
    print(f"\nestimate for {target:,} images with the default safety net (2 workers per machine, as here):")
    print("  machines | import | detection | approval | export chunks | export plan+assembly (serial) | total")
    for machines in (1, 4, 8, 16, 32):
        cores = 2 * machines
        t_imp = target * import_cs / cores
        t_det = target * det_cs / (cores * eff_det)
        t_app = target * approve_s  # one transaction per import file; split per folder in practice
        t_ren = target * render_cs / (cores * eff_exp)
        t_ser = target * export_cpu_serial
        total = t_imp + t_det + t_app + t_ren + t_ser
        print(f"  {machines:>8} | {t_imp / 3600:5.1f}h | {t_det / 3600:8.1f}h | {t_app / 3600:7.1f}h | "
              f"{t_ren / 3600:12.1f}h | {t_ser / 3600:28.1f}h | {total / 3600:5.1f}h")  # fmt: skip
    print(f"\nreproduce: {shlex.join([sys.executable, *sys.argv])}")
    shutil.rmtree(DATA, ignore_errors=True)


if __name__ == "__main__":
    main()
