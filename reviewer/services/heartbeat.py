"""A heartbeat thread for a row a worker is on: it calls `beat` every few seconds while the work runs, so a slow
step (a huge image, a thorough pass) never looks like a lost worker, and stops once `beat` says the row is no
longer ours (taken over, finished)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import connection, connections

logger = logging.getLogger(__name__)


class RowHeartbeat:
    """Calls `beat()` every `every` seconds from a thread between __enter__ and __exit__.

    `beat` returns whether the row is still ours; False stops the thread. Inside an open transaction (a test,
    a caller's atomic block) there is no thread: its own connection could not see the row, and would wait on
    its lock.
    """

    def __init__(self, beat: Callable[[], bool], *, every: float, name: str):
        self.beat, self.every, self.name = beat, every, name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    if not self.beat():
                        return
                except Exception:
                    logger.exception("%s: heartbeat failed", self.name)
        finally:
            connections.close_all()  # this thread's own connection

    def __enter__(self) -> RowHeartbeat:
        if not connection.in_atomic_block:
            self._thread = threading.Thread(target=self._run, name=f"{self.name}-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
