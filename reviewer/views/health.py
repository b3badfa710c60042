"""Health: /health for a load balancer or monitor (JSON, no login, 503 when something is wrong) and a page for
admins with the reasons and the work waiting on reconcile."""

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from reviewer import jobs
from reviewer.selectors.health import health_check, health_waiting
from reviewer.views.access import admin_required


@never_cache
@require_safe
def health_probe(request):
    # Anonymous callers learn which part is down and reconcile's age, never the error text (hosts, paths).
    health = health_check()
    age = health.reconcile_age_seconds
    body = {
        "status": "ok" if health.ok else "unhealthy",
        "database": "ok" if health.database.ok else "down",
        "broker": "ok" if health.broker.ok else "down",
        "reconcile": {
            "status": "ok" if health.reconcile.ok else "late",
            "last_finished_at": health.reconcile_finished_at.isoformat() if health.reconcile_finished_at else None,
            "age_seconds": round(age, 1) if age is not None else None,
            "late_after_seconds": jobs.reconcile_late_seconds(),
        },
    }
    return JsonResponse(body, status=200 if health.ok else 503)


@admin_required
def health_page(request):
    health = health_check()
    waiting = health_waiting() if health.database.ok else {}
    return render(
        request,
        "reviewer/health.html",
        {
            "health": health,
            "waiting": waiting,
            "every": jobs.reconcile_every_seconds(),
            "late": jobs.reconcile_late_seconds(),
            "stale": jobs.worker_stale_seconds(),
        },
    )


urlpatterns = [
    path("health", health_probe, name="health-probe"),
    path("admin-health/", health_page, name="health-page"),
]
