"""Candidates and keyboard-only editing on the review page, in a real headless Chromium, down to the saved rows."""

from __future__ import annotations

import pytest

from reviewer.models import Image, Review, ReviewBox, ReviewCandidate
from tests.browser.test_review import make_batch, open_batch, to_screen, wait_position, wait_saved
from tests.factories import CandidateFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CANDIDATES = ((100, 300, 160, 370), (400, 300, 450, 360), (500, 50, 560, 110))


def add_candidates(image, rects=CANDIDATES):
    run = image.dataset.current_detection_run
    return [
        CandidateFactory(image=image, run=run, ordinal=i, score=0.2, x0=x0, y0=y0, x1=x1, y1=y1)
        for i, (x0, y0, x1, y1) in enumerate(rects)
    ]


def selected_rect(page):
    node = page.locator(".rv-box.selected .rv-body")
    x, y, w, h = (float(node.get_attribute(a)) for a in ("x", "y", "width", "height"))
    return [x, y, x + w, y + h]


def added_boxes(image):
    review = Review.objects.get(image=image, is_current=True)
    rows = ReviewBox.objects.filter(review=review, fate="added").order_by("x0")
    return [[r.x0, r.y0, r.x1, r.y1] for r in rows]


def test_candidates_show_without_a_key_and_turn_into_boxes_by_key_and_by_mouse(login, reviewer_user, artifacts):
    batch, images = make_batch([reviewer_user], n=2, size=(640, 480), proposals=((200, 100, 260, 170),))
    first, second = add_candidates(images[0]), add_candidates(images[1])
    page = login("rob-reviewer")
    open_batch(page, batch)
    assert page.locator(".rv-cand").count() == 3  # shown without a key
    assert "3 open candidates (F box it, X not a face)" in page.inner_text("#rv-summary")
    assert page.get_attribute("#rv-candbtn", "aria-pressed") == "true"
    page.screenshot(path=str(artifacts / "review-candidates.png"))
    # Dimmed and dashed, unlike the proposal's solid green.
    style = page.evaluate(
        "[...document.querySelectorAll('.rv-cand-body, .rv-box .rv-body')].map(n => {"
        "const s = getComputedStyle(n); return [s.strokeDasharray, Number(s.opacity)]; })"
    )
    assert all(dash != "none" and opacity < 1 for dash, opacity in style[:3]), style
    assert style[3][0] == "none", style
    # F turns the candidate under the pointer into a box.
    page.mouse.move(*to_screen(page, 130, 335))
    page.keyboard.press("f")
    assert page.locator(".rv-box.added.from-candidate").count() == 1
    assert page.locator(".rv-cand").count() == 2
    # By mouse: click a candidate to select it, then the Box it button.
    page.mouse.click(*to_screen(page, 425, 330))
    assert page.locator(".rv-cand.selected").count() == 1
    page.click("button[data-action=boxCandidate]")
    assert page.locator(".rv-box.from-candidate").count() == 2
    assert page.locator(".rv-cand").count() == 1  # the third stays on screen, unresolved: saved as left
    page.keyboard.press("Enter")
    wait_position(page, "2 / 2")
    wait_saved(page)
    fates = ReviewCandidate.objects.filter(review__image=images[0]).order_by("candidate__ordinal")
    assert [(f.candidate_id, f.fate) for f in fates] == [
        (first[0].pk, "boxed"),
        (first[1].pk, "boxed"),
        (first[2].pk, "left"),
    ]
    assert added_boxes(images[0]) == [list(CANDIDATES[0]), list(CANDIDATES[1])]
    # The toggle holds for the next image; hidden again when saving, the candidates get no fate at all.
    assert page.locator(".rv-cand").count() == 3
    page.click("#rv-candbtn")
    assert page.locator(".rv-cand").count() == 0
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    images[1].refresh_from_db()
    assert images[1].status == Image.Status.REVIEWED
    assert not ReviewCandidate.objects.filter(candidate__in=second).exists()
    assert page.errors == []


def test_v_cycles_candidates_and_a_double_click_boxes_one(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=1, size=(640, 480), proposals=())
    cands = add_candidates(images[0])
    page = login("rob-reviewer")
    open_batch(page, batch)
    assert page.locator(".rv-cand").count() == 3
    page.keyboard.press("v")  # selects the strongest (score x height: the tallest of equal scores)
    assert page.get_attribute(".rv-cand.selected", "data-cand") == str(cands[0].pk)
    page.keyboard.press("v")
    assert page.get_attribute(".rv-cand.selected", "data-cand") == str(cands[1].pk)
    page.keyboard.press("Shift+V")
    page.keyboard.press("Shift+V")
    assert page.get_attribute(".rv-cand.selected", "data-cand") == str(cands[2].pk)
    page.keyboard.press("f")  # the selected one (the pointer is off the image)
    page.mouse.dblclick(*to_screen(page, 130, 335))
    assert page.locator(".rv-box.from-candidate").count() == 2
    page.keyboard.press("Delete")  # deleting the box brings its candidate back
    assert page.locator(".rv-cand").count() == 2
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    fates = ReviewCandidate.objects.order_by("candidate__ordinal").values_list("candidate_id", "fate")
    assert list(fates) == [(cands[0].pk, "left"), (cands[1].pk, "left"), (cands[2].pk, "boxed")]
    assert added_boxes(images[0]) == [list(CANDIDATES[2])]


def test_keyboard_only_add_move_and_resize_saved_in_original_pixels(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=2, size=(640, 480), proposals=())
    page = login("rob-reviewer")
    open_batch(page, batch)
    scale = page.locator("#rv-img").bounding_box()["width"] / 640
    step = max(1, round(4 / scale))
    # The pointer is off the image: P places the box in the middle of the view.
    page.keyboard.press("p")
    placed = selected_rect(page)
    assert ((placed[0] + placed[2]) / 2, (placed[1] + placed[3]) / 2) == pytest.approx((320, 240), abs=1)
    side = placed[2] - placed[0]
    assert side == placed[3] - placed[1]
    assert side >= 8
    for key in (
        ["ArrowRight"] * 3 + ["ArrowDown"] * 2 + ["Shift+ArrowRight"] * 2 + ["Shift+ArrowUp", "Control+ArrowLeft"]
    ):
        page.keyboard.press(key)
    x0, y0, x1, y1 = placed
    expected = [x0 + 3 * step - 10 * step, y0 + 2 * step, x1 + 5 * step - 10 * step, y1 + 2 * step - step]
    assert selected_rect(page) == pytest.approx(expected, abs=0.01)
    assert page.inner_text("#rv-position") == "1 / 2"  # with a box selected, arrows move it, not the image
    # P at the pointer, then one undo takes back the whole run of arrow presses on it.
    page.mouse.move(*to_screen(page, 100, 90))
    page.keyboard.press("p")
    second = selected_rect(page)
    assert ((second[0] + second[2]) / 2, (second[1] + second[3]) / 2) == pytest.approx((100, 90), abs=1)
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Control+z")
    assert selected_rect(page) == pytest.approx(second, abs=0.01)
    page.keyboard.press("Enter")
    wait_position(page, "2 / 2")
    wait_saved(page)
    saved = added_boxes(images[0])
    assert len(saved) == 2
    assert saved[0] == pytest.approx(second, abs=1)
    assert saved[1] == pytest.approx(expected, abs=1)
    assert page.errors == []


def test_arrow_keys_while_zoomed_move_the_box_in_original_pixels(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=1, size=(640, 480), proposals=((300, 200, 360, 270),))
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.mouse.move(*to_screen(page, 330, 235))
    for _ in range(3):
        page.mouse.wheel(0, -300)
    page.wait_for_function("Number(document.getElementById('rv-svg').dataset.zoom) > 3")
    scale = page.locator("#rv-img").bounding_box()["width"] / 640
    step = max(1, round(4 / scale))  # about four screen pixels: one image pixel this close
    page.keyboard.press("Tab")
    for key in ["ArrowLeft"] * 5 + ["Shift+ArrowDown"] * 4:
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    review = Review.objects.get(image=images[0])
    [row] = ReviewBox.objects.filter(review=review)
    assert row.fate == "adjusted"
    assert [row.x0, row.y0, row.x1, row.y1] == pytest.approx(
        [300 - 5 * step, 200, 360 - 5 * step, 270 + 4 * step], abs=1
    )


def on_screen(page, selector):
    """Whether the element is wholly inside the stage the image is drawn in (what the reviewer can see)."""
    box, stage = page.locator(selector).bounding_box(), page.locator("#rv-stage").bounding_box()
    return (
        box["x"] >= stage["x"]
        and box["y"] >= stage["y"]
        and box["x"] + box["width"] <= stage["x"] + stage["width"]
        and box["y"] + box["height"] <= stage["y"] + stage["height"]
    )


def test_keyboard_zoom_keeps_the_box_in_view_on_a_large_photo_and_saves_original_pixels(login, reviewer_user):
    """No mouse at all on a camera-sized photo: P in the middle, Ctrl+arrows to a far corner, + zooms in on the
    box (not on the middle of the view, where the box is not), finer arrow steps there, saved as shown."""
    batch, images = make_batch([reviewer_user], n=1, size=(1600, 1200), proposals=())
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.keyboard.press("p")
    placed = selected_rect(page)
    assert ((placed[0] + placed[2]) / 2, (placed[1] + placed[3]) / 2) == pytest.approx((800, 600), abs=1)
    fit_step = max(1, round(4 / (page.locator("#rv-img").bounding_box()["width"] / 1600)))
    assert fit_step >= 2  # the whole photo on screen: one press is several original pixels
    right, down = (1500 - placed[2]) // (10 * fit_step), (1150 - placed[3]) // (10 * fit_step)
    for key in ["Control+ArrowRight"] * int(right) + ["Control+ArrowDown"] * int(down):
        page.keyboard.press(key)
    moved = selected_rect(page)
    dx, dy = 10 * fit_step * right, 10 * fit_step * down
    assert moved == pytest.approx([placed[0] + dx, placed[1] + dy, placed[2] + dx, placed[3] + dy], abs=0.01)
    assert moved[0] > 1100  # far from the middle, where + used to zoom
    assert moved[1] > 800
    for _ in range(4):
        page.keyboard.press("+")
        assert on_screen(page, ".rv-box.selected .rv-body")
    assert float(page.get_attribute("#rv-svg", "data-zoom")) == pytest.approx(1.25**4)
    step = max(1, round(4 / (page.locator("#rv-img").bounding_box()["width"] / 1600)))
    assert step < fit_step
    for key in ["ArrowLeft"] * 3 + ["Shift+ArrowDown"] * 2 + ["Shift+ArrowLeft"]:
        page.keyboard.press(key)
    x0, y0, x1, y1 = moved
    expected = [x0 - 3 * step, y0, x1 - 3 * step - step, y1 + 2 * step]
    shown = selected_rect(page)
    assert shown == pytest.approx(expected, abs=0.01)
    assert on_screen(page, ".rv-box.selected .rv-body")
    # With nothing selected, + zooms about the middle of the view as before.
    page.keyboard.press("Escape")
    before = page.get_attribute("#rv-svg", "viewBox").split()
    page.keyboard.press("+")
    after = page.get_attribute("#rv-svg", "viewBox").split()
    centre = lambda v: (float(v[0]) + float(v[2]) / 2, float(v[1]) + float(v[3]) / 2)  # noqa: E731
    assert centre(after) == pytest.approx(centre(before), abs=1)
    # The help says what + does from the keyboard.
    page.keyboard.press("?")
    assert "Zoom in on the selected box or candidate" in page.inner_text("#rv-help")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    [saved] = added_boxes(images[0])
    assert saved == pytest.approx(shown, abs=1)
    assert saved == pytest.approx(expected, abs=0.01)
    assert page.errors == []


def test_plus_zooms_on_the_selected_candidate(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=1, size=(1600, 1200), proposals=())
    add_candidates(images[0], rects=((1400, 1000, 1480, 1090),))
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.keyboard.press("v")
    for _ in range(4):
        page.keyboard.press("+")
    assert on_screen(page, ".rv-cand.selected .rv-cand-body")
    page.keyboard.press("f")
    assert selected_rect(page) == [1400, 1000, 1480, 1090]
    assert page.errors == []


def test_p_places_a_box_the_size_of_the_images_typical_box(login, reviewer_user):
    """A face missed in a crowd is about the size of the found ones: P starts from their median size."""
    proposals = ((100, 100, 130, 140), (200, 100, 232, 142), (300, 100, 326, 136), (400, 300, 600, 460))
    batch, images = make_batch([reviewer_user], n=1, size=(640, 480), proposals=proposals)
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.keyboard.press("p")  # the pointer is off the image: the middle of the view
    placed = selected_rect(page)
    assert [placed[2] - placed[0], placed[3] - placed[1]] == [
        30,
        40,
    ]  # median widths 26 30 32 200, heights 36 40 42 160
    assert ((placed[0] + placed[2]) / 2, (placed[1] + placed[3]) / 2) == pytest.approx((320, 240), abs=1)
    page.keyboard.press("?")
    assert "the size of the image's typical box" in page.inner_text("#rv-help")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    assert added_boxes(images[0]) == [pytest.approx(placed, abs=0.01)]
    assert page.errors == []
