"""The review page's side list, the candidate keys and aiming with the digits, in a real headless Chromium,
keyboard only where the test is about keys, down to the saved rows."""

from __future__ import annotations

import pytest

from reviewer.models import Image, Review, ReviewBox, ReviewCandidate
from reviewer.services.approval import image_send_back
from reviewer.services.lease import lease_acquire
from reviewer.services.review import BoxFate, review_submit
from tests.browser.conftest import docs_image
from tests.browser.test_review import make_batch, to_screen, wait_position, wait_saved
from tests.browser.test_review_keyboard import add_candidates, added_boxes, selected_rect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Scores 0.9, 0.8, 0.7, 0.6, 0.5 by ordinal (make_batch): the last two are the false positives.
CROWD = ((40, 60, 90, 120), (140, 60, 190, 120), (240, 60, 290, 120), (340, 260, 380, 300), (460, 320, 520, 390))


def open_by_keys(page, batch):
    """Open the batch by its address, no click: a keyboard-only reviewer follows the link with the keyboard."""
    page.goto(page.url.rsplit("/review/", 1)[0] + f"/review/batches/{batch.pk}/start")
    page.wait_for_selector(".rv-ready")


PARTS = ("kind", "score", "size")


def rows(page):
    """The side list as the reviewer reads it: (kind, score, size) per row, and the selected row's index."""
    items = page.locator("#rv-list-rows li")
    out = [
        tuple(items.nth(i).locator(f".rv-row-{part}").inner_text().replace("\u00d7", "x") for part in PARTS)
        for i in range(items.count())
    ]
    chosen = [i for i in range(items.count()) if items.nth(i).get_attribute("aria-selected") == "true"]
    return out, (chosen[0] if chosen else None)


def test_side_list_deletes_false_positives_in_few_keys_and_mirrors_the_image(login, reviewer_user):
    batch, images = make_batch([reviewer_user], n=2, size=(640, 480), proposals=CROWD)
    [cand] = add_candidates(images[0], rects=((560, 40, 600, 90),))
    page = login("rob-reviewer")
    open_by_keys(page, batch)
    listed, chosen = rows(page)
    # The open candidate first, then the boxes weakest first, each with its score and size.
    assert listed == [
        ("candidate", "0.20", "40x50"),
        ("box", "0.50", "60x70"),
        ("box", "0.60", "40x40"),
        ("box", "0.70", "50x60"),
        ("box", "0.80", "50x60"),
        ("box", "0.90", "50x60"),
    ]
    assert chosen is None
    assert page.inner_text("#rv-list-count") == "5 boxes, 1 open candidate"
    # J walks the list; the selected row is the selected box or candidate on the image.
    page.keyboard.press("j")
    assert rows(page)[1] == 0
    assert page.get_attribute(".rv-cand.selected", "data-cand") == str(cand.pk)
    page.keyboard.press("j")
    assert rows(page)[1] == 1
    assert selected_rect(page) == list(CROWD[4])
    page.screenshot(path=str(docs_image("review-side-list.png")))
    # Delete removes it and selects the next box down the list: the two false positives cost J J Delete Delete.
    page.keyboard.press("Delete")
    assert selected_rect(page) == list(CROWD[3])
    page.keyboard.press("Delete")
    assert selected_rect(page) == list(CROWD[2])
    assert [r[1] for r in rows(page)[0]] == ["0.20", "0.70", "0.80", "0.90"]
    assert page.inner_text("#rv-list-count") == "3 boxes, 1 open candidate"
    # K goes back up; from the mouse, a click on a row selects that box on the image, and a click on a box
    # selects its row.
    page.keyboard.press("k")
    assert rows(page)[1] == 0
    page.locator("#rv-list-rows li").nth(3).click()
    assert selected_rect(page) == list(CROWD[0])
    assert rows(page)[1] == 3
    page.mouse.click(*to_screen(page, 165, 90))
    assert selected_rect(page) == list(CROWD[1])
    assert rows(page)[1] == 2
    # The row's ✕ dismisses the candidate (not a face).
    page.locator("#rv-list-rows li").nth(0).locator(".rv-row-drop").click()
    assert page.locator(".rv-cand").count() == 0
    assert page.inner_text("#rv-list-count") == "3 boxes"
    page.keyboard.press("Enter")
    wait_position(page, "2 / 2")
    wait_saved(page)
    review = Review.objects.get(image=images[0], is_current=True)
    fates = dict(ReviewBox.objects.filter(review=review).values_list("proposal__ordinal", "fate"))
    assert fates == {0: "accepted", 1: "accepted", 2: "accepted", 3: "deleted", 4: "deleted"}
    assert list(ReviewCandidate.objects.filter(review=review).values_list("candidate_id", "fate")) == [
        (cand.pk, "dismissed")
    ]
    assert page.errors == []


def test_candidate_keys_keyboard_only_record_boxed_dismissed_and_left(login, reviewer_user):
    """F boxes, X says not a face and selects the next, V steps; the one left open keeps the image flagged."""
    batch, images = make_batch([reviewer_user], n=1, size=(640, 480), proposals=((200, 100, 260, 170),))
    tall, mid, low = add_candidates(images[0])  # heights 70, 60, 60 at 0.2: strongest first by score x height
    page = login("rob-reviewer")
    open_by_keys(page, batch)
    assert "3 open candidates" in page.inner_text("#rv-summary")
    page.keyboard.press("v")
    assert page.get_attribute(".rv-cand.selected", "data-cand") == str(tall.pk)
    page.keyboard.press("f")
    assert page.locator(".rv-box.added.from-candidate").count() == 1
    assert "2 open candidates" in page.inner_text("#rv-summary")
    page.keyboard.press("v")
    assert page.get_attribute(".rv-cand.selected", "data-cand") == str(mid.pk)
    page.keyboard.press("x")
    assert page.get_attribute(".rv-cand.selected", "data-cand") == str(low.pk)  # X moved on to the next
    assert "1 open candidate " in page.inner_text("#rv-summary")
    page.keyboard.press("Control+z")  # undo brings the dismissed one back
    assert page.locator(".rv-cand").count() == 2
    page.keyboard.press("Control+Shift+z")
    assert page.locator(".rv-cand").count() == 1
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    fates = ReviewCandidate.objects.order_by("candidate__ordinal").values_list("candidate_id", "fate")
    assert list(fates) == [(tall.pk, "boxed"), (mid.pk, "dismissed"), (low.pk, "left")]
    assert added_boxes(images[0]) == [list(CANDIDATES_TALL)]
    image = Image.objects.get(pk=images[0].pk)
    assert image.needs_second_look
    assert image.second_look_reasons == [{"code": "candidates", "count": 1}]
    assert page.errors == []


CANDIDATES_TALL = (100, 300, 160, 370)


def test_digits_aim_p_and_f_no_longer_fits(login, reviewer_user):
    """Keyboard only: 3 then 5 aim at the middle of the top-right ninth; P places the box there. F is Box it
    only: with no candidate it leaves the zoom alone, 0 fits."""
    batch, images = make_batch([reviewer_user], n=1, size=(640, 480), proposals=())
    page = login("rob-reviewer")
    open_by_keys(page, batch)
    page.keyboard.press("3")
    page.keyboard.press("5")
    cell = page.locator("#rv-aim .rv-aim-cell")
    x, y, w, h = (float(cell.get_attribute(a)) for a in ("x", "y", "width", "height"))
    assert [x, y, x + w, y + h] == pytest.approx([640 * 7 / 9, 480 / 9, 640 * 8 / 9, 480 * 2 / 9], abs=0.01)
    page.keyboard.press("p")
    placed = selected_rect(page)
    assert ((placed[0] + placed[2]) / 2, (placed[1] + placed[3]) / 2) == pytest.approx((640 * 15 / 18, 80), abs=1)
    assert page.locator("#rv-aim *").count() == 0  # the aim is spent
    page.keyboard.press("Escape")
    page.keyboard.press("+")
    page.keyboard.press("f")
    assert float(page.get_attribute("#rv-svg", "data-zoom")) == pytest.approx(1.25)
    page.keyboard.press("0")
    assert float(page.get_attribute("#rv-svg", "data-zoom")) == 1
    # The help is beside the image, never over it, and drawn from the key table.
    page.keyboard.press("?")
    help_box, stage = page.locator("#rv-help").bounding_box(), page.locator("#rv-stage").bounding_box()
    assert stage["x"] + stage["width"] <= help_box["x"] + 0.5
    text = page.inner_text("#rv-help")
    assert "Not a face: dismiss the candidate" in text
    assert "Fit the image to the window" in text
    assert "Aim where P places a box" in text
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    assert added_boxes(images[0]) == [pytest.approx(placed, abs=0.01)]
    assert page.errors == []


def test_an_image_sent_back_for_a_flag_opens_with_who_and_why_and_the_flagged_place_selected(
    login, reviewer_user, admin_user
):
    batch, images = make_batch([reviewer_user], n=1, size=(640, 480), proposals=((200, 100, 260, 170),))
    [flag] = add_candidates(images[0], rects=((400, 300, 450, 360),))
    review_submit(
        reviewer=reviewer_user,
        image_id=images[0].pk,
        revision=0,
        lease_token=lease_acquire(reviewer=reviewer_user, image=images[0]).token,
        fates=[BoxFate(fate="accepted", proposal_id=images[0].proposals.get().pk)],
        batch_id=batch.pk,
    )
    image_send_back(image=images[0], actor=admin_user, reason="second look: 1 unresolved candidate(s)")
    page = login("rob-reviewer")
    open_by_keys(page, batch)
    assert (
        page.inner_text("#rv-sent-back") == "Sent back to review by alice-admin: second look: 1 unresolved candidate(s)"
    )
    assert "Sent back with 1 flagged place: listed, the first selected" in page.inner_text("#rv-banner")
    assert page.get_attribute(".rv-cand.selected", "data-cand") == str(flag.pk)
    assert rows(page)[1] == 0  # and its row in the list
    page.keyboard.press("f")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('rv-banner').textContent.includes('Every image')")
    review = Review.objects.get(image=images[0], is_current=True)
    assert list(ReviewCandidate.objects.filter(review=review).values_list("candidate_id", "fate")) == [
        (flag.pk, "boxed")
    ]
    assert page.errors == []
