"""Periodic steps record their runs, so a stopped scheduler shows on the health page and /health instead of
going unnoticed (a dead beat sends nothing, and nothing else would say so)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from reviewer.models import PeriodicRun

RECONCILE_STEP = PeriodicRun.RECONCILE


def periodic_run_started(*, name: str, now: datetime | None = None) -> None:
    """Record that the step `name` started now (its row is made the first time)."""
    PeriodicRun.objects.update_or_create(name=name, defaults={"started_at": now or timezone.now()})


def periodic_run_finished(*, name: str, report: dict[str, Any], now: datetime | None = None) -> None:
    """Record a successful run of `name` and what it did (counts); clears the last failure's reason."""
    PeriodicRun.objects.update_or_create(
        name=name, defaults={"finished_at": now or timezone.now(), "report": report, "error": ""}
    )


def periodic_run_failed(*, name: str, error: str, now: datetime | None = None) -> None:
    """Record a failed run of `name` with its reason; the last successful run's time stays as it was."""
    PeriodicRun.objects.update_or_create(name=name, defaults={"failed_at": now or timezone.now(), "error": error})
