"""System checks for the timing rules of jobs and leases: numbers that must agree, checked at start.

`manage.py check` (and runserver, migrate) fail when one does not hold, instead of a comment saying it should.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from reviewer import jobs


@register("veil")
def check_job_timing(app_configs=None, **kwargs) -> list[Error]:
    errors: list[Error] = []
    for job in jobs.JOBS.values():
        if job.soft_time_limit >= job.time_limit:
            errors.append(
                Error(
                    f"{job.name}: the soft time limit ({job.soft_time_limit} s) must be below the hard one "
                    f"({job.time_limit} s), or the task never gets the chance to stop cleanly.",
                    id="veil.E001",
                )
            )
        if job.reconcile_after is not None:
            age = jobs.reconcile_age(job.name)
            if age <= job.time_limit:
                errors.append(
                    Error(
                        f"{job.reconcile_after}={age} is not longer than {job.name}'s hard time limit "
                        f"({job.time_limit} s): reconcile would send work again that a worker is still on.",
                        hint=f"Set {job.reconcile_after} above {job.time_limit}.",
                        id="veil.E002",
                    )
                )
    beat, stale = jobs.export_heartbeat_seconds(), jobs.export_stale_seconds()
    if stale < 3 * beat:
        errors.append(
            Error(
                f"VEIL_EXPORT_STALE_SECONDS={stale} is less than three heartbeats (VEIL_EXPORT_HEARTBEAT_SECONDS="
                f"{beat}): a running export would be taken for lost and rendered twice.",
                hint=f"Set VEIL_EXPORT_STALE_SECONDS to {3 * beat} or more.",
                id="veil.E003",
            )
        )
    beat, stale = jobs.worker_heartbeat_seconds(), jobs.worker_stale_seconds()
    if stale < 3 * beat:
        errors.append(
            Error(
                f"VEIL_WORKER_STALE_SECONDS={stale} is less than three heartbeats (VEIL_WORKER_HEARTBEAT_SECONDS="
                f"{beat}): a detection chunk still being worked on would be taken for lost and sent again.",
                hint=f"Set VEIL_WORKER_STALE_SECONDS to {3 * beat} or more.",
                id="veil.E008",
            )
        )
    every, late = jobs.reconcile_every_seconds(), jobs.reconcile_late_seconds()
    longest_reconcile = jobs.JOBS[jobs.RECONCILE].time_limit
    if late <= every + longest_reconcile:
        errors.append(
            Error(
                f"VEIL_RECONCILE_LATE_SECONDS={late} is not longer than reconcile's interval "
                f"(VEIL_RECONCILE_EVERY_SECONDS={every}) plus its hard time limit ({longest_reconcile} s): the "
                "health check would call reconcile late while it runs as it should.",
                hint=f"Set VEIL_RECONCILE_LATE_SECONDS above {every + longest_reconcile}.",
                id="veil.E009",
            )
        )
    visibility = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}).get("visibility_timeout")
    longest = max(job.time_limit for job in jobs.JOBS.values())
    if visibility is not None and visibility <= longest:
        errors.append(
            Error(
                f"The broker's visibility timeout ({visibility} s) is not longer than the longest task time limit "
                f"({longest} s): Redis would deliver a task again while a worker is still on it.",
                id="veil.E004",
            )
        )
    entry = (getattr(settings, "CELERY_BEAT_SCHEDULE", None) or {}).get("reconcile")
    if entry is None or entry.get("task") != jobs.RECONCILE:
        errors.append(
            Error(f"CELERY_BEAT_SCHEDULE needs a 'reconcile' entry running {jobs.RECONCILE}.", id="veil.E005")
        )
    elif _seconds(entry.get("schedule")) != jobs.reconcile_every_seconds():
        errors.append(
            Error(
                f"The beat's reconcile entry runs every {entry.get('schedule')}, not every "
                f"VEIL_RECONCILE_EVERY_SECONDS={jobs.reconcile_every_seconds()} s that the recovery times and the "
                "health check count on.",
                id="veil.E010",
            )
        )
    elif (entry.get("options") or {}).get("queue") != jobs.RECONCILE_QUEUE:
        errors.append(
            Error(
                f"The beat's reconcile entry must go to the {jobs.RECONCILE_QUEUE!r} queue, so it never waits "
                "behind the work it is there to rescue.",
                id="veil.E006",
            )
        )
    return errors


def _seconds(schedule) -> float | None:
    """A beat schedule's interval in seconds: a number, a timedelta or a Celery schedule; None if not fixed."""
    if isinstance(schedule, int | float):
        return schedule
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    run_every = getattr(schedule, "run_every", None)
    return run_every.total_seconds() if isinstance(run_every, timedelta) else None


@register("veil")
def check_lease_timing(app_configs=None, **kwargs) -> list[Error]:
    lease, renew = settings.VEIL_LEASE_SECONDS, jobs.LEASE_RENEW_SECONDS
    if lease < 2 * renew:
        return [
            Error(
                f"VEIL_LEASE_SECONDS={lease} is less than twice the review page's lease renewal interval "
                f"({renew} s): a reviewer's lease would lapse while they work, and another could take the image.",
                hint=f"Set VEIL_LEASE_SECONDS to {2 * renew} or more.",
                id="veil.E007",
            )
        ]
    return []


@register("veil", Tags.database)
def check_counter_triggers(app_configs=None, databases=None, **kwargs) -> list[Warning]:
    """The counter triggers in each database are the ones reviewer/models/triggers.py writes (`manage.py check
    --database default` runs this). A warning, not an error: migrate runs the checks before it migrates, and
    migrate is what puts the triggers right, so an error here would block its own fix."""
    from django.db import connections

    from reviewer.models import triggers

    warnings: list[Warning] = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor not in ("sqlite", "postgresql"):
            continue
        if "reviewer_datasetcounter" not in connection.introspection.table_names():
            continue  # not migrated yet: migrate installs them
        lines = triggers.drift(connection)
        if lines:
            warnings.append(
                Warning(
                    f"The counter triggers of database {alias!r} are not those of reviewer/models/triggers.py: "
                    + "; ".join(lines[:5])
                    + (f"; and {len(lines) - 5} more" if len(lines) > 5 else "")
                    + ". The counters on the dataset pages may be wrong.",
                    hint="Run `manage.py migrate`: it installs the code's triggers and recomputes the counters.",
                    id="veil.W020",
                )
            )
    return warnings


@register("veil")
def check_prepared_versions(app_configs=None, **kwargs) -> list[Error]:
    """reviewer/prepared.py runs the review calls through private parts of Django and psycopg: only on releases
    it was verified with."""
    from importlib import metadata

    from reviewer.prepared import VERIFIED_WITH

    errors: list[Error] = []
    for package, releases in VERIFIED_WITH.items():
        version = metadata.version(package)
        if ".".join(version.split(".")[:2]) not in releases:
            errors.append(
                Error(
                    f"reviewer/prepared.py was verified with {package} {', '.join(releases)}, not {version}: it "
                    "uses private parts of its query compiler and cursors.",
                    hint="Run tests/reviewer/test_prepared.py (on PostgreSQL and SQLite) against this version, "
                    "then add it to VERIFIED_WITH in reviewer/prepared.py.",
                    id="veil.E021",
                )
            )
    return errors
