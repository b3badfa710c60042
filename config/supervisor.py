"""Runs the Celery worker and the beat scheduler as two processes, and starts again whichever one dies.

Beat used to run inside the worker (`celery worker --beat`): a killed worker left its beat orphaned (and a
restart then ran two), and a killed beat was never started again, so reconcile stopped without a word. Here:
- each child is its own process, started again after it exits (1 s, doubling up to 30 s while it keeps dying
  within a minute of its start), with a line in the log saying which one, how it ended and when it restarts;
- each child gets SIGTERM when the supervisor dies, however it dies (Linux PR_SET_PDEATHSIG): nothing is
  orphaned, and a new supervisor starts from a clean slate;
- beat holds a pidfile in the data folder: a second beat on the same machine refuses to start (it is tried
  again later, so it takes over when the first one is gone).
No Django in here: `manage.py run_workers` builds the commands from the settings.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger("veil.supervisor")

PR_SET_PDEATHSIG = 1
FIRST_DELAY, MAX_DELAY, HEALTHY_AFTER = 1.0, 30.0, 60.0


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor goes (only on Linux; elsewhere a no-op)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started: float = 0.0
    delay: float = FIRST_DELAY
    restart_at: float | None = None
    restarts: int = 0
    env: dict[str, str] = field(default_factory=dict)
    pidfile: Path | None = None  # beat's: a pidfile naming a process that is not a beat is cleared before a start

    def start(self) -> None:
        if self.pidfile is not None:
            clear_stale_pidfile(self.pidfile, self.name)
        self.process = subprocess.Popen(
            self.argv, env={**os.environ, **self.env}, preexec_fn=_die_with_parent, start_new_session=True
        )
        self.started, self.restart_at = time.monotonic(), None
        logger.warning("supervisor: %s started (pid %d)", self.name, self.process.pid)

    def exited(self) -> int | None:
        return self.process.poll() if self.process is not None else None


def clear_stale_pidfile(pidfile: Path, name: str) -> None:
    """Remove `pidfile` if the process it names is gone or is not a `celery ... <name>` (after a reboot the pid
    may belong to anything); a live beat's pidfile stays, and the new beat then refuses to start."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        if pidfile.exists() and Path("/proc/self").exists():
            pidfile.unlink(missing_ok=True)  # its process is gone
        return
    except (OSError, ValueError):
        return
    if b"celery" not in b" ".join(cmdline) or name.encode() not in cmdline:
        logger.warning("supervisor: %s names pid %d, which is not a %s; removing it", pidfile, pid, name)
        pidfile.unlink(missing_ok=True)


def _how(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class Supervisor:
    def __init__(self, children: list[Child], *, stop_timeout: float = 60.0):
        self.children = children
        self.stop_timeout = stop_timeout
        self._stopping = False

    def _on_signal(self, signum, _frame) -> None:
        self._stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for child in self.children:
            child.start()
        while not self._stopping:
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.restarts += 1
                        child.start()
                    continue
                code = child.exited()
                if code is None:
                    continue
                lived = now - child.started
                delay = FIRST_DELAY if lived >= HEALTHY_AFTER else child.delay
                child.restart_at, child.delay = now + delay, min(delay * 2, MAX_DELAY)
                logger.error(
                    "supervisor: %s (pid %d) %s after %.0f s; starting it again in %.0f s",
                    child.name, child.process.pid, _how(code), lived, delay,
                )  # fmt: skip
            time.sleep(0.2)
        self.stop()
        return 0

    def stop(self) -> None:
        """SIGTERM to each child (their own shutdown: the worker finishes or hands back its tasks), then SIGKILL
        to the process group of any child still there after `stop_timeout`."""
        live = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in live:
            logger.warning("supervisor: stopping %s (pid %d)", child.name, child.process.pid)
            child.process.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for child in live:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.error("supervisor: %s did not stop in time; killing it", child.name)
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()


def celery_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "config", *args]
