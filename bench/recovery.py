"""Time to recover from the faults of issue 20 items 3-5, with the production parts and the default timings.

Starts its own Redis (so it can stop it), migrates a dedicated PostgreSQL database, and runs
`manage.py run_workers --concurrency=1` (a supervised worker and beat) with Veil's default timing settings
(heartbeat 5 s, stale 30 s, reconcile every 30 s). Then, one after the other:
1. the whole worker SIGKILLed mid-chunk (thorough detection of 16 photographs, one chunk): seconds from the
   kill until reconcile sends the chunk again, and until that chunk is done by the new worker;
2. beat SIGKILLed: seconds until reconcile has run again;
3. an import queued while Redis is down: seconds from Redis being back until the import is done.
Before this work (issue 20) the same faults took 768 s at the lowest reconcile age the check allowed (15-16 min
at the default), never (beat), and 12 min 31 s (imports): the old code's figures are those of the issue, not
measured again here (each would take a quarter of an hour).

    .venv/bin/python bench/recovery.py [--database-url postgres://postgres@127.0.0.1:5432/veil_recovery_bench]
                                       [--redis-port 18551]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/veil_recovery_bench")
parser.add_argument("--redis-port", type=int, default=18551)
args = parser.parse_args()
if "test_" in args.database_url.rsplit("/", 1)[-1]:
    sys.exit("Refusing to use a test database.")


def ensure_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


class Redis:
    def __init__(self, port: int, folder: Path):
        self.port, self.folder, self.process = port, folder, None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        while (
            subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout.strip() != b"PONG"
        ):
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


data_dir = Path(tempfile.mkdtemp(prefix="veil-recovery-"))
redis = Redis(args.redis_port, data_dir)
redis.start()
ensure_database(args.database_url)
os.environ.update(
    DATABASE_URL=args.database_url,
    CELERY_BROKER_URL=f"redis://127.0.0.1:{args.redis_port}/0",
    VEIL_DATA_DIR=str(data_dir),
    DJANGO_SETTINGS_MODULE="config.settings",
)
for name in ("VEIL_WORKER_HEARTBEAT_SECONDS", "VEIL_WORKER_STALE_SECONDS", "VEIL_RECONCILE_EVERY_SECONDS"):
    os.environ.pop(name, None)  # the defaults are what is measured
import django

django.setup()
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

call_command("migrate", verbosity=0)
from reviewer import jobs
from reviewer.models import Dataset, DetectionChunk, DetectionResult, ImportJob, PeriodicRun
from reviewer.services.detection import detection_run_start
from reviewer.services.imports import import_queue


def children(pid: int) -> dict[int, str]:
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
    return found


def child(supervisor: subprocess.Popen, name: str) -> int | None:
    return next((p for p, c in children(supervisor.pid).items() if f"config {name} " in c), None)


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}; log in {data_dir / 'run_workers.log'}")


def reconciled_since(moment) -> bool:
    run = PeriodicRun.objects.filter(name="reconcile").first()
    return bool(run and run.finished_at and run.finished_at > moment)


def photographs(n: int, seed: int = 0) -> list[ContentFile]:
    """Distinct JPEG files of skimage's astronaut (a corner block differs), as uploads."""
    import cv2
    from skimage import data as samples

    files = []
    for i in range(n):
        pixels = samples.astronaut()[:, :, ::-1].copy()
        pixels[-16:, -16:] = ((i + seed) * 37 % 256, (i + seed) * 91 % 256, (255 - i - seed) % 256)
        files.append(ContentFile(cv2.imencode(".jpg", pixels)[1].tobytes(), name=f"{seed}-{i:03d}.jpg"))
    return files


log = open(data_dir / "run_workers.log", "ab")  # noqa: SIM115
supervisor = subprocess.Popen(
    [sys.executable, "manage.py", "run_workers", "--concurrency=1"],
    cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
)  # fmt: skip
try:
    age = settings.VEIL_RECONCILE_AFTER_SECONDS
    print(f"settings: heartbeat {jobs.worker_heartbeat_seconds()} s, stale {jobs.worker_stale_seconds()} s, "
          f"reconcile every {jobs.reconcile_every_seconds()} s, reconcile age {age} s")  # fmt: skip
    started = timezone.now()
    wait(lambda: reconciled_since(started), 180, "the first reconcile")

    # 1. The whole worker SIGKILLed mid-chunk.
    dataset = Dataset.objects.create(name=f"recovery-{int(time.time())}")
    imported = import_queue(dataset=dataset, files=photographs(16))  # one chunk: nothing else ahead of it
    wait(lambda: ImportJob.objects.filter(pk=imported.pk, status="done").exists(), 300, "the photographs' import")
    run = detection_run_start(dataset=dataset, detector="centerface", settings={"thorough": True}, user=None)
    wait(lambda: DetectionResult.objects.filter(run=run).count() >= 2, 300, "the first results")
    worker = child(supervisor, "worker")
    os.killpg(worker, signal.SIGKILL)
    killed, t0 = timezone.now(), time.monotonic()
    dead = DetectionChunk.objects.get(run=run, status=DetectionChunk.Status.RUNNING)
    done_before = DetectionResult.objects.filter(run=run, image_id__in=dead.image_ids).count()
    wait(lambda: DetectionChunk.objects.filter(pk=dead.pk, queued_at__gt=killed).exists(), 600, "the re-send")
    resent = time.monotonic() - t0
    wait(lambda: DetectionChunk.objects.filter(pk=dead.pk, status="done").exists(), 600, "the chunk")
    redone = time.monotonic() - t0
    print(f"1. worker SIGKILLed with {done_before} of {len(dead.image_ids)} images of its chunk done: chunk sent "
          f"again after {resent:.1f} s, done by the new worker after {redone:.1f} s")  # fmt: skip
    wait(lambda: not DetectionChunk.objects.filter(run=run).exclude(status="done").exists(), 600, "the run")

    # 2. Beat SIGKILLed.
    beat = wait(lambda: child(supervisor, "beat"), 60, "beat")
    os.kill(beat, signal.SIGKILL)
    t0 = time.monotonic()
    wait(lambda: (p := child(supervisor, "beat")) and p != beat, 120, "a new beat")
    respawned, new_beat_at = time.monotonic() - t0, timezone.now()
    # The first reconcile the new beat sent: one that started after it did, and finished.
    wait(
        lambda: PeriodicRun.objects.filter(
            name="reconcile", started_at__gt=new_beat_at, finished_at__gt=F("started_at")
        ).exists(),
        300,
        "reconcile after the beat kill",
    )
    print(f"2. beat SIGKILLed: started again after {respawned:.1f} s, the first reconcile it sent finished after "
          f"{time.monotonic() - t0:.1f} s")  # fmt: skip

    # 3. An import queued while Redis is down.
    redis.stop()
    try:
        job = import_queue(dataset=dataset, files=photographs(4, seed=100))
    except jobs.BrokerUnavailable:
        job = ImportJob.objects.order_by("-pk").first()
    assert job.sent_at is None, "the broker was down: the import must be kept as not sent"
    time.sleep(5)
    redis.start()
    t0 = time.monotonic()
    wait(lambda: ImportJob.objects.filter(pk=job.pk, status="done").exists(), 900, "the import")
    print(f"3. import queued while Redis was down: done {time.monotonic() - t0:.1f} s after Redis was back")
finally:
    supervisor.terminate()
    try:
        supervisor.wait(timeout=90)
    except subprocess.TimeoutExpired:
        supervisor.kill()
    redis.stop()
shutil.rmtree(data_dir, ignore_errors=True)  # kept, with its log, when a step timed out
print("command: .venv/bin/python bench/recovery.py " + " ".join(sys.argv[1:]))
