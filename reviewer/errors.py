"""Errors services and selectors raise for people: a stable code, a sentence, the HTTP status pages and API use."""


class ServiceError(Exception):
    http_status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, **extra):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra


class NotFound(ServiceError):
    http_status = 404
    code = "not_found"


class Forbidden(ServiceError):
    http_status = 403
    code = "forbidden"


class Conflict(ServiceError):
    """A stale save or a lease held by someone else: the caller's view of the data is out of date."""

    http_status = 409
    code = "conflict"
