"""static/veil/poll.js in a real Chromium, under the Content-Security-Policy: the import, detection run and export
pages follow their work as the database changes (bar, aria-valuenow, counters) and reload once it is finished."""

from __future__ import annotations

import pytest
from django.utils import timezone

from reviewer.models import DetectionRun, Export, Image, ImportJob
from tests.browser.test_pages import admin_page
from tests.factories import DatasetFactory, DetectionResultFactory, DetectionRunFactory, ImageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def bar_at(page, panel: str, value: str) -> None:
    page.wait_for_selector(f"{panel} [role=progressbar][aria-valuenow='{value}']", timeout=10000)


def test_the_export_page_moves_its_bar_and_reloads_when_done(browser, live_server):
    dataset = DatasetFactory()
    export = Export.objects.create(
        dataset=dataset, options={"blur": "gaussian", "archive": "zip"}, status=Export.Status.RUNNING,
        images_total=4, images_done=1, started_at=timezone.now(),
    )  # fmt: skip
    context, page = admin_page(browser, live_server, enforce_csp=True)
    try:
        page.goto(f"{live_server.url}/exports/{export.pk}/")
        bar = page.locator("#export-progress [role=progressbar]")
        assert (bar.get_attribute("aria-valuenow"), bar.get_attribute("aria-valuemin")) == ("25.0", "0")
        Export.objects.filter(pk=export.pk).update(images_done=3)
        bar_at(page, "#export-progress", "75")
        assert page.inner_text("#export-count") == "3 / 4"
        assert bar.get_attribute("aria-valuetext") == "3 of 4 images"
        assert page.locator("#export-bar").evaluate("span => span.style.width") == "75%"
        Export.objects.filter(pk=export.pk).update(status=Export.Status.FAILED, error="stopped by the test")
        page.wait_for_selector("#export-progress[data-status=failed]", timeout=10000)  # reloaded
        assert page.inner_text("#export-error") == "stopped by the test"
        assert (page.errors, page.csp_violations) == ([], [])
    finally:
        context.close()


def test_the_detection_run_and_import_pages_follow_their_counters(browser, live_server):
    dataset = DatasetFactory()
    images = [ImageFactory(dataset=dataset, status=Image.Status.DETECTED) for _ in range(4)]
    run = DetectionRunFactory(dataset=dataset, status=DetectionRun.Status.RUNNING, images_total=4)
    DetectionRun.objects.filter(pk=run.pk).update(started_at=timezone.now())
    DetectionResultFactory(run=run, image=images[0])
    job = ImportJob.objects.create(dataset=dataset, source=ImportJob.Source.PAGE, status=ImportJob.Status.RUNNING)
    context, page = admin_page(browser, live_server, enforce_csp=True)
    try:
        page.goto(f"{live_server.url}/detection/runs/{run.pk}/")
        assert page.get_attribute("#detection-progress [role=progressbar]", "aria-valuenow") in ("25", "25.0")
        DetectionResultFactory(run=run, image=images[1])
        bar_at(page, "#detection-progress", "50")
        assert page.inner_text("#run-processed") == "2"

        page.goto(f"{live_server.url}/imports/{job.pk}/")
        ImportJob.objects.filter(pk=job.pk).update(files_seen=7, rejected_count=2)
        page.wait_for_selector("#import-seen:text-is('7')", timeout=10000)
        assert page.inner_text("#import-rejected") == "2"
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.DONE, imported_count=5)
        page.wait_for_selector("#import-job[data-status=done]", timeout=10000)
        assert (page.errors, page.csp_violations) == ([], [])
    finally:
        context.close()
