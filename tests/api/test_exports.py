"""The export API: start, list, follow progress and leaks; admins only; errors as JSON with a sentence."""

import pytest
from django.urls import reverse

from reviewer.models import Export, Image
from tests.factories import ANY_LEAK_RATE, ApprovalFactory, ApprovedBoxFactory, DatasetFactory, ImageFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset():
    ds = DatasetFactory(release_bound=ANY_LEAK_RATE, name="family")
    image = ImageFactory(dataset=ds, relative_path="a.png", content=png_bytes(120, 90), status=Image.Status.APPROVED)
    ApprovedBoxFactory(approval=ApprovalFactory(image=image), x0=10, y0=10, x1=40, y1=50)
    return ds


def test_admin_starts_an_export_and_follows_it(admin_client, dataset, django_capture_on_commit_callbacks):
    url = reverse("api-dataset-exports", args=[dataset.pk])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(url, {"blur": "fill", "annotations": ["csv"]}, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert len(callbacks) == 1
    body = response.json()
    assert body["status"] == "queued"
    assert body["options"]["blur"] == "fill"
    assert body["options"]["annotations"] == ["csv"]
    assert body["images_total"] == 1
    assert body["download_url"] is None
    detail = admin_client.get(reverse("api-export-detail", args=[body["id"]])).json()
    assert (detail["percent"], detail["is_downloadable"], detail["download_url"]) == (0, False, None)
    leaks = admin_client.get(reverse("api-export-leaks", args=[body["id"]])).json()
    assert leaks == {"next": None, "previous": None, "results": []}
    listing = admin_client.get(url).json()
    assert [e["id"] for e in listing["results"]] == [body["id"]]


def test_bad_options_and_empty_datasets_are_refused_with_a_sentence(admin_client, dataset):
    url = reverse("api-dataset-exports", args=[dataset.pk])
    response = admin_client.post(url, {"archive": "rar"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Archive must be one of zip, tar, webdataset, folder, hf; got 'rar'.",
        "code": "invalid_option",
    }
    empty = DatasetFactory(release_bound=ANY_LEAK_RATE, name="empty")
    response = admin_client.post(reverse("api-dataset-exports", args=[empty.pk]), {}, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["detail"] == "empty has no approved image to export yet."
    assert not Export.objects.exists()


def test_reviewers_anonymous_and_unknown_ids(client, reviewer_user, admin_user, dataset):
    export = Export.objects.create(dataset=dataset, options={})
    urls = [reverse("api-dataset-exports", args=[dataset.pk]), reverse("api-export-detail", args=[export.pk])]
    assert client.get(urls[1]).status_code == 401  # anonymous
    client.force_login(reviewer_user)
    response = client.get(urls[0])
    assert response.status_code == 403
    assert response.json()["detail"] == "This endpoint is for admins."
    # An export id tells a reviewer nothing: the same 404 for this export as for one that does not exist.
    existing, missing = client.get(urls[1]), client.get(reverse("api-export-detail", args=[9999]))
    assert (existing.status_code, existing.json()) == (404, {"detail": "No such export.", "code": "not_found"})
    assert (missing.status_code, missing.json()) == (existing.status_code, existing.json())
    assert client.post(urls[0], {}, content_type="application/json").status_code == 403
    client.force_login(admin_user)
    assert client.get(reverse("api-export-detail", args=[9999])).status_code == 404
    missing = reverse("api-dataset-exports", args=[9999])
    assert client.post(missing, {}, content_type="application/json").status_code == 404
    assert not Export.objects.exclude(pk=export.pk).exists()
