import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviewer import jobs
from reviewer.models import Dataset, ImportJob
from reviewer.services.imports import import_run
from tests.archives import make_zip
from tests.factories import DatasetFactory, ImageFactory, ProposalFactory
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


def test_anonymous_users_get_the_login_page(client):
    response = client.get("/datasets/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/datasets/"


def test_reviewers_may_not_open_admin_pages(reviewer_client):
    dataset = DatasetFactory()
    for url in ["/datasets/", f"/datasets/{dataset.pk}/"]:
        response = reviewer_client.get(url)
        assert response.status_code == 403
        assert b"This page is for admins." in response.content
    assert reviewer_client.post(f"/datasets/{dataset.pk}/import", {}).status_code == 403


def test_dataset_list_counts_images_per_status(admin_client):
    dataset = DatasetFactory(name="faces-2026")
    ImageFactory.create_batch(2, dataset=dataset)
    ImageFactory(dataset=dataset, status="approved")
    page = admin_client.get("/datasets/").content.decode()
    assert "faces-2026" in page
    assert admin_client.get("/datasets/").context["datasets"][0].status_counts == {
        "new": 2, "detected": 0, "in_review": 0, "reviewed": 0, "approved": 1, "total": 3,
    }  # fmt: skip


def test_create_a_dataset_from_the_page(admin_client):
    response = admin_client.post("/datasets/new", {"name": "street scenes"})
    dataset = Dataset.objects.get(name="street scenes")
    assert response["Location"] == f"/datasets/{dataset.pk}/"


def test_upload_page_queues_the_import_shows_its_progress_then_lists_rejections(
    admin_client, django_capture_on_commit_callbacks
):
    dataset = DatasetFactory()
    archive = make_zip({"a.jpg": jpeg_bytes(seed=1), "text.jpg": b"plain text", "../escape.jpg": jpeg_bytes(seed=2)})
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            f"/datasets/{dataset.pk}/import",
            {"files": [SimpleUploadedFile("set.zip", archive), SimpleUploadedFile("b.jpg", jpeg_bytes(seed=3))]},
            headers={"accept": "application/json"},
        )
    assert response.status_code == 202  # answered before any file is imported
    body = json.loads(response.content)
    assert (body["status"], body["files_seen"], body["finished"]) == ("queued", 0, False)
    assert len(callbacks) == 1  # the worker hears of it once the job is committed
    assert dataset.images.count() == 0
    waiting = admin_client.get(body["url"]).content.decode()
    assert "0</b> files checked so far" in waiting
    assert "import-progress.js" in waiting

    import_run(import_id=body["import"])  # what the worker does
    progress = admin_client.get(f"/imports/{body['import']}/progress").json()
    assert progress == {
        "status": "done", "files_seen": 4, "imported": 2, "duplicates": 0, "duplicate_names": [], "rejected": 2,
        "error": "", "finished": True,
    }  # fmt: skip
    summary = admin_client.get(body["url"]).content.decode()
    assert "<code>text.jpg</code></td><td>Not an image</td><td>not an image file" in summary
    assert "<code>../escape.jpg</code></td><td>Unsafe path in archive</td>" in summary
    detail = admin_client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert "2 imported, 0 duplicate, 2 rejected" in detail


def test_the_import_summary_names_each_duplicate_and_the_image_it_repeats(admin_client):
    dataset = DatasetFactory()
    photo = jpeg_bytes(seed=7)
    response = admin_client.post(
        f"/datasets/{dataset.pk}/import",
        {"files": [SimpleUploadedFile("a.jpg", photo), SimpleUploadedFile("copy of a.jpg", photo)]},
        headers={"accept": "application/json"},
    )
    body = json.loads(response.content)
    import_run(import_id=body["import"])  # what the worker does
    body = admin_client.get(f"/imports/{body['import']}/progress").json() | {"url": body["url"]}
    assert (body["duplicates"], body["duplicate_names"]) == (1, ["copy of a.jpg"])
    summary = admin_client.get(body["url"]).content.decode()
    assert "<tr><td><code>copy of a.jpg</code></td><td><code>a.jpg</code></td></tr>" in summary
    detail = admin_client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert "Duplicate: <code>copy of a.jpg</code> = <code>a.jpg</code>" in detail


def test_upload_without_files_says_so(admin_client):
    dataset = DatasetFactory()
    response = admin_client.post(f"/datasets/{dataset.pk}/import", {}, headers={"accept": "application/json"})
    assert response.status_code == 400
    assert json.loads(response.content)["detail"] == "Choose at least one image or archive to import."


def test_dataset_page_shows_thumbnails_with_current_proposals_and_paginates(admin_client):
    dataset = DatasetFactory()
    proposal = ProposalFactory(image__dataset=dataset, x0=4, y0=5, x1=20, y1=25)
    dataset.current_detection_run = proposal.run
    dataset.save()
    ImageFactory.create_batch(60, dataset=dataset)
    page1 = admin_client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert f"/images/{proposal.image.pk}/thumbnail" in page1
    assert '<rect x="4.0" y="5.0" width="16.0" height="20.0">' in page1
    assert "60 of 61 images, by path" in page1
    next_after = admin_client.get(f"/datasets/{dataset.pk}/").context["next_after"]
    page2 = admin_client.get(f"/datasets/{dataset.pk}/?after={next_after}")
    assert len(page2.context["page"]) == 1
    assert page2.context["next_after"] is None


def test_unknown_dataset_is_404(admin_client):
    assert admin_client.get("/datasets/424242/").status_code == 404


def test_new_dataset_form_can_import_at_once(admin_client):
    response = admin_client.post(
        "/datasets/new",
        {"name": "fresh", "files": [SimpleUploadedFile("a.jpg", jpeg_bytes(seed=5))]},
        headers={"accept": "application/json"},
    )
    dataset = Dataset.objects.get(name="fresh")
    assert response.status_code == 202
    import_run(import_id=json.loads(response.content)["import"])
    assert dataset.images.get().relative_path == "a.jpg"


def test_new_dataset_without_a_name_is_refused_with_a_message(admin_client):
    response = admin_client.post("/datasets/new", {"name": " "}, headers={"accept": "application/json"})
    assert response.status_code == 400
    assert json.loads(response.content)["detail"] == "A dataset needs a name."


def _walk(client, url: str, key: str = "next_after") -> list[list[int]]:
    pages, after = [], None
    while True:
        response = client.get(url + (f"{'&' if '?' in url else '?'}after={after}" if after else ""))
        pages.append([image.pk for image in response.context["page"]])
        after = response.context[key]
        if after is None:
            return pages


def test_keyset_pages_show_every_image_exactly_once_in_path_order_with_and_without_a_status(admin_client):
    dataset = DatasetFactory()
    # Paths that sort differently from their ids, and a status filter that skips some of them.
    images = [
        ImageFactory(dataset=dataset, relative_path=f"d{(i * 37) % 130:03d}.jpg", status=("new", "detected")[i % 2])
        for i in range(130)
    ]
    by_path = [i.pk for i in sorted(images, key=lambda i: i.relative_path)]

    pages = _walk(admin_client, f"/datasets/{dataset.pk}/")

    assert [len(p) for p in pages] == [60, 60, 10]
    assert [pk for page in pages for pk in page] == by_path
    detected = [i.pk for i in sorted(images, key=lambda i: i.relative_path) if i.status == "detected"]
    pages = _walk(admin_client, f"/datasets/{dataset.pk}/?status=detected")
    assert [pk for page in pages for pk in page] == detected
    assert "65 images, by path" in admin_client.get(f"/datasets/{dataset.pk}/?status=detected").content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_import_with_the_broker_down_keeps_the_files_queued_and_says_so(admin_client, monkeypatch):
    def down(name, *args):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(jobs, "send", down)
    dataset = DatasetFactory()
    response = admin_client.post(
        f"/datasets/{dataset.pk}/import", {"files": [SimpleUploadedFile("a.jpg", jpeg_bytes(seed=1))]}
    )
    job = ImportJob.objects.get(dataset=dataset)
    assert (job.status, len(job.uploads)) == ("queued", 1)  # stored, for reconcile to send when the queue is back
    assert response.status_code == 302
    assert response.url == f"/imports/{job.pk}/"
    page = admin_client.get(response.url).content.decode()
    assert f"The files are stored as import {job.pk}, but the task queue cannot be reached right now" in page

    api = admin_client.post(
        f"/api/v1/datasets/{dataset.pk}/imports/", {"files": [SimpleUploadedFile("b.jpg", jpeg_bytes(seed=2))]}
    )
    assert api.status_code == 503
    body = api.json()
    assert (body["code"], body["import_id"]) == ("broker_unavailable", job.pk + 1)
    assert "the import starts by itself when the queue is back" in body["detail"]
    assert ImportJob.objects.filter(dataset=dataset, status="queued").count() == 2


def test_an_upload_the_media_folder_refuses_says_what_is_wrong_and_keeps_nothing(admin_client, monkeypatch, settings):
    """The data folder turned read-only: the first file was stored, the second refused."""
    from django.core.files.storage import FileSystemStorage

    real_save, calls = FileSystemStorage._save, []

    def read_only_after_one(storage, name, content):
        calls.append(name)
        if len(calls) > 1:
            raise PermissionError(13, "Permission denied")
        return real_save(storage, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", read_only_after_one)
    dataset = DatasetFactory()
    files = [SimpleUploadedFile("a.jpg", jpeg_bytes(seed=1)), SimpleUploadedFile("b.jpg", jpeg_bytes(seed=2))]
    response = admin_client.post(
        f"/datasets/{dataset.pk}/import", {"files": files}, headers={"accept": "application/json"}
    )
    assert response.status_code == 507
    body = json.loads(response.content)
    assert body["code"] == "upload_not_stored"
    assert "The upload could not be stored" in body["detail"]
    assert "(Permission denied)" in body["detail"]
    assert "VEIL_DATA_DIR" in body["detail"]
    assert not ImportJob.objects.exists()
    assert [p for p in (settings.MEDIA_ROOT / "imports").rglob("*") if p.is_file()] == []

    calls.clear()
    page = admin_client.post(f"/datasets/{dataset.pk}/import", {"files": [SimpleUploadedFile("c.jpg", b"x")] * 2})
    assert page.status_code == 302
    assert "The upload could not be stored" in admin_client.get(page.url).content.decode()
    calls.clear()
    api = admin_client.post(f"/api/v1/datasets/{dataset.pk}/imports/", {"files": files})
    assert (api.status_code, api.json()["code"]) == (507, "upload_not_stored")
    assert not ImportJob.objects.exists()


def test_a_large_upload_the_temporary_folder_refuses_is_a_507_with_the_reason(admin_client, settings, tmp_path):
    """Uploads above 5 MB are spooled to VEIL_DATA_DIR/tmp while the request is read: that folder is gone."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "gone")
    dataset = DatasetFactory()
    big = SimpleUploadedFile("big.zip", b"\0" * (6 * 1024 * 1024))
    response = admin_client.post(
        f"/datasets/{dataset.pk}/import", {"files": [big]}, headers={"accept": "application/json"}
    )
    assert response.status_code == 507
    assert "(No such file or directory)" in json.loads(response.content)["detail"]
    big.seek(0)
    page = admin_client.post(f"/datasets/{dataset.pk}/import", {"files": [big]})
    assert page.status_code == 507
    assert "The upload could not be stored" in page.content.decode()
    big.seek(0)
    api = admin_client.post(f"/api/v1/datasets/{dataset.pk}/imports/", {"files": [big]})
    assert (api.status_code, api.json()["code"]) == (507, "upload_not_stored")
    assert not ImportJob.objects.exists()
