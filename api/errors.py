"""One error shape for the whole API: `{"detail": sentence, "code": stable code, "errors"?: per field}`.

Every status answers in it: 400 to 409 from DRF and the services, 500 for a bug, 503 when the broker or the
database is unreachable, and (through ApiErrorMiddleware) Django's own 404, 405, 413 or 500 pages under /api/.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.db import DatabaseError, DataError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from reviewer.errors import ServiceError

logger = logging.getLogger("veil.api")

# A status without a more precise code gets this one, so clients can switch on `code` alone.
CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}
SENTENCES = {
    404: "Nothing here: no such resource, or not one you may see.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    500: "Something went wrong on our side; it has been logged.",
    503: "A service Veil needs (the database or the task queue) is unreachable; try again shortly.",
}


def error_body(status_code: int, detail: str | None = None, code: str | None = None, **extra) -> dict:
    body = {
        "detail": detail or SENTENCES.get(status_code, "The request failed."),
        "code": code or CODES.get(status_code, "error"),
    }
    body.update(extra)
    return body


def _is_unavailable(exc: Exception) -> bool:
    """The broker or the database went away: a 503 the client may retry, not a bug."""
    try:
        from kombu.exceptions import OperationalError as KombuOperationalError
    except ImportError:  # pragma: no cover - kombu comes with celery
        KombuOperationalError = ()
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, KombuOperationalError | OperationalError | InterfaceError | ConnectionError)


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.http_status, exc.message, exc.code, **exc.extra), status=exc.http_status)
    if isinstance(exc, ValidationError):
        return Response(error_body(400, "; ".join(exc.messages), "invalid"), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, PermissionDenied):
        return Response(error_body(403, str(exc) or "You may not do that."), status=403)
    if isinstance(exc, OverflowError | DataError):  # an id beyond the database's integers names nothing
        return Response(error_body(404), status=404)
    if isinstance(exc, Http404):
        return Response(error_body(404, str(exc) or None), status=404)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body(413, str(exc)), status=413)
    if isinstance(exc, exceptions.APIException):
        response = drf_exception_handler(exc, context)
        return _reshape(response, exc)
    if _is_unavailable(exc):
        logger.warning("API request failed on an unavailable service: %r", exc)
        if isinstance(exc, DatabaseError):  # a dropped or restarting database: "try again", and it may be saved
            body = error_body(
                503,
                "The database could not be reached; nothing may have been saved. Try again in a moment.",
                "database_unavailable",
            )
            return Response(body, status=503, headers={"Retry-After": "5"})
        return Response(error_body(503), status=503, headers={"Retry-After": "5"})
    if isinstance(exc, DatabaseError | Exception):
        logger.exception("API request failed", exc_info=exc)
        return Response(error_body(500), status=500)
    return None  # pragma: no cover


def _reshape(response: Response, exc: exceptions.APIException) -> Response:
    data = response.data
    code = exc.get_codes() if not isinstance(exc, exceptions.ValidationError) else "invalid"
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(400, f"The request has errors: {flatten(data)}", "invalid", errors=data)
    elif isinstance(data, dict) and "detail" in data:
        response.data = error_body(response.status_code, str(data["detail"]), code if isinstance(code, str) else None)
    else:
        response.data = error_body(response.status_code, "The request has errors.", errors=data)
    return response


def flatten(errors, prefix: str = "") -> str:
    """DRF's nested field errors as one sentence a page can show as it is: `boxes.0.fate: not a choice`."""
    parts = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            parts.append(flatten(value, f"{prefix}{key}." if key != "non_field_errors" else prefix))
    elif isinstance(errors, list):
        for i, value in enumerate(errors):
            if isinstance(value, dict | list):
                if value:
                    parts.append(flatten(value, f"{prefix}{i}."))
            else:
                parts.append(f"{prefix.rstrip('.')}: {value}" if prefix else str(value))
    else:
        parts.append(f"{prefix.rstrip('.')}: {errors}" if prefix else str(errors))
    return "; ".join(p for p in parts if p)
