"""Headless Chromium (Debian's, driven by Playwright) against pytest-django's live server.

Skips with a reason when /usr/bin/chromium is absent; CI installs it. Playwright's sync API runs an event loop in
this thread, which trips Django's guard against ORM calls from async code: the tests call the ORM only between
browser steps, never concurrently with it, so the guard is switched off while Playwright runs: from the first
browser test until the last of them is done (the `browser` fixture's package scope). The rest of the suite runs
with the guard on (tests/test_async_guard.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def docs_image(name: str) -> Path:
    """Where a screenshot the docs show is written: docs/img/ with VEIL_DOCS_SCREENSHOTS=1 (`make screenshots`:
    refreshing the docs' pictures is a step someone takes and commits), test-artifacts/docs-img/ otherwise, so a
    test run leaves the checkout as it found it."""
    folder = DOCS_IMG if os.environ.get("VEIL_DOCS_SCREENSHOTS") == "1" else ARTIFACTS / "docs-img"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


@pytest.fixture(scope="package")
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is not installed (apt-get install chromium); browser tests need a real Chromium"
        if os.environ.get("VEIL_REQUIRE_BROWSER"):  # CI: a missing browser is a failure, not a skip
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def login(browser, live_server):
    """login(user, password) -> a logged-in page in a fresh browser context (its own cookies).

    Tests steer the page with Playwright's string predicates, which the Content-Security-Policy forbids
    (no eval); their contexts bypass it. `enforce_csp=True` keeps it, and page.csp_violations lists what it
    refused (tests/browser/test_csp.py).
    """
    contexts = []

    def _login(username: str, password: str = "review-pass-123", *, enforce_csp: bool = False):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=not enforce_csp)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.csp_violations = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: page.csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/review/")
        return page

    yield _login
    for context in contexts:
        context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
