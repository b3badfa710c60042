"""The OpenAPI schema: every operation says who may call it and lists the errors it may answer, all in the one
error shape of api.errors."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from api.errors import CODES

V1 = "/api/v1/"


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="A sentence a person can act on.")
    code = serializers.CharField(help_text="A stable code to switch on, e.g. not_found, conflict, invalid.")
    errors = serializers.JSONField(required=False, help_text="Per-field errors, on a 400 from validation.")


ERRORS = {
    400: "The request is invalid (body, parameters, or a rule of the flow); `errors` names the fields.",
    401: "No credentials, or a token that is unknown, revoked, or whose user is inactive.",
    403: "Signed in without the right (e.g. a reviewer on an admin endpoint), or a failed CSRF check.",
    404: "No such object, or one you may not see: the same answer either way, so ids leak nothing.",
    405: "This method is not allowed here.",
    409: "Conflict: stale revision, a lease held by someone else, or a state that does not allow this.",
    500: "A bug on our side; it is logged.",
    503: "The database or the task queue is unreachable; retry later.",
}
READ_ERRORS = (400, 401, 403, 404, 405, 500, 503)
WRITE_ERRORS = (400, 401, 403, 404, 405, 409, 500, 503)


class VeilAutoSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        path = self.path[len(V1) :] if self.path.startswith(V1) else self.path
        head = path.strip("/").split("/", 1)[0] or "api"
        return [{"me": "users", "audit-events": "audit", "pool": "review"}.get(head, head)]

    def get_description(self) -> str:
        text = super().get_description() or ""
        who = [getattr(p, "description", "") for p in self.view.get_permissions()]
        who = " ".join(w for w in who if w) or "Anyone."
        auth = "Authenticate with a session (pages; send X-CSRFToken on writes) or `Authorization: Bearer <token>`."
        return f"{text}\n\n**Who may call:** {who}\n\n{auth}".strip()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction=direction)
        codes = READ_ERRORS if self.method in ("GET", "HEAD") else WRITE_ERRORS
        for code in codes:
            if str(code) in responses:
                continue
            described = OpenApiResponse(ErrorSerializer, description=f"{ERRORS[code]} (code: {CODES[code]})")
            responses[str(code)] = self._get_response_for_code(described, str(code), ["application/json"], direction)
        return responses


def only_v1(endpoints, **kwargs):
    """The schema documents /api/v1/ only; the unversioned /api/ paths are aliases kept for old clients."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(V1)]


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.TokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API token from /account/tokens/."}
