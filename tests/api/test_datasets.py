import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviewer.models import Dataset
from reviewer.services.imports import import_run
from tests.factories import DatasetFactory, ImageFactory
from tests.images import jpeg_bytes, truncated_jpeg_bytes

pytestmark = pytest.mark.django_db


def test_anonymous_requests_are_refused_as_json(client):
    response = client.get("/api/datasets/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="veil"'
    assert response.json() == {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"}


def test_reviewers_cannot_use_admin_endpoints(reviewer_client):
    dataset = DatasetFactory()
    response = reviewer_client.post(f"/api/datasets/{dataset.pk}/imports/", {"files": []})
    assert response.status_code == 403
    assert response.json()["detail"] == "This endpoint is for admins."


def test_create_list_and_read_datasets(admin_client):
    created = admin_client.post("/api/datasets/", {"name": "crowds"}, content_type="application/json")
    assert created.status_code == 201
    again = admin_client.post("/api/datasets/", {"name": "crowds"}, content_type="application/json")
    assert again.status_code == 400
    assert again.json() == {"detail": "A dataset called 'crowds' exists already.", "code": "exists"}
    ImageFactory(dataset=Dataset.objects.get(pk=created.json()["id"]))
    listing = admin_client.get("/api/datasets/").json()["results"]
    assert [(d["name"], d["counts"]["total"]) for d in listing] == [("crowds", 1)]


def test_multipart_import_is_queued_and_its_progress_read_back_with_reasons(admin_client):
    dataset = DatasetFactory()
    response = admin_client.post(
        f"/api/datasets/{dataset.pk}/imports/",
        {
            "files": [
                SimpleUploadedFile("a.jpg", jpeg_bytes(seed=1)),
                SimpleUploadedFile("t.jpg", truncated_jpeg_bytes()),
            ]
        },
    )
    assert response.status_code == 202
    queued = response.json()
    assert (queued["status"], queued["files_seen"]) == ("queued", 0)
    import_run(import_id=queued["id"])  # what the worker does
    body = admin_client.get(f"/api/imports/{queued['id']}/").json()
    assert (body["status"], body["files_seen"], body["imported_count"], body["rejected_count"]) == ("done", 2, 1, 1)
    assert body["rejections"][0]["name"] == "t.jpg"
    assert body["rejections"][0]["reason"] == "corrupt"
    images = admin_client.get(f"/api/datasets/{dataset.pk}/images/").json()
    assert [i["relative_path"] for i in images["results"]] == ["a.jpg"]


def test_import_without_files_is_a_clear_error(admin_client):
    dataset = DatasetFactory()
    response = admin_client.post(f"/api/datasets/{dataset.pk}/imports/", {})
    assert response.status_code == 400
    assert response.json()["detail"] == "Send at least one file in the multipart field 'files'."


def test_unknown_dataset_is_404_json(admin_client):
    assert admin_client.get("/api/datasets/999/").status_code == 404
    assert admin_client.get("/api/datasets/999/images/").json()["detail"]
