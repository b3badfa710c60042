"""One error shape under /api/ for every status, never HTML; hostile bodies are a 400, not a 500."""

import pytest
from django.test import Client
from kombu.exceptions import OperationalError

from reviewer.models import Dataset
from tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db

NESTED = "[" * 100_000


def _is_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


@pytest.mark.parametrize("url", ["/api/nothing-here/", "/api/v1/nothing/", "/api/v1/datasets/x/", "/api/v2/"])
def test_unknown_urls_under_api_are_json_404(admin_client, url):
    _is_error(admin_client.get(url), 404, "not_found")
    _is_error(admin_client.post(url, {}), 404, "not_found")


def test_unknown_ids_and_methods(admin_client):
    body = _is_error(admin_client.get("/api/v1/datasets/999999/"), 404, "not_found")
    assert body["detail"] == "No such dataset."
    response = admin_client.delete("/api/v1/datasets/")
    _is_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_a_bug_is_a_json_500_without_a_trace(admin_client, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("api.views.datasets.datasets_selectors.datasets_all", boom)
    body = _is_error(admin_client.get("/api/v1/datasets/"), 500, "server_error")
    assert "secret" not in body["detail"]


def test_the_broker_down_is_a_503_to_retry(admin_client, monkeypatch):
    def down(**kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("api.views.datasets.dataset_get_or_create", down)
    response = admin_client.post("/api/v1/datasets/", {"name": "x"}, content_type="application/json")
    _is_error(response, 503, "unavailable")
    assert response["Retry-After"] == "5"


def test_html_accept_header_still_gets_json(admin_client):
    response = admin_client.get("/api/v1/datasets/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_deeply_nested_json_is_a_400_on_a_session_post_with_csrf(admin_user):
    """The RecursionError used to happen inside DRF's CSRF check, which reads the body."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    client.get("/accounts/login/")  # any page sets the CSRF cookie
    client.get("/datasets/")
    token = client.cookies["csrftoken"].value
    for url in ["/api/v1/datasets/", "/api/v1/tokens/", "/api/review/batches/1/next"]:
        response = client.post(url, NESTED, content_type="application/json", HTTP_X_CSRFTOKEN=token)
        body = _is_error(response, 400, "parse_error")
        assert body["detail"] == "The JSON body is nested deeper than 32 levels."
    assert not Dataset.objects.exists()


def test_deeply_nested_json_without_csrf_is_refused_cleanly(admin_client, admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post("/api/v1/datasets/", NESTED, content_type="application/json")
    assert response.status_code in (400, 403)
    assert response["Content-Type"] == "application/json"


def test_session_posts_need_the_csrf_header(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post("/api/v1/datasets/", {"name": "x"}, content_type="application/json")
    body = _is_error(response, 403, "permission_denied")
    assert "CSRF" in body["detail"]
    assert not Dataset.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ["x", "y"]}, "name"),
        ({"name": {"a": 1}}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({}, "name"),
    ],
)
def test_dataset_names_of_the_wrong_type_or_with_nul_are_refused(admin_client, body, field):
    response = admin_client.post("/api/v1/datasets/", body, content_type="application/json")
    error = _is_error(response, 400, "invalid")
    assert field in error["errors"]
    assert error["detail"].startswith(f"The request has errors: {field}: ")
    assert not Dataset.objects.exists()


def test_non_json_numbers_and_bad_json_are_400(admin_client):
    for raw in ['{"name": NaN}', '{"name": ', "\xff"]:
        response = admin_client.post("/api/v1/datasets/", raw, content_type="application/json")
        _is_error(response, 400, "parse_error")


def test_nul_in_query_or_form_fields_is_a_400_everywhere(admin_client):
    dataset = DatasetFactory()
    _is_error(admin_client.get(f"/api/v1/datasets/{dataset.pk}/images/?status=new%00"), 400, "invalid")
    page = admin_client.post("/datasets/new", {"name": "a\x00b"})
    assert page.status_code == 400
    assert b"NUL" in page.content
    assert Dataset.objects.count() == 1


def test_bad_filters_and_orderings_name_the_parameter(admin_client):
    dataset = DatasetFactory()
    url = f"/api/v1/datasets/{dataset.pk}/images/"
    assert "status" in _is_error(admin_client.get(url + "?status=lost"), 400, "invalid")["errors"]
    assert "is_gold" in _is_error(admin_client.get(url + "?is_gold=maybe"), 400, "invalid")["errors"]
    assert "ordering" in _is_error(admin_client.get(url + "?ordering=sha256"), 400, "invalid")["errors"]
    _is_error(admin_client.get(url + "?cursor=garbage"), 404, "not_found")
