"""config.env: the one reading of yes/no values that settings, services and API filters share."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(word, True) for word in ("1", "true", "TRUE", " yes ", "on")],
        *[(word, False) for word in ("0", "false", "No", "off", "")],
        (True, True), (False, False), (1, True), (0, False), (None, None),
        ("maybe", None), ("2", None), ("y", None),
    ],
)  # fmt: skip
def test_parse_flag_reads_the_usual_words_and_nothing_else(value, expected):
    assert env.parse_flag(value) is expected


def test_an_environment_flag_that_is_neither_names_the_variable(monkeypatch):
    monkeypatch.setenv("VEIL_SOMETHING", "maybe")
    with pytest.raises(ImproperlyConfigured, match="VEIL_SOMETHING must be one of"):
        env.flag("VEIL_SOMETHING")
    monkeypatch.setenv("VEIL_SOMETHING", "off")
    assert env.flag("VEIL_SOMETHING", default=True) is False
    monkeypatch.delenv("VEIL_SOMETHING")
    assert env.flag("VEIL_SOMETHING", default=True) is True
