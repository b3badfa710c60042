"""`manage.py run_workers`: the worker and beat as two supervised processes (config/supervisor.py), with a real
worker and beat on the suite's broker and test database. A killed beat or worker is started again and reconcile
goes on; a killed supervisor takes its children with it, so a new one never makes two beats."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from reviewer.models import PeriodicRun
from tests.conftest import ROOT, purge_broker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _children(pid: int) -> dict[int, str]:
    """Direct children of `pid`: their pids and command lines."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _beats(pidfile: Path) -> list[int]:
    """Live beat processes of this test (their command line names its pidfile)."""
    out = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            text = cmdline.read_bytes().replace(b"\0", b" ").decode()
            if " beat " in text and str(pidfile) in text and _alive(int(cmdline.parent.name)):
                out.append(int(cmdline.parent.name))
    return out


class Supervised:
    def __init__(self, tmp_path: Path, settings):
        self.data = tmp_path / "data"
        self.log_path = tmp_path / "run_workers.log"
        self.env = {
            **os.environ,
            "VEIL_DATA_DIR": str(self.data),
            "VEIL_DATABASE_NAME": str(connection.settings_dict["NAME"]),
            "VEIL_MEDIA_DIR": str(settings.MEDIA_ROOT),
            "VEIL_EXPORT_DIR": str(settings.VEIL_EXPORT_DIR),
            "VEIL_RECONCILE_EVERY_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
        }
        if str(settings.CELERY_BROKER_URL).startswith("filesystem://"):
            # The beat and the worker share the data folder's file broker; keep it the suite's own.
            self.env["VEIL_DATA_DIR"] = str(settings.VEIL_DATA_DIR)
            self.data = Path(settings.VEIL_DATA_DIR)
        self.pidfile = self.data / "celerybeat.pid"
        self.process: subprocess.Popen | None = None
        self.seen: set[int] = set()

    def start(self) -> Supervised:
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_workers", "--concurrency=1"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        return self

    def child(self, name: str) -> int | None:
        for pid, cmdline in _children(self.process.pid).items():
            if f"config {name} " in cmdline and _alive(pid):
                self.seen.add(pid)
                return pid
        return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def cleanup(self) -> None:
        for pid in [*self.seen, *(_children(self.process.pid) if self.process else {})]:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)  # each child leads its own process group
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def _wait(predicate, timeout: float, supervised: Supervised, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; log:\n{supervised.log()[-4000:]}")


def _reconciled_since(moment) -> bool:
    run = PeriodicRun.objects.filter(name="reconcile").first()
    return bool(run and run.finished_at and run.finished_at > moment)


def test_a_killed_beat_or_worker_is_started_again_and_reconcile_goes_on(tmp_path, settings):
    with contextlib.suppress(Exception):  # a queue that does not exist yet has nothing to purge
        purge_broker()
    supervised = Supervised(tmp_path, settings).start()
    try:
        _wait(lambda: _reconciled_since(timezone.now() - timezone.timedelta(days=1)), 120, supervised, "reconcile")
        beat = _wait(lambda: supervised.child("beat"), 30, supervised, "beat")
        worker = _wait(lambda: supervised.child("worker"), 30, supervised, "the worker")
        assert int(supervised.pidfile.read_text()) == beat

        # Beat killed (OOM, a mistaken kill): it is reaped, started again, and reconcile runs again.
        os.kill(beat, signal.SIGKILL)
        killed, killed_at = timezone.now(), time.monotonic()
        new_beat = _wait(lambda: (p := supervised.child("beat")) and p != beat and p, 60, supervised, "a new beat")
        _wait(lambda: _reconciled_since(killed), 60, supervised, "reconcile after beat was killed")
        print(f"reconcile ran again {time.monotonic() - killed_at:.1f} s after beat was SIGKILLed")
        assert not _alive(beat)  # reaped, not left a zombie
        assert f"beat (pid {beat}) was killed by SIGKILL" in supervised.log()
        assert _beats(supervised.pidfile) == [new_beat]

        # The whole worker killed (main process and pool): beat is untouched, a new worker takes reconcile.
        os.killpg(worker, signal.SIGKILL)
        killed = timezone.now()
        _wait(lambda: (p := supervised.child("worker")) and p != worker and p, 60, supervised, "a new worker")
        _wait(lambda: _reconciled_since(killed), 90, supervised, "reconcile after the worker was killed")
        assert f"worker (pid {worker}) was killed by SIGKILL" in supervised.log()
        assert supervised.child("beat") == new_beat

        # The supervisor itself killed: its children go with it (nothing orphaned)...
        children = [supervised.child("beat"), supervised.child("worker")]
        supervised.process.kill()
        supervised.process.wait(timeout=30)
        _wait(lambda: not any(_alive(p) for p in children), 90, supervised, "the children to stop with it")

        # ...so a new supervisor runs exactly one beat, and reconcile goes on.
        restarted = timezone.now()
        supervised.start()
        _wait(lambda: _reconciled_since(restarted), 120, supervised, "reconcile after the restart")
        assert len(_beats(supervised.pidfile)) == 1

        # A clean stop (SIGTERM, as Ctrl+C in bin/run or docker stop): both children stop, the pidfile goes.
        supervised.process.terminate()
        assert supervised.process.wait(timeout=90) == 0
        assert _beats(supervised.pidfile) == []
        assert not supervised.pidfile.exists()
    finally:
        supervised.cleanup()


def test_a_second_beat_on_the_same_data_folder_refuses_to_start(tmp_path, settings):
    supervised = Supervised(tmp_path, settings)
    first = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", f"--pidfile={supervised.pidfile}",
         f"--schedule={tmp_path / 'schedule'}"],
        cwd=ROOT, env=supervised.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        _wait(lambda: supervised.pidfile.exists(), 60, supervised, "the first beat's pidfile")
        second = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "config", "beat", f"--pidfile={supervised.pidfile}",
             f"--schedule={tmp_path / 'schedule2'}"],
            cwd=ROOT, env=supervised.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second.returncode != 0
        assert "already exists" in second.stderr + second.stdout
        assert first.poll() is None
    finally:
        first.kill()
        first.wait(timeout=30)
