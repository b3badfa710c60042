"""A crowd worker in a real Chromium: invite link with a Prolific id, instructions, a failed then a passed
qualification try, a pool batch reviewed to the end, a completion code the pay sheet lists; refused links."""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from crowd.models import CrowdWorker, InstructionExampleBox, QualificationAttempt
from crowd.services.onboarding import invite_token
from reviewer.models import Review
from tests.factories import AdminFactory, ImageFactory, InstructionExampleFactory, InviteFactory, crowd_study
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # Playwright evals
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return context, page


def wait_for(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_prolific_worker_from_link_to_completion_code_on_the_pay_sheet(browser, live_server, artifacts):
    dataset, _batch, _golds = crowd_study(gold=3, pool_images=3, qualification_size=2, max_mistakes=0, max_tries=3)
    example = InstructionExampleFactory(
        dataset=dataset,
        image=ImageFactory(dataset=dataset, content=jpeg_bytes(320, 240, seed=7), relative_path="ex/tiny.jpg"),
        caption="A tiny face far away still gets a box.",
    )
    InstructionExampleBox.objects.create(example=example, x0=200, y0=20, x1=212, y1=34)
    invite = InviteFactory(dataset=dataset, max_uses=5)
    link = f"{live_server.url}/join/{invite_token(invite)}/?PROLIFIC_PID=5f00aa11&STUDY_ID=st1&SESSION_ID=se1"
    context, page = new_page(browser)
    try:
        page.goto(link)
        assert "Review faces in photos" in page.inner_text("main")
        page.click("#join-start")
        # Lands on the instructions, with the admin's text, the example and its expected box.
        page.wait_for_selector("#instructions-text")
        assert "even tiny ones" in page.inner_text("#instructions-text")
        assert page.locator("#instructions-examples figure rect.crowd-box.ok").count() == 1
        assert "A tiny face far away" in page.inner_text("#instructions-examples")
        assert "Enter" in page.inner_text("#instructions-keys")
        page.screenshot(path=str(artifacts / "crowd-instructions.png"), full_page=True)
        worker = CrowdWorker.objects.get(external_id="5f00aa11")
        assert worker.platform == "prolific"
        page.click("#instructions-continue")

        # Try 1, keyboard only, with the review page's keys: Tab selects the proposed box over the face, Delete
        # removes it, Enter sends: a miss, and no mistake is allowed.
        page.wait_for_selector("#qualify-work.rv-ready #rv-svg .rv-box")
        page.keyboard.press("Tab")
        page.keyboard.press("Delete")
        assert page.locator("#rv-svg .rv-box").count() == 0
        page.keyboard.press("Enter")
        page.wait_for_selector("#qualify-failed")
        assert "You missed 1 face" in page.inner_text("#qualify-feedback")
        assert page.locator("#qualify-feedback rect.crowd-box.missed").count() == 1
        page.screenshot(path=str(artifacts / "crowd-qualification-feedback.png"), full_page=True)

        # Try 2, keyboard only: Enter on the feedback starts over; ? shows the review page's keys; P adds a box
        # (on no face: shown, not a mistake), Ctrl+Z takes it back; the proposals are right: Enter, Enter, Enter.
        page.keyboard.press("Enter")
        page.wait_for_selector("#qualify-work.rv-ready #rv-svg .rv-box")
        assert "Try 2 of 3" in page.inner_text("#qualify-where")
        page.keyboard.press("?")
        help_text = page.inner_text("#rv-help")
        assert "Send your answer" in help_text
        assert "Box it: turn the candidate" in help_text
        page.keyboard.press("Escape")
        assert page.locator("#rv-help").is_hidden()
        page.keyboard.press("p")
        assert page.locator("#rv-svg .rv-box").count() == 2
        page.keyboard.press("Control+z")
        assert page.locator("#rv-svg .rv-box").count() == 1
        page.keyboard.press("Enter")
        page.wait_for_selector("#qualify-next")
        assert "Correct" in page.inner_text("#qualify-feedback")
        page.keyboard.press("Enter")
        page.wait_for_selector("#qualify-work.rv-ready #rv-svg .rv-box")
        page.keyboard.press("Enter")
        page.wait_for_selector("#qualify-passed")
        results = list(QualificationAttempt.objects.filter(reviewer=worker.user).values_list("number", "result"))
        assert results == [(1, "failed"), (2, "passed")]

        # The pool batch, to the end, with Enter only; the instructions stay a click away.
        page.keyboard.press("Enter")  # Start reviewing
        page.wait_for_selector("#review-app.rv-ready")
        assert page.locator("#rv-instructions").get_attribute("href") == (f"/crowd/datasets/{dataset.pk}/instructions")
        for position in (1, 2, 3):
            page.wait_for_function(f"document.getElementById('rv-position').textContent === '{position} / 3'")
            page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('rv-banner').textContent.includes('is done')")
        wait_for(lambda: Review.objects.filter(reviewer=worker.user, is_current=True).count() == 3)
        page.click("#rv-finish")
        page.wait_for_selector("#completion-code")
        code = page.inner_text("#completion-code").strip()
        page.screenshot(path=str(artifacts / "crowd-completion-code.png"), full_page=True)
        assert page.errors == []
    finally:
        context.close()

    assert code.startswith("V")
    admin = Client()
    admin.force_login(AdminFactory())
    today = timezone.now().date()
    response = admin.get(
        f"/datasets/{dataset.pk}/crowd/paysheet.csv", {"start": str(today - timedelta(days=1)), "end": str(today)}
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    assert rows[0]["external_id"] == "5f00aa11"
    assert rows[0]["platform"] == "prolific"
    assert rows[0]["images"] == "3"
    assert rows[0]["completion_codes"] == code
    assert rows[0]["held_back"] == "no gold"  # the pool batch had no gold image mixed in
    checked = admin.post(f"/datasets/{dataset.pk}/crowd/codes", {"code": code})
    assert "Genuine: issued to" in checked.content.decode()


def test_refused_links_say_why_and_the_same_id_reaches_the_same_account(browser, live_server):
    dataset, _batch, _ = crowd_study(gold=2, qualification_size=2)
    expired = InviteFactory(dataset=dataset, expires_at=timezone.now() - timedelta(hours=1))
    revoked = InviteFactory(dataset=dataset, revoked_at=timezone.now())
    full = InviteFactory(dataset=dataset, max_uses=1)
    first, second = InviteFactory(dataset=dataset), InviteFactory(dataset=dataset)
    context, page = new_page(browser)
    try:
        for invite, words in ((expired, "expired on"), (revoked, "withdrawn")):
            response = page.goto(f"{live_server.url}/join/{invite_token(invite)}/?PROLIFIC_PID=aa1")
            assert response.status == 410
            assert words in page.inner_text("#refused")
        token = invite_token(first)
        response = page.goto(f"{live_server.url}/join/{token[:-2]}zz/?PROLIFIC_PID=aa1")
        assert response.status == 404
        assert "not a valid Veil invite" in page.inner_text("#refused")

        page.goto(f"{live_server.url}/join/{invite_token(full)}/?PROLIFIC_PID=aa2")
        page.click("#join-start")
        page.wait_for_selector("#instructions-text")
    finally:
        context.close()
    context, page = new_page(browser)  # another person, on another machine
    try:
        page.goto(f"{live_server.url}/join/{invite_token(full)}/?PROLIFIC_PID=aa3")
        page.click("#join-start")
        page.wait_for_selector("#refused")
        assert "used 1 times, its limit" in page.inner_text("#refused")
        for invite in (first, second):
            page.goto(f"{live_server.url}/join/{invite_token(invite)}/?PROLIFIC_PID=bb7")
            page.click("#join-start")
            page.wait_for_selector("#instructions-text")
        username = page.inner_text(".who")
    finally:
        context.close()
    worker = CrowdWorker.objects.get(external_id="bb7")
    assert username.startswith(worker.user.username)
    assert worker.user.participations.count() == 2
    assert not CrowdWorker.objects.filter(external_id="aa3").exists()
