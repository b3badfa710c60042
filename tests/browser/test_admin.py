"""The admin's people, settings and dashboard pages in a real Chromium."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from reviewer.models import DatasetDay, Image, Review, User
from reviewer.services.snapshots import snapshots_write
from tests.factories import (
    AdminFactory,
    ApprovalFactory,
    ApprovedBoxFactory,
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    ProposalFactory,
    UserFactory,
    make_review,
)
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(browser, live_server, username, password, lands_on):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # Playwright evals
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{lands_on}")
    return context, page


def review_every_image(browser, live_server, reviewer, batch, n):
    """Log in as the reviewer, open the batch and accept each image with Enter until n current reviews exist."""
    context, page = log_in(browser, live_server, reviewer.username, "review-pass-123", "/review/")
    try:
        page.goto(f"{live_server.url}/review/batches/{batch.pk}/start")
        deadline = time.monotonic() + 60
        while Review.objects.filter(reviewer=reviewer, is_current=True).count() < n:
            assert time.monotonic() < deadline, "the reviewer could not review every image"
            done = Review.objects.filter(reviewer=reviewer, is_current=True).count()
            page.keyboard.press("Enter")
            for _ in range(40):
                if Review.objects.filter(reviewer=reviewer, is_current=True).count() > done:
                    break
                page.wait_for_timeout(100)
    finally:
        context.close()


def test_setting_k_to_2_on_the_settings_page_gives_two_reviewers_every_image(browser, live_server):
    AdminFactory(username="ada")
    rita, sam = UserFactory(username="rita"), UserFactory(username="sam")
    dataset = DatasetFactory(name="k-two")
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    batch = BatchFactory(dataset=dataset, name="b-001")
    images = []
    for i in range(3):
        image = ImageFactory(dataset=dataset, status=Image.Status.DETECTED, content=jpeg_bytes(64, 48, seed=i))
        BatchItemFactory(batch=batch, image=image, position=i)
        ProposalFactory(image=image, run=run, ordinal=0)
        images.append(image)
    AssignmentFactory(batch=batch, reviewer=rita)
    review_every_image(browser, live_server, rita, batch, 3)
    assert set(Image.objects.filter(dataset=dataset).values_list("status", flat=True)) == {Image.Status.REVIEWED}

    context, page = log_in(browser, live_server, "ada", "admin-pass-123", "/datasets/")
    try:
        page.goto(f"{live_server.url}/datasets/{dataset.pk}/settings/")
        page.fill("input[name=reviews_required]", "2")
        page.get_by_label("rita").check()
        page.get_by_label("sam").check()
        page.get_by_role("button", name="Save settings").click()
        page.wait_for_selector(".messages li.msg-success")
        message = page.locator(".messages li.msg-success").inner_text()
        assert "reviews per image 1 → 2" in message
        assert "3 images back in review for more reviews." in message
        assert "Batches given: b-001 to sam." in message
    finally:
        context.close()

    review_every_image(browser, live_server, sam, batch, 3)
    for image in images:
        reviewers = set(
            Review.objects.filter(image=image, is_current=True).values_list("reviewer__username", flat=True)
        )
        assert reviewers == {"rita", "sam"}
        assert Image.objects.get(pk=image.pk).status == Image.Status.REVIEWED


def test_an_admin_creates_a_reviewer_on_the_people_page_who_can_then_log_in(browser, live_server, artifacts):
    AdminFactory(username="ada")
    UserFactory(username="rita")
    UserFactory(username="old-hand", is_active=False)
    context, page = log_in(browser, live_server, "ada", "admin-pass-123", "/datasets/")
    try:
        page.click("nav >> text=People")
        page.wait_for_url(f"{live_server.url}/people/")
        page.fill("#person-create input[name=username]", "newbie")
        page.select_option("#person-create select[name=role]", "reviewer")
        page.fill("#person-create input[name=email]", "newbie@example.org")
        page.get_by_role("button", name="Create").click()
        page.wait_for_selector("#one-time-password")
        password = page.locator("#one-time-password code.password").inner_text().strip()
        page.screenshot(path=str(artifacts / "people.png"), full_page=True)
        # A second try with the same name is refused beside the field.
        page.fill("#person-create input[name=username]", "NEWBIE")
        page.get_by_role("button", name="Create").click()
        assert (
            page.locator('.field-error[data-field="username"]').inner_text() == "A user called 'NEWBIE' exists already."
        )
    finally:
        context.close()
    assert User.objects.get(username="newbie").role == User.Role.REVIEWER
    context, page = log_in(browser, live_server, "newbie", password, "/review/")
    try:
        assert "newbie · Reviewer" in page.locator(".who").inner_text()
    finally:
        context.close()


def test_dataset_dashboard_screenshot(browser, live_server, artifacts):
    AdminFactory(username="ada")
    dataset = DatasetFactory(name="street-2026")
    statuses = [Image.Status.APPROVED] * 5 + [Image.Status.REVIEWED] * 3 + [Image.Status.IN_REVIEW] * 2
    statuses += [Image.Status.DETECTED] * 6 + [Image.Status.NEW] * 2
    for b in range(3):
        batch = BatchFactory(dataset=dataset, name=f"street-{b + 1:03d}")
        AssignmentFactory(batch=batch, reviewer=UserFactory(username=f"crowd{b}"))
        for i, status in enumerate(statuses[b * 6 : b * 6 + 6]):
            BatchItemFactory(batch=batch, position=i, image=ImageFactory(dataset=dataset, status=status))
    today = timezone.localdate()
    for back in range(14, 0, -1):
        done = 18 - back
        DatasetDay.objects.create(
            dataset=dataset, day=today - timedelta(days=back), approved=max(done // 3, 0), reviewed=max(done // 4, 0),
            detected=max(18 - done, 0), new=2,
        )  # fmt: skip
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    for n, image in enumerate(Image.objects.filter(dataset=dataset, status=Image.Status.APPROVED)):
        approval = ApprovalFactory(image=image)
        ApprovedBoxFactory(approval=approval, x0=4, y0=4, x1=40, y1=40)  # a 36 px face the detector finds
        ApprovedBoxFactory(approval=approval, x0=44, y0=30, x1=60, y1=46)  # a 16 px face it misses
        ProposalFactory(run=run, image=image, ordinal=0, x0=5, y0=5, x1=40, y1=41)
        make_review(image, User.objects.get(username=f"crowd{n % 3}"), (4, 4, 40, 40), seconds_spent=3 + n)
    snapshots_write(force=True)
    context, page = log_in(browser, live_server, "ada", "admin-pass-123", "/datasets/")
    try:
        page.goto(f"{live_server.url}/datasets/{dataset.pk}/dashboard/")
        assert page.locator("#stage-bar h2").inner_text() == "18 images, by stage"
        assert page.locator("#stage-days svg rect").count() > 14
        assert page.locator('#batch-progress tr[data-batch="street-001"]').inner_text().count("crowd0") == 1
        page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
        page.click(".workflow-tabs >> text=Reviewers")
        assert page.locator('#reviewer-dashboard tr[data-reviewer="crowd0"] td.num').first.inner_text() == "2"
        page.screenshot(path=str(artifacts / "dashboard-reviewers.png"), full_page=True)
        page.click(".workflow-tabs >> text=Detector")
        assert page.locator("#missed-link").inner_text() == "5 faces the detector missed"
        page.screenshot(path=str(artifacts / "dashboard-detector.png"), full_page=True)
        page.click("#missed-link")
        assert page.locator("#missed-faces figure").count() == 5
    finally:
        context.close()
