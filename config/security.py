"""HTTP hardening that Django does not do itself: the Content-Security-Policy and Permissions-Policy headers, and
the client address django-axes counts failed logins against."""

from __future__ import annotations

from django.conf import settings


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy and Permissions-Policy to every response that has not set its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.VEIL_CSP)
        response.headers.setdefault("Permissions-Policy", settings.VEIL_PERMISSIONS_POLICY)
        return response


def client_ip(request) -> str:
    """The address of the person logging in: REMOTE_ADDR, or behind VEIL_PROXY_COUNT proxies the address the
    outermost of them saw (each proxy appends to X-Forwarded-For; earlier entries are the client's to forge)."""
    proxies = settings.VEIL_PROXY_COUNT
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "")
