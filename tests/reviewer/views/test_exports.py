"""Export pages: start from the dataset page, watch, see leaks, download; only admins, only real exports."""

import io
import zipfile

import pytest
from django.test import Client
from django.urls import reverse

from reviewer.imaging.detectors import Detection
from reviewer.imaging.geometry import Box
from reviewer.models import Export, Image
from reviewer.services.export import export_render
from tests.factories import ANY_LEAK_RATE, ApprovalFactory, ApprovedBoxFactory, DatasetFactory, ImageFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


class FakeDetector:
    """Finds one 'face' far from any box; stands in for the model, these tests are about pages."""

    def detect(self, pixels):
        return [Detection(box=Box(90, 5, 110, 25), score=0.4)]

    def describe(self):
        return {"name": "fake"}


@pytest.fixture
def dataset(admin_user):
    ds = DatasetFactory(release_bound=ANY_LEAK_RATE, name="family")
    image = ImageFactory(dataset=ds, relative_path="a.png", content=png_bytes(120, 90), status=Image.Status.APPROVED)
    ApprovedBoxFactory(approval=ApprovalFactory(image=image), x0=10, y0=10, x1=40, y1=50)
    return ds


@pytest.fixture
def done_export(dataset, admin_user):
    export = Export.objects.create(dataset=dataset, created_by=admin_user, options={"blur": "gaussian"})
    from reviewer.services.export import export_options_clean

    export.options = export_options_clean({})
    export.save()
    return export_render(export_id=export.pk, detector=FakeDetector())


def test_dataset_page_panel_starts_an_export_and_lands_on_its_page(
    admin_client, dataset, django_capture_on_commit_callbacks
):
    page = admin_client.get(reverse("dataset-detail", args=[dataset.pk]))
    assert b"Start export" in page.content
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post(
            reverse("export-start", args=[dataset.pk]),
            {"blur": "pixelate", "archive": "tar", "annotations": ["coco", "csv"], "fail_on_residual": "on"},
        )
    export = Export.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("export-detail", args=[export.pk])
    assert export.options["blur"] == "pixelate"
    assert export.options["annotations"] == ["coco", "csv"]
    assert export.options["fail_on_residual"] is True
    assert export.options["leak_views"] is True  # no "quick" box ticked: the thorough leak check
    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    assert b"Queued" in page.content
    assert b'data-status="queued"' in page.content


def test_the_dataset_page_offers_no_quick_leak_check_now_that_the_export_searches_no_original(
    admin_client, dataset, django_capture_on_commit_callbacks
):
    # The search for missed faces runs once, at detection: the export has no slow part left to skip. An old
    # script's quick_leak_check is still accepted (recorded as leak_views) and changes nothing.
    assert b'name="quick_leak_check"' not in admin_client.get(reverse("dataset-detail", args=[dataset.pk])).content
    with django_capture_on_commit_callbacks(execute=False):
        admin_client.post(reverse("export-start", args=[dataset.pk]), {"quick_leak_check": "on"})
    export = Export.objects.get()
    detector = FakeDetector()
    export_render(export_id=export.pk, detector=detector)
    page = admin_client.get(reverse("export-detail", args=[export.pk])).content.decode()
    assert "Quick leak check" not in page


def test_bad_options_come_back_as_a_message_on_the_dataset_page(admin_client, dataset):
    response = admin_client.post(reverse("export-start", args=[dataset.pk]), {"blur": "smudge"}, follow=True)
    assert (
        "Blur must be one of gaussian, imagenet, pixelate, fill; got &#x27;smudge&#x27;." in response.content.decode()
    )
    assert not Export.objects.exists()


def test_export_page_lists_leaks_with_crops_and_offers_the_download(admin_client, done_export):
    page = admin_client.get(reverse("export-detail", args=[done_export.pk])).content.decode()
    leak = done_export.leaks.get()
    assert "1</b> possibly missed face(s)" in page
    assert reverse("export-leak-thumbnail", args=[done_export.pk, leak.pk]) in page
    crop = admin_client.get(reverse("export-leak-thumbnail", args=[done_export.pk, leak.pk]))
    assert crop.status_code == 200
    assert crop["Content-Type"] == "image/jpeg"
    response = admin_client.get(reverse("export-download", args=[done_export.pk]))
    assert response.status_code == 200
    assert f'filename="{done_export.file_name}"' in response["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        assert "a.png" in zf.namelist()


def test_reviewers_and_strangers_get_nothing(client, reviewer_user, done_export, dataset):
    leak = done_export.leaks.get()
    urls = [
        reverse("export-detail", args=[done_export.pk]),
        reverse("export-download", args=[done_export.pk]),
        reverse("export-leak-thumbnail", args=[done_export.pk, leak.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    client.force_login(reviewer_user)
    assert client.get(urls[0]).status_code == 403  # the export page is an admin page, whatever the id
    for url in urls[1:]:  # a file of an export: the 404 of a missing one, so ids leak nothing
        response = client.get(url)
        assert response.status_code == 404
        assert b"nothing you may see" in response.content
    assert client.post(reverse("export-start", args=[dataset.pk])).status_code == 403
    assert Export.objects.count() == 1


def test_unknown_ids_and_unfinished_exports_are_404(admin_client, done_export, dataset, admin_user):
    assert admin_client.get(reverse("export-detail", args=[9999])).status_code == 404
    assert admin_client.get(reverse("export-download", args=[9999])).status_code == 404
    assert admin_client.post(reverse("export-start", args=[9999])).status_code == 404
    assert admin_client.get(reverse("export-leak-thumbnail", args=[done_export.pk, 9999])).status_code == 404
    queued = Export.objects.create(dataset=dataset, created_by=admin_user, options={"archive": "zip"})
    response = admin_client.get(reverse("export-download", args=[queued.pk]))
    assert response.status_code == 404
    # A leak of another export is not reachable through this one's URL.
    other = DatasetFactory(release_bound=ANY_LEAK_RATE, name="other")
    other_export = Export.objects.create(dataset=other, options={})
    leak = done_export.leaks.get()
    assert admin_client.get(reverse("export-leak-thumbnail", args=[other_export.pk, leak.pk])).status_code == 404


def test_a_queued_export_does_not_claim_the_leak_check_ran(admin_client, dataset, admin_user):
    export = Export.objects.create(
        dataset=dataset, created_by=admin_user, options={"blur": "gaussian"}, images_total=30
    )
    page = admin_client.get(reverse("export-detail", args=[export.pk])).content.decode()
    assert "Not run yet: after blurring, the face detector runs again on every exported image" in page
    assert "ran again on every exported image" not in page
    Export.objects.filter(pk=export.pk).update(options={"leak_check": False}, status=Export.Status.DONE)
    page = admin_client.get(reverse("export-detail", args=[export.pk])).content.decode()
    assert "The leak check was switched off for this export" in page


def test_a_done_export_reports_what_the_leak_check_found(admin_client, done_export):
    page = admin_client.get(reverse("export-detail", args=[done_export.pk])).content.decode()
    assert "the face detector ran again on every exported image" in page
    assert "Not run yet" not in page


def _rendered(dataset, admin_user, **options):
    from reviewer.services.export import export_options_clean

    export = Export.objects.create(dataset=dataset, created_by=admin_user, options=export_options_clean(options))
    return export_render(export_id=export.pk, detector=FakeDetector())


def test_a_folder_export_lists_its_files_and_serves_each_one_to_admins_only(admin_client, dataset, admin_user):
    export = _rendered(dataset, admin_user, archive="webdataset", shard_size=1)
    assert export.status == Export.Status.DONE, export.error
    html = admin_client.get(reverse("export-detail", args=[export.pk])).content.decode()
    shard = f"family-export-{export.pk}-000000.tar"
    assert reverse("export-file", args=[export.pk, shard]) in html
    assert reverse("export-file", args=[export.pk, "manifest.jsonl"]) in html
    response = admin_client.get(reverse("export-file", args=[export.pk, shard]))
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    assert data[257:262] == b"ustar"  # a tar shard
    assert admin_client.get(reverse("export-download", args=[export.pk])).status_code == 404  # no single archive
    assert admin_client.get(reverse("export-file", args=[export.pk, "../../secret"])).status_code == 404
    assert admin_client.get(reverse("export-file", args=[export.pk, "nope.tar"])).status_code == 404
    assert Client().get(reverse("export-file", args=[export.pk, shard])).status_code == 302  # to the login
    body = admin_client.get(reverse("api-export-detail", args=[export.pk])).json()
    assert body["download_url"] is None
    urls = {f["name"]: f["url"] for f in body["files"]}
    assert urls[shard] == reverse("api-export-file", args=[export.pk, shard])
    assert admin_client.get(urls["manifest.jsonl"]).status_code == 200


def test_a_failed_export_is_retried_from_its_page_keeping_its_finished_chunks(admin_client, dataset, admin_user):
    image = Image.objects.get(relative_path="a.png")
    with open(image.file.path, "rb") as fh:
        original = fh.read()
    with open(image.file.path, "ab") as fh:
        fh.write(b"tampered")
    export = _rendered(dataset, admin_user)
    assert export.status == Export.Status.FAILED
    html = admin_client.get(reverse("export-detail", args=[export.pk])).content.decode()
    assert 'id="export-retry"' in html
    assert "1</b> failed" in html
    with open(image.file.path, "wb") as fh:
        fh.write(original)
    response = admin_client.post(reverse("export-retry", args=[export.pk]), follow=True)
    assert "rendering again: only what failed is redone" in response.content.decode()
    export.refresh_from_db()
    assert (export.status, export.stage) == (Export.Status.RUNNING, Export.Stage.RENDERING)
    again = admin_client.post(reverse("api-export-retry", args=[export.pk]))
    assert again.status_code == 409
    assert again.json()["detail"] == f"Export {export.pk} is running; only a failed export is retried."


def _export_with_chunks(dataset, admin_user, chunks: int) -> Export:
    from reviewer.models import ExportChunk

    export = Export.objects.create(
        dataset=dataset, created_by=admin_user, options={"blur": "gaussian", "archive": "zip"}, status="running",
        stage="rendering", chunks_total=chunks, images_total=chunks * 64,
    )  # fmt: skip
    states = ["done", "running", "queued", "failed"]
    ExportChunk.objects.bulk_create(
        ExportChunk(export=export, index=i, image_ids=list(range(64)), status=states[i % 4]) for i in range(chunks)
    )
    return export


def test_the_export_page_and_its_progress_call_cost_the_same_at_4_and_400_chunks(
    admin_client, dataset, admin_user, django_assert_num_queries
):
    """The page and the poller read the chunks' states with one aggregate, whatever their number."""
    for chunks in (4, 400):
        export = _export_with_chunks(dataset, admin_user, chunks)
        with django_assert_num_queries(5):
            html = admin_client.get(reverse("export-detail", args=[export.pk])).content.decode()
        assert f"of {chunks}</p>" in html
        with django_assert_num_queries(4):
            body = admin_client.get(reverse("api-export-detail", args=[export.pk])).json()
        assert body["chunks"] == {
            "total": chunks, "done": chunks // 4, "running": chunks // 4, "queued": chunks // 4, "failed": chunks // 4
        }  # fmt: skip
