"""The Content-Security-Policy in a real Chromium: the pages' own scripts run under it and it refuses nothing."""

import pytest

from tests.browser.test_review import make_batch, open_batch
from tests.factories import AdminFactory, DatasetFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_review_page_runs_under_the_csp_with_no_violation(login, live_server):
    reviewer = UserFactory(username="csp-reviewer")
    batch, _images = make_batch([reviewer], n=2)
    page = login("csp-reviewer", enforce_csp=True)
    open_batch(page, batch)  # .rv-ready appears only once the review page's modules have run
    assert page.locator("#rv-position").inner_text()
    assert page.csp_violations == []
    assert page.errors == []


def test_admin_pages_run_under_the_csp_with_no_violation(browser, live_server):
    AdminFactory(username="csp-admin", password="admin-pass-123")
    dataset = DatasetFactory(name="csp")
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # the CSP enforced
    page = context.new_page()
    violations, errors = [], []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "csp-admin")
        page.fill("input[name=password]", "admin-pass-123")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/datasets/")
        page.goto(f"{live_server.url}/datasets/{dataset.pk}/")
        page.set_input_files("#import-files", files=[{"name": "a.jpg", "mimeType": "image/jpeg", "buffer": b"x"}])
        assert page.locator("#import-status").inner_text() == "1 file, 0.0 MB selected"  # import.js ran
        page.goto(f"{live_server.url}/datasets/{dataset.pk}/approve/")
    finally:
        context.close()
    assert violations == []
    assert errors == []
