"""config/supervisor.py without Celery: restarts with backoff and the log line, and stale beat pidfiles."""

from __future__ import annotations

import os
import sys
import threading
import time

from config.supervisor import Child, Supervisor, clear_stale_pidfile


def test_a_pidfile_naming_a_process_that_is_not_beat_is_cleared(tmp_path):
    pidfile = tmp_path / "celerybeat.pid"
    pidfile.write_text(str(os.getpid()))  # after a reboot the pid may be anyone's: here, pytest's
    clear_stale_pidfile(pidfile, "beat")
    assert not pidfile.exists()

    pidfile.write_text("999999999")  # no such process
    clear_stale_pidfile(pidfile, "beat")
    assert not pidfile.exists()

    clear_stale_pidfile(pidfile, "beat")  # none at all: nothing to do
    assert not pidfile.exists()


def test_a_child_that_dies_is_started_again_and_the_log_says_so(tmp_path, caplog):
    marker = tmp_path / "starts"
    script = f"open({str(marker)!r}, 'a').write('x'); import sys; sys.exit(3)"
    child = Child("beat", [sys.executable, "-c", script])
    supervisor = Supervisor([child], stop_timeout=5)
    stopper = threading.Timer(4.0, lambda: setattr(supervisor, "_stopping", True))
    stopper.start()
    caplog.set_level("WARNING", logger="veil.supervisor")
    started = time.monotonic()

    assert threading.current_thread() is threading.main_thread()  # run() installs signal handlers
    assert supervisor.run() == 0

    assert time.monotonic() - started < 15
    starts = len(marker.read_text())
    assert 2 <= starts <= 3  # at 0 s, then 1 s and 2 s later (backoff doubling while it keeps dying)
    assert "beat (pid" in caplog.text
    assert "exited with code 3" in caplog.text
    assert "starting it again in 1 s" in caplog.text
    assert "starting it again in 2 s" in caplog.text
