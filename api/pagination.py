"""One pagination for every list: `{"results": [...], "next": url or null, "previous": url or null}`.

Cursors are opaque (`?cursor=...`), keyset-based for querysets (DRF's CursorPagination: `WHERE key > last`
over an indexed ordering, never a COUNT(*) of a 1.5 M-image table), and an offset for the few lists a selector
builds in Python (the approval queue, which must consolidate every waiting image to sort them anyway).
`?page_size=` is capped at MAX_PAGE_SIZE.
"""

from __future__ import annotations

from base64 import b64decode, b64encode
from urllib import parse

from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination, replace_query_param
from rest_framework.response import Response

PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


def paginated_schema(schema: dict) -> dict:
    return {
        "type": "object",
        "required": ["results", "next", "previous"],
        "properties": {
            "next": {"type": "string", "nullable": True, "format": "uri", "description": "The next page, or null."},
            "previous": {"type": "string", "nullable": True, "format": "uri"},
            "results": schema,
        },
    }


class KeysetPagination(CursorPagination):
    """Keyset pages over a queryset. A view sets `ordering` (a unique, indexed key first) or `ordering_fields`
    for `?ordering=`; the cursor encodes the last key seen."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = "-id"
    invalid_cursor_message = "This cursor is not valid (it comes from another list or was edited)."

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        return paginated_schema(schema)


class ListPagination:
    """The same page shape over a Python list built by a selector; the cursor encodes an offset."""

    page_size = PAGE_SIZE

    def paginate(self, items: list, request) -> Response:
        size = _page_size(request, self.page_size)
        offset = _decode_offset(request.query_params.get("cursor"))
        page = items[offset : offset + size]
        url = request.build_absolute_uri()
        following = _link(url, offset + size) if offset + size < len(items) else None
        previous = _link(url, max(0, offset - size)) if offset > 0 else None
        return page, {"next": following, "previous": previous}


def _page_size(request, default: int) -> int:
    try:
        size = int(request.query_params.get("page_size", default))
    except (TypeError, ValueError):
        return default
    return max(1, min(size, MAX_PAGE_SIZE))


def _decode_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        value = parse.parse_qs(b64decode(cursor.encode("ascii")).decode("ascii"), strict_parsing=True)
        offset = int(value["o"][0])
    except (ValueError, KeyError, UnicodeError, TypeError) as exc:
        raise NotFound(KeysetPagination.invalid_cursor_message) from exc
    if offset < 0:
        raise NotFound(KeysetPagination.invalid_cursor_message)
    return offset


def _link(url: str, offset: int) -> str:
    return replace_query_param(url, "cursor", b64encode(f"o={offset}".encode("ascii")).decode("ascii"))
