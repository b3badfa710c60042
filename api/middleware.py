"""Nothing under /api/ answers HTML: Django's own error pages (unknown URL, CSRF failure, a crash outside DRF)
are replaced there by the API's JSON error shape, with the same status."""

from __future__ import annotations

import json

from django.http import HttpResponse

from api.errors import error_body

API_PREFIX = "/api/"


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        detail = None
        if status == 403 and getattr(response, "reason_phrase", "") == "Forbidden" and b"CSRF" in _content(response):
            detail, code = "CSRF check failed: send the X-CSRFToken header with a session, or use a token.", "csrf"
        else:
            code = None
        replacement = HttpResponse(
            json.dumps(error_body(status, detail, code)), status=status, content_type="application/json"
        )
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement


def _content(response) -> bytes:
    return b"" if getattr(response, "streaming", False) else response.content
