"""Imports through a real Celery worker process: the page answers at once, the worker fills the job in."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviewer.models import ImportJob
from tests.archives import make_zip
from tests.factories import DatasetFactory
from tests.images import jpeg_bytes, png_with_chunk_bomb
from tests.reviewer.tasks.test_export_task import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_an_upload_from_the_page_is_imported_by_the_worker(celery_worker, admin_client):
    dataset = DatasetFactory()
    pack = make_zip({f"p/{i}.jpg": jpeg_bytes(seed=i) for i in range(5)} | {"bomb.png": png_with_chunk_bomb()})
    response = admin_client.post(
        f"/datasets/{dataset.pk}/import",
        {"files": [SimpleUploadedFile("pack.zip", pack)]},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 202
    job_id = json.loads(response.content)["import"]

    def finished():
        progress = admin_client.get(f"/imports/{job_id}/progress").json()
        return progress if progress["finished"] else None

    progress = wait_for(finished, 120, celery_worker, "the import to finish")
    assert progress["status"] == "done", progress
    assert (progress["files_seen"], progress["imported"], progress["rejected"]) == (6, 5, 1)
    job = ImportJob.objects.get(pk=job_id)
    assert list(job.rejections.values_list("name", "reason")) == [("bomb.png", "too_large")]
    assert dataset.images.count() == 5
