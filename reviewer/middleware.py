"""Reading an upload before the views do, so a disk that refuses it is answered 507 with what is wrong."""

from __future__ import annotations

import json

from django.http import HttpResponse, UnreadablePostError

from reviewer.errors import UploadNotStored


class UploadStorageMiddleware:
    """Reads a multipart POST's form and files here, before CSRF and the views do, so that an upload the server
    cannot write to its temporary folder (a read-only or full VEIL_DATA_DIR: Django spools uploads above 5 MB
    there) is answered 507 with what is wrong, not with a 500 page or an empty form. List it before any
    middleware that reads the form (NulGuardMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.content_type == "multipart/form-data":
            try:
                request.POST  # noqa: B018 - parses the body (and spools its files) now
            except UnreadablePostError:
                pass  # the client went away: nothing to answer, and the views' own reading says the same
            except OSError as exc:
                return upload_refused(request, UploadNotStored.from_os_error(exc))
        return self.get_response(request)


def upload_refused(request, exc: UploadNotStored) -> HttpResponse:
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        body = {"detail": exc.message, "code": exc.code}
        return HttpResponse(json.dumps(body), status=exc.http_status, content_type="application/json")
    return HttpResponse(exc.message, status=exc.http_status, content_type="text/plain; charset=utf-8")
