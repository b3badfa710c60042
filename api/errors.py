"""Every API error is JSON with a `detail` sentence a person can act on."""

from django.core.exceptions import PermissionDenied, ValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from reviewer.services.errors import ServiceError


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return Response({"detail": exc.message, "code": exc.code, **exc.extra}, status=exc.http_status)
    if isinstance(exc, ValidationError):
        return Response({"detail": "; ".join(exc.messages), "code": "invalid"}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, PermissionDenied):
        return Response({"detail": str(exc) or "You may not do that.", "code": "forbidden"}, status=403)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": "The request has errors.", "code": "invalid", "errors": response.data}
    return response
