"""reviewer/checks.py: timing rules that used to be comments fail `manage.py check` when broken."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from reviewer.checks import check_job_timing, check_lease_timing


def ids(errors) -> list[str]:
    return [e.id for e in errors]


def test_the_default_settings_pass_every_check():
    assert check_job_timing() == []
    assert check_lease_timing() == []
    call_command("check")


def test_a_reconcile_age_shorter_than_the_chunk_time_limit_fails(settings):
    settings.VEIL_RECONCILE_AFTER_SECONDS = 300  # the chunk task may run 600 s, the import task 720 s
    errors = check_job_timing()
    assert ids(errors) == ["veil.E002", "veil.E002"]
    assert "VEIL_RECONCILE_AFTER_SECONDS=300 is not longer than" in errors[0].msg
    assert sorted(m for e in errors for m in ("(600 s)", "(720 s)") if m in e.msg) == ["(600 s)", "(720 s)"]
    with pytest.raises(SystemCheckError, match=r"veil\.E002"):
        call_command("check")


def test_an_export_stale_age_within_three_heartbeats_fails(settings):
    settings.VEIL_EXPORT_HEARTBEAT_SECONDS = 30
    settings.VEIL_EXPORT_STALE_SECONDS = 60
    assert ids(check_job_timing()) == ["veil.E003"]


def test_a_visibility_timeout_shorter_than_an_export_fails(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    assert ids(check_job_timing()) == ["veil.E004"]


def test_reconcile_must_be_scheduled_on_its_own_queue(settings):
    settings.CELERY_BEAT_SCHEDULE = {"reconcile": {"task": "reviewer.tasks.reconcile", "schedule": 30}}
    assert ids(check_job_timing()) == ["veil.E006"]
    settings.CELERY_BEAT_SCHEDULE = {}
    assert ids(check_job_timing()) == ["veil.E005"]


def test_a_lease_shorter_than_two_renewals_of_the_page_fails(settings):
    settings.VEIL_LEASE_SECONDS = 90  # the page renews every 60 s
    errors = check_lease_timing()
    assert ids(errors) == ["veil.E007"]
    assert "VEIL_LEASE_SECONDS=90" in errors[0].msg
    settings.VEIL_LEASE_SECONDS = 120
    assert check_lease_timing() == []


def test_a_chunk_stale_age_within_three_heartbeats_fails(settings):
    settings.VEIL_WORKER_HEARTBEAT_SECONDS = 20
    settings.VEIL_WORKER_STALE_SECONDS = 45
    errors = check_job_timing()
    assert ids(errors) == ["veil.E008"]
    assert "a detection chunk still being worked on would be taken for lost" in errors[0].msg


def test_a_reconcile_late_age_inside_its_interval_and_time_limit_fails(settings):
    settings.VEIL_RECONCILE_LATE_SECONDS = 200  # every 30 s, and one run may take its 180 s limit
    errors = check_job_timing()
    assert ids(errors) == ["veil.E009"]
    assert "Set VEIL_RECONCILE_LATE_SECONDS above 210" in errors[0].hint


def test_the_beat_schedule_must_run_reconcile_as_often_as_the_setting_says(settings):
    settings.VEIL_RECONCILE_EVERY_SECONDS = 30
    settings.CELERY_BEAT_SCHEDULE = {
        "reconcile": {
            "task": "reviewer.tasks.reconcile",
            "schedule": timedelta(minutes=15),
            "options": {"queue": "reconcile"},
        }
    }
    errors = check_job_timing()
    assert ids(errors) == ["veil.E010"]
    assert "VEIL_RECONCILE_EVERY_SECONDS=30" in errors[0].msg


def test_prepared_statements_run_only_on_the_django_and_psycopg_they_were_verified_with(monkeypatch):
    from reviewer import prepared
    from reviewer.checks import check_prepared_versions

    assert check_prepared_versions() == []
    monkeypatch.setitem(prepared.VERIFIED_WITH, "django", ("4.2",))
    errors = check_prepared_versions()
    assert ids(errors) == ["veil.E021"]
    assert "verified with django 4.2, not 5.2." in errors[0].msg
    with pytest.raises(SystemCheckError, match=r"veil\.E021"):
        call_command("check")
