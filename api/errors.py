"""Every API error is JSON with a `detail` sentence a person can act on."""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from reviewer.errors import ServiceError

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return Response({"detail": exc.message, "code": exc.code, **exc.extra}, status=exc.http_status)
    if isinstance(exc, ValidationError):
        return Response({"detail": "; ".join(exc.messages), "code": "invalid"}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, PermissionDenied):
        return Response({"detail": str(exc) or "You may not do that.", "code": "forbidden"}, status=403)
    if isinstance(exc, DatabaseError):
        # A dropped or restarting database: JSON the page can show, and a status that says "try again".
        logger.exception("API request failed on the database")
        return Response(
            {"detail": "The database could not be reached; nothing may have been saved. Try again in a moment.",
             "code": "database_unavailable"},
            status=503,
        )  # fmt: skip
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": "The request has errors.", "code": "invalid", "errors": response.data}
    return response
