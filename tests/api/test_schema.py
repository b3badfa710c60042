"""The OpenAPI schema and its readers: every operation names who may call it and the errors it may answer;
Swagger UI and Redoc load from Veil's own static files, never a CDN."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return Client().get("/api/v1/schema/", {"format": "json"}).json()


def test_every_operation_has_its_permissions_and_errors(schema):
    operations = [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]
    assert len(operations) > 45
    for path, method, op in operations:
        assert path.startswith("/api/v1/"), path
        assert "**Who may call:**" in op["description"], (method, path)
        for status in ("401", "403", "404", "500", "503"):
            assert op["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
        if method != "get":
            assert "409" in op["responses"], (method, path)
    admin_only = schema["paths"]["/api/v1/datasets/"]["get"]["description"]
    assert "Admins only" in admin_only
    assert "Bearer" in admin_only
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token from /account/tokens/.",
    }


def test_lists_document_the_one_page_shape_and_their_filters(schema):
    images = schema["paths"]["/api/v1/datasets/{id}/images/"]["get"]
    names = {p["name"] for p in images["parameters"]}
    assert {"cursor", "page_size", "status", "is_gold", "ordering"} <= names
    page = schema["components"]["schemas"]["PaginatedImageList"]
    assert set(page["properties"]) == {"next", "previous", "results"}


@pytest.mark.parametrize("url", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_the_readers_use_local_files_only(client, url):
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    local = ("/static/drf_spectacular_sidecar/", "/static/veil/api/", "/api/v1/")
    assert all(s.startswith(local) for s in sources), sources
    assert "cdn" not in html.lower()
    assert "https://" not in html
    assert "<script>" not in html  # no inline script: a strict Content-Security-Policy can stay on
    assert "<style" not in html  # nor an inline style sheet (style-src-elem 'self')
    for asset in sources:
        if asset.startswith("/static/") or "script" in asset:
            assert client.get(asset).status_code == 200, asset
