"""Django's guard against ORM calls from async code stays on outside the browser tests (tests/browser/conftest.py
switches it off for those alone)."""

import os


def test_the_async_guard_is_on_outside_the_browser_tests():
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in os.environ
