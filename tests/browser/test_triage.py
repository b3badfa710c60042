"""The admin's triage page in a real headless Chromium, keyboard only: a grid of open flags strongest first, F
sends the image back, X dismisses a leak-check find, down to the rows; a screenshot for the docs."""

from __future__ import annotations

import pytest

from reviewer.models import CandidateDismissal, Export, Image, Leak
from tests.browser.conftest import docs_image
from tests.browser.test_admin import log_in
from tests.factories import AdminFactory
from tests.reviewer.selectors.test_triage import flagged_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_triage_grid_resolved_from_the_keyboard(browser, live_server):
    AdminFactory(username="ada", password="admin-pass-123")
    dataset, candidates = flagged_dataset(n_images=3, per_image=3)
    export = Export.objects.create(dataset=dataset, status=Export.Status.DONE, images_done=3,
                                   options={"leak_check": True})  # fmt: skip
    leak = Leak.objects.create(export=export, image=candidates[0].image, kind="missed", score=0.9,
                               x0=300, y0=180, x1=340, y1=240)  # fmt: skip
    context, page = log_in(browser, live_server, "ada", "admin-pass-123", "/datasets/")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{live_server.url}/datasets/{dataset.pk}/")
        page.goto(live_server.url + page.locator("#triage-link").get_attribute("href"))  # its link, by address
        page.wait_for_selector("#triage.tr-ready")
        tiles = page.locator(".tr-tile")
        assert tiles.count() == 10
        # Strongest first: the leak find (0.9 x 60 px) leads; the first tile is selected.
        assert tiles.nth(0).get_attribute("data-kind") == "leak"
        assert "selected" in tiles.nth(0).get_attribute("class")
        page.screenshot(path=str(docs_image("triage.png")), full_page=True)
        # X: not a face, on the leak find; the next crop is selected.
        page.keyboard.press("x")
        page.wait_for_function("document.querySelectorAll('.tr-tile').length === 9")
        assert Leak.objects.get(pk=leak.pk).resolution == "not_a_face"
        first = page.locator(".tr-tile.selected")
        image_id = int(first.get_attribute("data-image"))
        # X on a candidate: not a face, for good; its tile goes and the next crop is selected.
        flag = int(first.get_attribute("data-flag"))
        page.keyboard.press("x")
        page.wait_for_function("document.querySelectorAll('.tr-tile').length === 8")
        assert CandidateDismissal.objects.filter(candidate_id=flag).exists()
        # F: a face, the image goes back to review with its other candidates' tiles.
        image_id = int(page.locator(".tr-tile.selected").get_attribute("data-image"))
        of_image = page.locator(f".tr-tile[data-image='{image_id}']").count()
        page.keyboard.press("f")
        page.wait_for_function(f"document.querySelectorAll('.tr-tile').length === {8 - of_image}")
        assert page.locator(f".tr-tile[data-image='{image_id}']").count() == 0
        assert Image.objects.get(pk=image_id).status == Image.Status.NEW
        # J moves, ? shows the keys drawn from the page's table.
        selected = page.locator(".tr-tile.selected").get_attribute("data-flag")
        page.keyboard.press("j")
        assert page.locator(".tr-tile.selected").get_attribute("data-flag") != selected
        page.keyboard.press("?")
        assert "A face: send the image back to review" in page.inner_text("#tr-help")
        page.keyboard.press("Escape")
        # Enter opens the selected image's second look.
        page.keyboard.press("Enter")
        page.wait_for_url("**/second-look")
        assert errors == []
    finally:
        context.close()
