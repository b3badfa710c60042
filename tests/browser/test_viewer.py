"""The admin's image viewer in a real Chromium: opened from the approval queue, boxes moved and added with the
review page's editor, saved as the approved boxes, and found again in the export's annotations."""

from __future__ import annotations

import json

import pytest
from django.db.models import F

from reviewer.imaging.archive import read_member
from reviewer.models import Approval, Export, Image, Leak
from reviewer.services.export import export_render, export_start
from tests.browser.test_workflow import admin_page
from tests.factories import (
    CandidateFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    ProposalFactory,
    UserFactory,
    make_review,
)
from tests.images import jpeg_bytes
from tests.reviewer.services.test_export import export_archive_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FACE_A = (100, 100, 180, 190)  # both reviewers boxed it (slightly apart)
FACE_B = (400, 120, 460, 190)  # only the first reviewer did


class NoFaces:
    """The export's leak check finds nothing: this test is about the boxes, not the model."""

    def detect(self, pixels):
        return []

    def describe(self):
        return {"name": "none"}


def reviewed_image():
    dataset = DatasetFactory(name="viewer-set", reviews_required=2)
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    image = ImageFactory(
        dataset=dataset, relative_path="crowd/a.jpg", content=jpeg_bytes(640, 480, seed=5), status=Image.Status.REVIEWED
    )
    ProposalFactory(image=image, run=run, ordinal=0, score=0.9, x0=100, y0=100, x1=178, y1=188)
    CandidateFactory(image=image, run=run, ordinal=0, x0=300, y0=300, x1=340, y1=350)
    make_review(image, UserFactory(username="rob"), FACE_A, FACE_B)
    make_review(image, UserFactory(username="ann"), (104, 102, 182, 192))
    export = Export.objects.create(dataset=dataset, status=Export.Status.DONE)
    Leak.objects.create(export=export, image=image, kind=Leak.Kind.MISSED, score=0.7, x0=520, y0=300, x1=560, y1=350)
    return dataset, image


def to_screen(page, x, y):
    box = page.locator("#rv-img").bounding_box()
    return box["x"] + x * box["width"] / 640, box["y"] + y * box["height"] / 480


def drag(page, start, end):
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    page.mouse.move(*end)
    page.mouse.up()


def test_open_from_the_queue_move_one_box_add_one_save_approve_and_export(browser, live_server, artifacts):
    dataset, image = reviewed_image()
    admin = None
    context, page = admin_page(browser, live_server)
    try:
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(f"{live_server.url}/datasets/{dataset.pk}/approve/")
        page.click(f'#queue figure[data-image="{image.pk}"] a.thumb')
        page.wait_for_selector(".rv-ready")
        assert page.url.endswith(f"/datasets/{dataset.pk}/images/{image.pk}/")
        # The final boxes are the reviews merged: the union of the two boxes of face A, and face B.
        assert page.locator(".rv-box.final").count() == 2
        legend = page.inner_text("#vw-legend")
        for layer in ["Proposals (detector) (1)", "Candidates", "possibly missed faces (1)", "Review by rob (2)"]:
            assert layer in legend
        assert "5 · Review by ann (1)" in legend  # numbered: the digit key toggles it
        # Proposals and the leak are drawn in their own styles; reviews start hidden and toggle one by one.
        assert page.locator(".rv-overlay.ov-proposal rect").count() == 1
        assert page.locator(".rv-overlay.ov-leak-missed rect").count() == 1
        assert page.locator(".rv-overlay.ov-review").count() == 0
        page.locator("#vw-legend label", has_text="Review by rob").locator("input").check()
        assert page.locator(".rv-overlay.ov-review rect").count() == 2
        page.keyboard.press("5")  # the second review's layer, from the keyboard
        assert page.locator(".rv-overlay.ov-review rect").count() == 3
        # The same toolbar as the review page, its keys from the same table: C, as its button says, shows them.
        assert page.inner_text("button[data-action=candidates] kbd") == "C"
        assert page.get_attribute("#vw-save", "title").endswith("(Enter)")
        assert "" not in page.locator(".rv-toolbar kbd.rv-hint, .rv-statusbar kbd.rv-hint").all_inner_texts()
        page.keyboard.press("c")
        assert page.locator(".rv-cand").count() == 1
        page.screenshot(path=str(artifacts / "viewer.png"))

        scale = page.locator("#rv-img").bounding_box()["width"] / 640
        drag(page, to_screen(page, 430, 150), (to_screen(page, 430, 150)[0] + 30, to_screen(page, 430, 150)[1] + 15))
        drag(page, to_screen(page, 520, 300), to_screen(page, 560, 350))  # a box over the leak
        assert page.locator(".rv-box.added").count() == 1
        assert page.locator(".rv-box.adjusted").count() == 1
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('rv-banner').textContent.startsWith('Saved')")
        assert "3 approved boxes" in page.inner_text("#rv-banner")
        assert page.locator(".rv-box.final").count() == 3  # what was saved is now the final boxes
    finally:
        context.close()
    approval = Approval.objects.get(image=image, is_current=True)
    assert approval.source == Approval.Source.ADMIN
    admin = approval.approved_by
    assert admin.username == "ada"
    boxes = sorted(b.box.as_list() for b in approval.boxes.all())
    assert len(boxes) == 3
    assert boxes[0] == pytest.approx([100, 100, 182, 192], abs=0.01)  # face A untouched
    assert boxes[1] == pytest.approx([400 + 30 / scale, 120 + 15 / scale, 460 + 30 / scale, 190 + 15 / scale], abs=1)
    assert boxes[2] == pytest.approx([520, 300, 560, 350], abs=1)
    image.refresh_from_db()
    assert image.status == Image.Status.APPROVED
    # The export blurs, and lists, exactly those boxes.
    export = export_render(
        # The candidate shown in the viewer was left alone, so the release gate holds the export: overridden here,
        # on record, since this test is about the boxes the viewer saved reaching the archive.
        export_id=export_start(
            dataset=dataset, options=None, user=admin, enqueue=False, gate_override="viewer test: candidate left"
        ).pk,
        detector=NoFaces(),
    )
    assert export.status == Export.Status.DONE, export.error
    [entry] = json.loads(read_member(export_archive_path(export), "annotations/face_annotations.json"))
    exported = sorted([b["x0"], b["y0"], b["x1"], b["y1"]] for b in entry["bboxes"])
    assert len(exported) == 3
    for got, want in zip(exported, boxes, strict=True):
        assert got == pytest.approx(want, abs=0.01)
    assert page.errors == []


def test_a_stale_save_is_refused_with_409_and_the_edits_stay(browser, live_server):
    dataset, image = reviewed_image()
    context, page = admin_page(browser, live_server)
    try:
        page.goto(f"{live_server.url}/datasets/{dataset.pk}/images/{image.pk}/")
        page.wait_for_selector(".rv-ready")
        page.mouse.click(*to_screen(page, 430, 150))
        page.keyboard.press("Delete")
        assert page.locator(".rv-box").count() == 1
        Image.objects.filter(pk=image.pk).update(revision=F("revision") + 1)  # a reviewer saved meanwhile
        page.click("#vw-save")
        page.wait_for_selector(".rv-banner.rv-error")
        assert "changed since you loaded it" in page.inner_text("#rv-banner")
        assert page.locator("#rv-banner button").inner_text() == "Reload (drops your edits)"
        assert page.locator(".rv-box").count() == 1
    finally:
        context.close()
    assert not Approval.objects.filter(image=image).exists()
