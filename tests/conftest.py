"""Fixtures shared by the whole suite: private media per test, a real Celery worker, logged-in clients."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from reviewer import jobs
from tests.factories import AdminFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Every test writes its files under its own temporary folder (and hashes passwords cheaply)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VEIL_EXPORT_DIR = tmp_path / "exports"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "exports"},
        },
    }


@pytest.fixture
def admin_user(db):
    return AdminFactory(username="alice-admin")


@pytest.fixture
def reviewer_user(db):
    return UserFactory(username="rob-reviewer")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def reviewer_client(client, reviewer_user):
    client.force_login(reviewer_user)
    return client


class WorkerProcess:
    """A `celery -A config worker` child process on the suite's broker and test database."""

    def __init__(
        self, tmp_path: Path, media_root: Path, export_dir: Path, concurrency: int = 1, env: dict | None = None
    ):
        self.ready_file = tmp_path / f"worker-ready-{uuid.uuid4().hex}"
        self.log_path = tmp_path / "worker.log"
        self.env = {
            **os.environ,
            "VEIL_DATABASE_NAME": str(connection.settings_dict["NAME"]),
            "VEIL_WORKER_READY_FILE": str(self.ready_file),
            "VEIL_MEDIA_DIR": str(media_root),  # where the test that started it reads and writes
            "VEIL_EXPORT_DIR": str(export_dir),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> WorkerProcess:
        self.ready_file.unlink(missing_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={self.concurrency}",
                "--pool=prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--queues={','.join(jobs.QUEUES)}",
                "-n",
                f"test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited at start:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Celery worker was not ready after {timeout}s:\n{self.log()}")
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crash or OOM kill would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            # The main process only: it stops its pool children itself (signalling the group makes it respawn
            # them mid-shutdown and hang).
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def pool_children(self) -> list[int]:
        """Pids of the worker's prefork pool processes (the children that run the tasks)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if self.process and int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def purge_broker() -> None:
    """Drop messages that earlier tests left on the queue, so each worker test starts clean."""
    from config.celery import app

    with app.connection_for_write() as conn:
        for queue in jobs.QUEUES:
            with contextlib.suppress(Exception):  # a queue that does not exist yet has nothing to purge
                conn.default_channel.queue_purge(queue)


@pytest.fixture
def celery_worker(transactional_db, settings, tmp_path):
    """A real worker process on the configured broker (Redis in CI, the file broker elsewhere).

    Tests that use it must commit their data (transactional_db), since the worker reads through its own
    connection.
    """
    with contextlib.suppress(Exception):  # a queue that does not exist yet has nothing to purge
        purge_broker()
    worker = WorkerProcess(tmp_path, Path(settings.MEDIA_ROOT), Path(settings.VEIL_EXPORT_DIR))
    worker.start()
    yield worker
    worker.stop()
