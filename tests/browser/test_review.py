"""The review page in a real headless Chromium: keys, mouse edits, zoom, and what lands in the database."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image as PILImage

from reviewer.models import Image, Lease, Review, ReviewBox
from tests.factories import (
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    ProposalFactory,
    UserFactory,
)
from tests.images import encode, jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FACE = (300.0, 400.0, 500.0, 650.0)  # in pixels of the displayed (EXIF-rotated) 900x1200 image


def rotated_photo() -> bytes:
    """A JPEG stored 1200x900 with EXIF orientation 6, displayed 900x1200, with a red 'face' at FACE."""
    displayed = np.full((1200, 900, 3), 200, dtype=np.uint8)
    x0, y0, x1, y1 = (int(v) for v in FACE)
    displayed[y0:y1, x0:x1] = (220, 20, 20)
    stored = np.rot90(displayed, k=1)  # orientation 6 turns it 90 degrees clockwise back to `displayed`
    return encode(np.ascontiguousarray(stored), "JPEG", orientation=6)


def make_batch(reviewers, n=3, *, contents=None, proposals=((10, 8, 30, 32), (36, 10, 56, 34)), size=(64, 48)):
    dataset = DatasetFactory()
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    batch = BatchFactory(dataset=dataset)
    images = []
    for i in range(n):
        content = (contents or {}).get(i) or jpeg_bytes(*size, seed=i)
        image = ImageFactory(dataset=dataset, status=Image.Status.DETECTED, content=content)
        BatchItemFactory(batch=batch, image=image, position=i)
        for ordinal, (x0, y0, x1, y1) in enumerate(proposals if i not in (contents or {}) else [FACE]):
            ProposalFactory(image=image, run=run, ordinal=ordinal, score=0.9 - ordinal / 10, x0=x0, y0=y0, x1=x1, y1=y1)
        images.append(image)
    for reviewer in reviewers:
        AssignmentFactory(batch=batch, reviewer=reviewer)
    return batch, images


def open_batch(page, batch):
    page.click(f"a[href='/review/batches/{batch.pk}/start']")
    page.wait_for_selector(".rv-ready")


def wait_position(page, text):
    page.wait_for_function(f"document.getElementById('rv-position').textContent === {text!r}")


def wait_saved(page):
    """Enter shows the next image at once and saves in the background: wait until no save is in flight."""
    page.wait_for_function("document.getElementById('rv-saves').dataset.pending === '0'")


def to_screen(page, x, y):
    """Where pixel (x, y) of the displayed original is on screen, from the layout box the image is drawn in."""
    width, height = (float(page.get_attribute("#rv-img", side)) for side in ("width", "height"))
    box = page.locator("#rv-img").bounding_box()
    return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height


def drag(page, start, end):
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=6)
    page.mouse.up()


def current_boxes(image):
    review = Review.objects.get(image=image, is_current=True)
    return sorted((b.fate, [round(v, 2) for v in b.box.as_list()]) for b in review.boxes.all())


def test_enter_accepts_all_proposals_and_the_next_image_was_fetched_before(login, reviewer_user, artifacts):
    batch, images = make_batch([reviewer_user])
    page = login("rob-reviewer")
    assert "0 / 3" in page.inner_text("main")
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    open_batch(page, batch)
    assert page.inner_text("#rv-position") == "1 / 3"
    assert page.locator(".rv-box").count() == 2
    assert page.locator(".rv-score").all_text_contents() == ["0.90", "0.80"]
    page.wait_for_function("document.querySelectorAll('.rv-box').length === 2")
    page.screenshot(path=str(artifacts / "review-page.png"))
    # The next image's pixels are asked for before Enter, so the switch has nothing to wait for.
    page.wait_for_function(f"performance.getEntriesByName(location.origin + '/images/{images[1].pk}/display').length")
    assert any(url.endswith(f"/images/{images[1].pk}/display") for url in requested)
    page.keyboard.press("Enter")
    wait_position(page, "2 / 3")
    wait_saved(page)
    assert current_boxes(images[0]) == [("accepted", [10, 8, 30, 32]), ("accepted", [36, 10, 56, 34])]
    assert re.search(rf"/review/batches/{batch.pk}/images/{images[1].pk}$", page.url)
    images[0].refresh_from_db()
    assert images[0].status == Image.Status.REVIEWED
    assert 0 < Review.objects.get(image=images[0]).seconds_spent < 120  # the time the page was in front of Rob
    assert page.errors == []


def test_click_and_delete_a_proposal_then_tab_and_delete_the_other(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=2)
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.mouse.click(*to_screen(page, 20, 20))  # inside the first proposal
    assert page.locator(".rv-box.selected").count() == 1
    page.keyboard.press("Delete")
    assert page.locator(".rv-box").count() == 1
    page.keyboard.press("Enter")
    wait_position(page, "2 / 2")
    wait_saved(page)
    assert current_boxes(images[0]) == [("accepted", [36, 10, 56, 34]), ("deleted", [10, 8, 30, 32])]
    page.keyboard.press("Tab")
    page.keyboard.press("Backspace")
    page.keyboard.press("Tab")
    page.keyboard.press("Delete")
    assert page.locator(".rv-box").count() == 0
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    assert [fate for fate, _ in current_boxes(images[1])] == ["deleted", "deleted"]


def test_draw_a_box_on_empty_image_saves_it_in_original_pixels(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=1, proposals=())
    page = login("rob-reviewer")
    open_batch(page, batch)
    assert page.locator(".rv-box").count() == 0
    drag(page, to_screen(page, 12, 9), to_screen(page, 40.5, 33))
    assert page.locator(".rv-box.added").count() == 1
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    [(fate, box)] = current_boxes(images[0])
    assert fate == "added"
    assert box == pytest.approx([12, 9, 40.5, 33], abs=1)


def test_resize_with_a_handle_while_zoomed_saves_original_pixels(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=2, contents={0: rotated_photo()})
    photo = images[0]
    assert (photo.width, photo.height, photo.orientation) == (900, 1200, 6)
    page = login("rob-reviewer")
    open_batch(page, batch)
    fitted = page.locator("#rv-img").bounding_box()
    assert fitted["height"] < 1200  # shown smaller than its pixels
    # The red face is drawn where its box says: the browser turned the photo the way the server did.
    shot = np.asarray(PILImage.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(int)
    inside = shot[int(to_screen(page, 400, 525)[1]), int(to_screen(page, 400, 525)[0])]
    outside = shot[int(to_screen(page, 100, 900)[1]), int(to_screen(page, 100, 900)[0])]
    assert inside[0] > 180, inside
    assert inside[1] < 80, inside
    assert abs(outside[0] - outside[1]) < 30, outside

    page.mouse.move(*to_screen(page, 480, 630))
    for _ in range(3):
        page.mouse.wheel(0, -300)
    page.wait_for_function(f"document.getElementById('rv-img').getBoundingClientRect().height > {fitted['height'] * 3}")
    zoomed = page.locator("#rv-img").bounding_box()
    scale = zoomed["width"] / 900
    page.mouse.click(*to_screen(page, 400, 525))
    corner = to_screen(page, 500, 650)
    drag(page, corner, (corner[0] + 45, corner[1] + 30))
    page.keyboard.press("Enter")
    wait_position(page, "2 / 2")
    wait_saved(page)
    [(fate, box)] = current_boxes(photo)
    assert fate == "adjusted"
    assert box == pytest.approx([300, 400, 500 + 45 / scale, 650 + 30 / scale], abs=1)
    # Zoom is kept for the next image.
    assert float(page.get_attribute("#rv-svg", "data-zoom")) > 3


def test_undo_and_redo(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=1)
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.mouse.click(*to_screen(page, 46, 20))
    drag(page, to_screen(page, 46, 20), to_screen(page, 50, 24))  # move the second box by (4, 4)
    page.keyboard.press("Delete")
    assert page.locator(".rv-box").count() == 1
    page.keyboard.press("Control+z")
    assert page.locator(".rv-box").count() == 2
    page.keyboard.press("Control+z")  # undoes the move
    page.keyboard.press("Control+Shift+z")  # redoes it
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    assert current_boxes(images[0]) == [("accepted", [10, 8, 30, 32]), ("adjusted", [40, 14, 60, 38])]


def test_step_back_and_change_an_earlier_image(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=3)
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.keyboard.press("Enter")
    wait_position(page, "2 / 3")
    page.keyboard.press("a")
    wait_position(page, "1 / 3")
    assert page.locator(".rv-box").count() == 2  # my saved answer, shown again
    page.keyboard.press("Tab")
    page.keyboard.press("Delete")
    page.keyboard.press("u")
    page.keyboard.press("Enter")
    wait_position(page, "2 / 3")
    wait_saved(page)
    current = Review.objects.get(image=images[0], is_current=True)
    assert current.is_unsure
    assert current.supersedes is not None
    assert not current.supersedes.is_current
    assert sorted(current.boxes.values_list("fate", flat=True)) == ["accepted", "deleted"]
    page.keyboard.press("ArrowRight")
    wait_position(page, "3 / 3")
    page.keyboard.press("ArrowLeft")
    wait_position(page, "2 / 3")


def test_save_after_another_reviewer_took_the_lease_is_refused_and_edits_stay(login, reviewer_user):
    other = UserFactory(username="olga-reviewer")
    batch, images = make_batch([reviewer_user, other], n=2)
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.mouse.click(*to_screen(page, 20, 20))
    page.keyboard.press("Delete")
    assert page.locator(".rv-box").count() == 1
    # Rob's lease runs out while he thinks; Olga, in another browser, opens the same image and takes it.
    page.wait_for_load_state("networkidle")  # the page's own lease renewal must not land after the expiry below
    Lease.objects.filter(image=images[0]).update(expires_at=timezone.now() - timedelta(seconds=1))
    second = login("olga-reviewer")
    second.goto(page.url)
    second.wait_for_selector(".rv-ready")
    assert Lease.objects.get(image=images[0]).reviewer == other
    page.keyboard.press("Enter")
    page.wait_for_selector(".rv-banner.rv-error")
    assert "another reviewer has taken it" in page.inner_text("#rv-banner")
    assert page.inner_text("#rv-position") == "1 / 2"
    assert page.locator(".rv-box").count() == 1  # the deletion is still on screen
    assert not Review.objects.exists()
    # Olga's page says nothing about a conflict: she holds the lease.
    assert second.locator("#rv-banner").is_hidden()
    # Rob chooses to drop his edits: he now sees the image as it is, read-only while Olga holds it.
    page.click("#rv-banner button")
    page.wait_for_function(
        "document.getElementById('rv-banner').textContent.includes('You can look at it but not save it')"
    )
    assert page.locator(".rv-box").count() == 2
    page.keyboard.press("Enter")  # read-only: Enter says why instead of moving on
    assert "You can look at it but not save it" in page.inner_text("#rv-banner")
    assert page.inner_text("#rv-position") == "1 / 2"


def test_no_faces_and_gold_feedback(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=2)
    Image.objects.filter(pk=images[1].pk).update(is_gold=True)
    images[1].gold_boxes.create(x0=2, y0=30, x1=14, y1=46)
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.keyboard.press("n")
    assert page.locator(".rv-box").count() == 0
    page.keyboard.press("Enter")
    wait_position(page, "2 / 2")
    wait_saved(page)
    assert Review.objects.get(image=images[0]).has_no_faces
    page.keyboard.press("Enter")
    page.wait_for_selector(".rv-gold")
    assert "you missed 1 face" in page.inner_text("#rv-banner")
    assert page.text_content("#rv-gold") == "you missed a face here"
    review = Review.objects.get(image=images[1])
    assert (review.gold_misses, review.gold_extras) == (1, 2)
    assert ReviewBox.objects.filter(review=review, fate="accepted").count() == 2


def test_score_slider_dims_low_boxes_which_are_saved_deleted_and_h_b_only_change_the_view(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=1)  # scores 0.90 and 0.80
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.evaluate("document.getElementById('rv-threshold').value = '0.85'")
    page.dispatch_event("#rv-threshold", "input")
    assert page.locator(".rv-box.below").count() == 1
    assert page.inner_text("#rv-summary").startswith("1 face box")
    page.keyboard.press(".")  # the keyboard moves the slider too
    assert page.inner_text("#rv-threshold-value") == "0.90"
    page.keyboard.press(",")
    assert page.inner_text("#rv-threshold-value") == "0.85"
    page.keyboard.press("Shift+H")  # "hide below" from the keyboard, and back
    assert page.locator(".rv-box").count() == 1
    assert page.is_checked("#rv-hide-below")
    page.keyboard.press("Shift+H")
    assert page.locator(".rv-box").count() == 2
    page.keyboard.press("h")
    assert page.locator("#rv-boxes").is_hidden()
    page.keyboard.press("h")
    page.keyboard.press("b")
    assert page.locator("#rv-blurred").is_visible()
    assert page.locator("#rv-clip rect").count() == 1  # only the kept box is blurred in the preview
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    assert current_boxes(images[0]) == [("accepted", [10, 8, 30, 32]), ("deleted", [36, 10, 56, 34])]


def test_tab_brings_an_offscreen_box_into_view_when_zoomed(login, reviewer_user):
    batch, _ = make_batch([reviewer_user], n=1, size=(640, 480))
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.mouse.move(*to_screen(page, 600, 440))
    for _ in range(4):
        page.mouse.wheel(0, -400)
    assert page.locator(".rv-box .rv-body").first.bounding_box()["x"] < 0  # zoomed on the far corner
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    selected = page.locator(".rv-box.selected .rv-body").bounding_box()
    stage = page.locator("#rv-stage").bounding_box()
    assert stage["x"] <= selected["x"]
    assert selected["x"] + selected["width"] <= stage["x"] + stage["width"]
    assert stage["y"] <= selected["y"]
    assert selected["y"] + selected["height"] <= stage["y"] + stage["height"]


def test_brackets_grow_and_shrink_the_selected_box_from_the_keyboard(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=1, proposals=((10, 8, 30, 32),))
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.keyboard.press("Tab")
    page.keyboard.press("]")
    page.keyboard.press("]")
    page.keyboard.press("[")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    [(fate, box)] = current_boxes(images[0])
    assert fate == "adjusted"
    assert box == pytest.approx([9, 6.8, 31, 33.2], abs=0.05)  # 20x24 grown 10 %: 22x26.4 about (20, 20)


def test_a_save_that_cannot_reach_the_server_keeps_the_edits_and_enter_tries_again(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=2)
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.route("**/review", lambda route: route.abort())  # the network drops the save request
    page.keyboard.press("Tab")
    page.keyboard.press("Delete")
    page.keyboard.press("Enter")
    page.wait_for_selector(".rv-banner.rv-error")
    assert "could not be reached" in page.inner_text("#rv-banner")
    assert page.inner_text("#rv-position") == "1 / 2"
    assert page.locator(".rv-box").count() == 1
    page.unroute("**/review")
    page.keyboard.press("Enter")
    wait_position(page, "2 / 2")
    wait_saved(page)
    assert [fate for fate, _ in current_boxes(images[0])] == ["accepted", "deleted"]


def lost_answers(page, times, *, status=None):
    """Route the page's saves through to the server, then lose the first `times` answers on the way back: a
    503 in their place when `status`, else a dropped connection. Returns the request ids of every save sent."""
    sent = []

    def handle(route):
        sent.append(route.request.post_data_json["request_id"])
        if len(sent) > times:
            route.continue_()
            return
        route.fetch()  # the save reaches the server and commits
        if status:
            route.fulfill(status=status, json={"detail": "The database is out of reach. Try again.", "code": "x"})
        else:
            route.abort()

    page.route("**/review", handle)
    return sent


def test_a_save_that_committed_but_lost_its_answer_is_sent_again_once_and_counts_as_saved(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=2)
    page = login("rob-reviewer")
    open_batch(page, batch)
    sent = lost_answers(page, 1, status=503)
    page.keyboard.press("Enter")
    wait_position(page, "2 / 2")
    wait_saved(page)
    page.wait_for_function("document.getElementById('rv-saves').textContent === '1 saved'")
    assert len(sent) == 2
    assert sent[0] == sent[1]
    assert Review.objects.filter(image=images[0]).count() == 1
    assert not page.locator(".rv-banner.rv-error").count()


def test_enter_after_a_dropped_answer_saves_once_not_409(login, reviewer_user):
    """The save committed, both answers (the first and the page's own retry) were lost; Enter sends it again."""
    batch, images = make_batch([reviewer_user], n=2)
    page = login("rob-reviewer")
    open_batch(page, batch)
    sent = lost_answers(page, 2)
    page.keyboard.press("Tab")
    page.keyboard.press("Delete")
    page.keyboard.press("Enter")
    page.wait_for_selector(".rv-banner.rv-error")
    assert "could not be reached" in page.inner_text("#rv-banner")
    assert page.inner_text("#rv-position") == "1 / 2"
    page.wait_for_timeout(300)  # the lease renewal the refused image's return sends
    page.keyboard.press("Enter")
    wait_position(page, "2 / 2")
    wait_saved(page)
    assert not page.locator(".rv-banner.rv-error").count()
    assert len(set(sent)) == 1
    assert len(sent) == 3
    assert [fate for fate, _ in current_boxes(images[0])] == ["accepted", "deleted"]
    assert Review.objects.filter(image=images[0]).count() == 1


def test_space_and_drag_pans_without_drawing(login, reviewer_user):
    batch, _ = make_batch([reviewer_user], n=1, size=(640, 480), proposals=())
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.keyboard.press("+")
    page.keyboard.press("+")
    page.keyboard.press("+")
    before = page.locator("#rv-img").bounding_box()
    page.keyboard.down(" ")
    drag(page, (640, 400), (540, 330))
    page.keyboard.up(" ")
    after = page.locator("#rv-img").bounding_box()
    assert after["x"] == pytest.approx(before["x"] - 100, abs=2)
    assert after["y"] == pytest.approx(before["y"] - 70, abs=2)
    assert page.locator(".rv-box").count() == 0


def test_help_is_a_side_panel_drawn_from_the_key_table_and_the_image_stays_usable(login, reviewer_user, artifacts):
    batch, images = make_batch([reviewer_user], n=1, proposals=((10, 8, 30, 32),))
    page = login("rob-reviewer")
    open_batch(page, batch)
    page.keyboard.press("?")
    help_box = page.locator("#rv-help").bounding_box()
    page.wait_for_function(f"document.getElementById('rv-img').getBoundingClientRect().right <= {help_box['x'] + 0.5}")
    image_box = page.locator("#rv-img").bounding_box()
    assert image_box["x"] + image_box["width"] <= help_box["x"] + 0.5  # beside the image, not over it
    page.screenshot(path=str(artifacts / "review-help.png"))
    rows = page.locator("#rv-help-keys tr")
    assert rows.count() > 15
    text = page.inner_text("#rv-help")
    for does in [
        "Place a new box where the digits aimed, else at the pointer",
        "Hide or show the candidates",
        "Select the next (J) or previous (K) row of the side list",
        "Size the selected box",
        "Move the selected",
    ]:
        assert does in text
    # One key per <kbd>: "?" and "Esc" are two rows, and no row shows a comma as if it were a key between keys.
    assert page.locator("#rv-help-keys th", has_text="?").first.locator("kbd").all_inner_texts() == ["?"]
    assert page.locator("#rv-help-keys th", has_text="Esc").first.locator("kbd").all_inner_texts() == ["Esc"]
    assert "Ctrl" in page.locator("#rv-help-keys th", has_text="Z").first.inner_text()
    # The image still takes clicks and keys while the help is open; the buttons do what the keys do.
    page.mouse.click(*to_screen(page, 20, 20))
    assert page.locator(".rv-box.selected").count() == 1
    page.click("button[data-action=grow]")
    page.keyboard.press("Escape")
    assert page.locator("#rv-help").is_hidden()
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    [(fate, box)] = current_boxes(images[0])
    assert fate == "adjusted"
    assert box == pytest.approx([9, 6.8, 31, 33.2], abs=0.05)


def test_the_key_on_each_button_is_the_key_bound_to_it(login, reviewer_user):
    """The toolbar (templates/reviewer/_editor_toolbar.html, shared with the image viewer) writes no key: each hint
    is drawn from the key table the keys are bound from, so what a button shows is what works."""
    batch, _images = make_batch([reviewer_user], n=1, proposals=((10, 8, 30, 32),))
    page = login("rob-reviewer")
    open_batch(page, batch)
    hints = page.locator(".rv-toolbar kbd.rv-hint, .rv-statusbar kbd.rv-hint, .rv-list-keys kbd.rv-hint")
    assert hints.count() > 15
    assert "" not in hints.all_inner_texts()
    assert page.inner_text(".rv-list-keys").startswith("J/K step")
    assert page.inner_text("button[data-action=save] kbd") == "Enter"
    assert page.get_attribute("button[data-action=save]", "title").endswith("(Enter)")
    assert page.get_attribute("button[data-action=redo]", "title") == "Redo (Ctrl+Shift+Z or Ctrl+Y)"
    assert page.get_attribute("button[data-action=closeHelp]", "title") == "Close (Esc)"
    for action in ["hide", "blur", "candidates", "unsure", "noFaces"]:
        button = page.locator(f"button[data-action={action}]")
        key = button.locator("kbd.rv-hint").inner_text()
        assert button.get_attribute("title").endswith(f"({key})")
        before = button.get_attribute("aria-pressed")
        page.keyboard.press(key.lower())  # as typed: the table answers a letter in either case
        assert button.get_attribute("aria-pressed") != before, action
        page.keyboard.press(key.lower())
        assert button.get_attribute("aria-pressed") == before, action
    assert page.errors == []
