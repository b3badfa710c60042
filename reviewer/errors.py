"""Errors services and selectors raise for people: a stable code, a sentence, the HTTP status pages and API use."""

from __future__ import annotations


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


class UploadNotStored(ServiceError):
    """The server could not write an upload to its own disk (a read-only or full data folder). Nothing of the
    upload is kept; the sentence says so and names what to check."""

    http_status = 507
    code = "upload_not_stored"

    @classmethod
    def from_os_error(cls, exc: OSError) -> UploadNotStored:
        reason = exc.strerror or exc.__class__.__name__
        return cls(
            f"The upload could not be stored: the server cannot write to its data folder ({reason}). Nothing was "
            "imported or kept. Whoever runs Veil should check the disk's free space and the permissions of "
            "VEIL_DATA_DIR (and VEIL_MEDIA_DIR, if set); then send the upload again."
        )
