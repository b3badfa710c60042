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


class NulGuardMiddleware:
    """A NUL character in a query parameter or a form field is refused with 400 before any view runs.

    PostgreSQL cannot store NUL in text, so a dataset named "a\\x00b" or a filter on it used to end in a 500;
    no legitimate name, path or reason contains one. (JSON bodies are covered by the serializers' CharFields.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _has_nul(request.GET) or (request.method == "POST" and _form_has_nul(request)):
            message = "A NUL character is not allowed in any field."
            if request.path.startswith(API_PREFIX):
                return HttpResponse(json.dumps(error_body(400, message, "invalid")), status=400,
                                    content_type="application/json")  # fmt: skip
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def _has_nul(query) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in query.lists())


def _form_has_nul(request) -> bool:
    content_type = request.content_type or ""
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return False
    try:
        return _has_nul(request.POST)
    except Exception:  # a malformed body: the view's own parsing reports it
        return False
