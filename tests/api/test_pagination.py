"""One page shape for every list, keyset cursors that never COUNT the table, and the same style of filters."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviewer.models import Image
from tests.factories import DatasetFactory, ImageFactory

pytestmark = pytest.mark.django_db


def test_images_page_by_keyset_without_counting(admin_client):
    dataset = DatasetFactory()
    for i in range(7):
        ImageFactory(dataset=dataset, relative_path=f"p/{i:02d}.jpg", status="new" if i % 2 else "detected")
    url = f"/api/v1/datasets/{dataset.pk}/images/?page_size=3"
    seen, pages = [], 0
    with CaptureQueriesContext(connection) as queries:
        while url:
            body = admin_client.get(url).json()
            assert set(body) == {"next", "previous", "results"}
            seen += [i["relative_path"] for i in body["results"]]
            url, pages = body["next"], pages + 1
    assert seen == [f"p/{i:02d}.jpg" for i in range(7)]
    assert pages == 3
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "COUNT(" not in sql
    assert "OFFSET" not in sql
    assert '"RELATIVE_PATH" >' in sql  # the keyset condition


def test_filters_and_ordering_combine(admin_client):
    dataset = DatasetFactory()
    for i in range(4):
        ImageFactory(dataset=dataset, relative_path=f"{i}.jpg", status="new" if i % 2 else "detected")
    body = admin_client.get(f"/api/v1/datasets/{dataset.pk}/images/?status=new&ordering=-relative_path").json()
    assert [i["relative_path"] for i in body["results"]] == ["3.jpg", "1.jpg"]
    assert Image.objects.count() == 4


def test_page_size_is_capped(admin_client):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    body = admin_client.get(f"/api/v1/datasets/{dataset.pk}/images/?page_size=100000").json()
    assert len(body["results"]) == 1


def test_datasets_page_reads_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries):
    for i in range(5):
        ImageFactory(dataset=DatasetFactory(name=f"d{i}"))
    with django_assert_max_num_queries(4):  # session, user, the page of datasets, their counts
        body = admin_client.get("/api/v1/datasets/").json()
    assert [(d["name"], d["counts"]["total"]) for d in body["results"]] == [(f"d{i}", 1) for i in range(5)]
