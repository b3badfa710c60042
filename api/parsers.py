"""JSON bodies with a depth limit. A body of 100,000 `[` made Python's parser recurse until RecursionError (in
DRF's CSRF check, which reads the body) and answered 500; now any body nested deeper than MAX_DEPTH is a 400."""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Deeper than any Veil request (a list of boxes of four numbers is depth 3) by a wide margin.
MAX_DEPTH = 32


def nesting_depth(text: str) -> int:
    """The deepest nesting of `[` and `{` outside strings (0 when it cannot exceed MAX_DEPTH), found without
    parsing, so without recursion."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0  # too few brackets to be too deep: the common case costs two C-level counts
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


class DepthLimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The JSON body is not valid {encoding}.") from exc
        if nesting_depth(text) > MAX_DEPTH:
            raise ParseError(f"The JSON body is nested deeper than {MAX_DEPTH} levels.")
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"The JSON body cannot be parsed: {exc}") from exc


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")
