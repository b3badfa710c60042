"""CSV for people, who open it in a spreadsheet: every CSV Veil writes (the audit log, the reviewers' and the
missed faces' dashboards, the pay sheet, the export's annotations) goes through `csv_cell`. Pure code, no Django.

A spreadsheet runs a cell that starts with one of FORMULA_STARTS as a formula (CSV injection: an image named
`=HYPERLINK(...)`, a username `-2+3`, a dataset named `@SUM(A1)`). Such a text cell is written with a leading
apostrophe, which spreadsheets show as text and never evaluate. Numbers are written as they are (a negative
number is not a formula).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from numbers import Number

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """`value` as a cell a spreadsheet shows, never evaluates: None is empty, numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, Number) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """csv.writer whose every cell goes through csv_cell. `writerow` returns what the file's write returned
    (a streaming response's echo writer hands back the line)."""

    def __init__(self, file, **kwargs):
        self._writer = csv.writer(file, **kwargs)

    def writerow(self, row: Iterable):
        return self._writer.writerow([csv_cell(value) for value in row])


def safe_writer(file, **kwargs) -> SafeWriter:
    return SafeWriter(file, **kwargs)
