"""Health: /health for a load balancer (JSON, no login, 503 when a part is down or reconcile is late) and the
admins' page with the reasons; reconcile records its runs for both."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery import current_app
from django.test import Client
from django.utils import timezone
from kombu import pools

from reviewer.models import DetectionChunk, PeriodicRun
from reviewer.services import reconcile as reconcile_module
from reviewer.services.reconcile import reconcile
from tests.factories import DatasetFactory, ImageFactory
from tests.reviewer.services.test_detection import _start

pytestmark = pytest.mark.django_db


def test_health_is_unhealthy_until_reconcile_has_run_then_healthy(client):
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"], body["broker"]) == ("unhealthy", "ok", "ok")
    assert body["reconcile"]["status"] == "late"
    assert body["reconcile"]["last_finished_at"] is None

    reconcile()  # as the beat task runs it

    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["reconcile"]["status"] == "ok"
    assert 0 <= body["reconcile"]["age_seconds"] < 30
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_says_reconcile_is_late_when_beat_stopped(client, settings):
    settings.VEIL_RECONCILE_LATE_SECONDS = 300
    PeriodicRun.objects.create(name="reconcile", finished_at=timezone.now() - timedelta(seconds=301))

    response = client.get("/health")

    assert response.status_code == 503
    assert response.json()["reconcile"]["status"] == "late"
    assert response.json()["reconcile"]["age_seconds"] >= 301


def test_a_failing_reconcile_is_recorded_and_keeps_its_last_success(admin_client, monkeypatch):
    reconcile()
    finished = PeriodicRun.objects.get(name="reconcile").finished_at

    def broken(**kwargs):
        raise RuntimeError("the export step broke")

    monkeypatch.setattr("reviewer.services.export.export_reconcile", broken)
    with pytest.raises(RuntimeError):
        reconcile_module.reconcile()

    run = PeriodicRun.objects.get(name="reconcile")
    assert run.finished_at == finished
    assert run.error == "RuntimeError: the export step broke"
    page = admin_client.get("/admin-health/")
    assert page.status_code == 200  # the last success is recent: reconcile is not late yet
    assert "its last run failed: RuntimeError: the export step broke" in page.content.decode()


def test_health_answers_503_quickly_when_the_broker_is_down(client):
    reconcile()
    app = current_app
    old = app.conf.broker_url
    app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = "redis://127.0.0.1:18599/0"
    app._pool = None
    pools.reset()
    try:
        started = time.monotonic()
        response = client.get("/health")
        elapsed = time.monotonic() - started
    finally:
        app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = old
        app._pool = None
        pools.reset()
    assert response.status_code == 503
    assert (response.json()["broker"], response.json()["database"]) == ("down", "ok")
    assert "18599" not in response.content.decode()  # an anonymous probe learns no host or error text
    assert elapsed < 10


def test_health_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    reconcile()
    assert client.get("/health").status_code == 200
    assert client.get("/accounts/login/").status_code == 301


def test_the_health_page_is_for_admins_and_shows_what_waits_on_reconcile(admin_client, reviewer_user, settings):
    settings.VEIL_WORKER_STALE_SECONDS = 45
    reconcile()
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    run = _start(dataset, None)
    five_minutes_ago = timezone.now() - timedelta(minutes=5)  # a running chunk was sent: it has a queued_at
    DetectionChunk.objects.filter(run=run).update(
        status="running", queued_at=five_minutes_ago, heartbeat_at=five_minutes_ago
    )

    page = admin_client.get("/admin-health/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Reconcile" in html
    assert "last finished" in html
    assert "<td>chunks with a stale heartbeat</td><td>1</td>" in html
    reviewer = Client()
    reviewer.force_login(reviewer_user)
    assert reviewer.get("/admin-health/").status_code == 403
