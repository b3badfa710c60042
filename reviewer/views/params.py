"""Reading a page's query parameters: a number that is not one reads as absent, never as an error page."""

from __future__ import annotations


def int_param(value, default: int | None = None) -> int | None:
    """`value` (a query parameter, e.g. the keyset cursor `after`) as an int, or `default` if it is not one."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default
