"""The admin's approval queue in a real Chromium: boxes drawn over thumbnails land on the right pixels."""

import pytest

from reviewer.models import Approval, Image, ReviewBox
from tests.factories import AdminFactory, DatasetFactory, ImageFactory, ReviewBoxFactory, ReviewFactory, UserFactory
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def admin_page(browser, live_server):
    AdminFactory(username="ada", password="admin-pass-123")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # Playwright evals
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "admin-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/datasets/")
    return context, page


def test_queue_draws_consolidated_boxes_on_the_thumbnail_and_approves(browser, live_server, artifacts):
    dataset = DatasetFactory(name="browser-approve", reviews_required=2)
    # A portrait image: the thumbnail is letterboxed left and right inside the 4:3 cell.
    image = ImageFactory(dataset=dataset, content=jpeg_bytes(300, 400, seed=3), status=Image.Status.REVIEWED)
    for reviewer, box in ((UserFactory(), (60, 100, 180, 260)), (UserFactory(), (66, 104, 186, 262))):
        review = ReviewFactory(image=image, reviewer=reviewer)
        ReviewBoxFactory(review=review, fate=ReviewBox.Fate.ADDED, x0=box[0], y0=box[1], x1=box[2], y1=box[3])
    context, page = admin_page(browser, live_server)
    try:
        page.goto(f"{live_server.url}/datasets/{dataset.pk}/approve/")
        figure = page.locator(f'#queue figure[data-image="{image.pk}"]')
        img = figure.locator("img")
        img.evaluate("el => el.decode()")
        shown = img.evaluate(
            """el => { const r = el.getBoundingClientRect();
                       const s = Math.min(r.width / el.naturalWidth, r.height / el.naturalHeight);
                       const w = el.naturalWidth * s, h = el.naturalHeight * s;
                       return {left: r.left + (r.width - w) / 2, top: r.top + (r.height - h) / 2, w, h}; }"""
        )
        # The box's geometry on screen, without the stroke the bounding client rect would add.
        rect = figure.locator("svg rect.box").evaluate(
            """el => { const b = el.getBBox(), m = el.getScreenCTM();
                       return {x: m.a * b.x + m.e, y: m.d * b.y + m.f,
                               width: m.a * b.width, height: m.d * b.height}; }"""
        )
        scale = shown["w"] / 300
        # The merged face is the union of the two reviewers' boxes: (60, 100) to (186, 262) in image pixels.
        assert rect["x"] == pytest.approx(shown["left"] + 60 * scale, abs=1)
        assert rect["y"] == pytest.approx(shown["top"] + 100 * scale, abs=1)
        assert rect["width"] == pytest.approx(126 * scale, abs=1)
        assert rect["height"] == pytest.approx(162 * scale, abs=1)
        page.screenshot(path=str(artifacts / "workflow-approval-queue.png"), full_page=True)

        figure.get_by_role("button", name="Approve", exact=True).click()
        page.wait_for_selector(".messages li")
        assert page.locator(".messages li").inner_text() == f"Approved {image.relative_path}."
        assert "Nothing waits for approval." in page.locator("#queue").inner_text()
    finally:
        context.close()
    approval = Approval.objects.get(image=image, is_current=True)
    assert [b.box.as_list() for b in approval.boxes.all()] == [[60, 100, 186, 262]]
