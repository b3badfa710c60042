"""Imports off the request: uploads in storage, the task's body, resuming a killed import."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from reviewer import jobs
from reviewer.errors import ServiceError
from reviewer.models import ImportJob
from reviewer.services import ingest
from reviewer.services.imports import import_queue, import_reconcile, import_run
from tests.archives import make_zip
from tests.factories import DatasetFactory
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


def _uploads(n: int = 3):
    pack = make_zip({f"in/{i}.jpg": jpeg_bytes(seed=10 + i) for i in range(n)})
    return [SimpleUploadedFile("loose.jpg", jpeg_bytes(seed=1)), SimpleUploadedFile("pack.zip", pack)]


def test_queue_stores_the_uploads_in_storage_and_enqueues_on_commit(django_capture_on_commit_callbacks):
    dataset = DatasetFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        job = import_queue(dataset=dataset, files=_uploads(), paths=["photos/loose.jpg", ""])
    assert len(callbacks) == 1
    assert job.status == ImportJob.Status.QUEUED
    assert [u["path"] for u in job.uploads] == ["photos/loose.jpg", "pack.zip"]
    # Names Veil chose, in Django storage (S3 in production): any worker can read them.
    assert [u["storage"] for u in job.uploads] == [f"imports/{job.pk}/000000.upload", f"imports/{job.pk}/000001.upload"]
    assert all(default_storage.exists(u["storage"]) for u in job.uploads)
    assert dataset.images.count() == 0

    done = import_run(import_id=job.pk)
    assert (done.status, done.files_seen, done.imported_count, done.rejected_count) == ("done", 4, 4, 0)
    assert sorted(dataset.images.values_list("relative_path", flat=True)) == [
        "in/0.jpg", "in/1.jpg", "in/2.jpg", "photos/loose.jpg",
    ]  # fmt: skip
    assert not any(default_storage.exists(u["storage"]) for u in job.uploads)  # the copies are gone
    assert import_run(import_id=job.pk).imported_count == 4  # a second delivery changes nothing


def test_queue_refuses_no_files_and_keeps_a_nul_name_as_a_refusal():
    dataset = DatasetFactory()
    with pytest.raises(ServiceError, match="Choose at least one image or archive to import"):
        import_queue(dataset=dataset, files=[])
    job = import_queue(dataset=dataset, files=[SimpleUploadedFile("a.jpg", jpeg_bytes(seed=1))], paths=["evil\x00.jpg"])
    done = import_run(import_id=job.pk)
    assert list(done.rejections.values_list("name", "reason", "message")) == [
        ("evil\\u0000.jpg", "unsafe_path", "the file name contains a NUL character")
    ]


def test_a_killed_import_is_resumed_without_duplicates_or_double_counts(monkeypatch):
    dataset = DatasetFactory()
    files = [
        *_uploads(6),
        SimpleUploadedFile("bad.jpg", b"not an image"),
        SimpleUploadedFile("b.jpg", jpeg_bytes(seed=1)),
    ]
    job = import_queue(dataset=dataset, files=files)
    real = ingest.image_ingest
    calls = {"n": 0}

    def dies_on_the_fifth(**kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise SystemExit("worker killed")  # not an Exception: nothing in the import catches it
        return real(**kwargs)

    monkeypatch.setattr(ingest, "image_ingest", dies_on_the_fifth)
    with pytest.raises(SystemExit):
        import_run(import_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.files_seen) == ("running", 4)
    assert dataset.images.count() == 4

    monkeypatch.setattr(ingest, "image_ingest", real)
    # The worker is gone: its heartbeat stops, and reconcile queues the job again.
    later = timezone.now() + timedelta(hours=1)
    assert import_reconcile(now=later) == [job.pk]
    done = import_run(import_id=job.pk)
    assert (done.status, done.files_seen, done.imported_count, done.duplicate_count, done.rejected_count) == (
        "done", 9, 7, 1, 1,
    )  # fmt: skip
    assert dataset.images.count() == 7
    assert list(done.rejections.values_list("name", flat=True)) == ["bad.jpg"]


@pytest.mark.django_db(transaction=True)  # commits for real: the sends happen on commit, as in a worker
def test_an_import_queued_while_the_broker_is_down_is_sent_at_the_next_reconcile(monkeypatch):
    def broker_down(*args):
        raise ConnectionRefusedError("redis is down")

    monkeypatch.setattr(jobs, "send", broker_down)
    with pytest.raises(jobs.BrokerUnavailable, match="the import starts by itself"):
        import_queue(dataset=DatasetFactory(), files=_uploads(1))
    job = ImportJob.objects.get()
    assert (job.status, job.sent_at) == ("queued", None)

    assert import_reconcile() == []  # still down at the next pass: the job stays not sent
    assert ImportJob.objects.get().sent_at is None

    # The broker is back: the next pass sends it at once, not after the reconcile age.
    sent = []
    monkeypatch.setattr(jobs, "send", lambda name, *args: sent.append((name, *args)))
    assert import_reconcile() == [job.pk]
    assert sent == [(jobs.IMPORT_RUN, job.pk)]
    assert ImportJob.objects.get().sent_at is not None
    assert import_reconcile() == []  # sent: not again before the reconcile age


def test_reconcile_leaves_a_live_import_alone():
    job = import_queue(dataset=DatasetFactory(), files=_uploads(1))
    ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now())
    assert import_reconcile(now=timezone.now() + timedelta(seconds=30)) == []


def test_a_second_delivery_while_a_worker_runs_the_job_does_nothing():
    dataset = DatasetFactory()
    job = import_queue(dataset=dataset, files=_uploads(1))
    ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now())
    assert import_run(import_id=job.pk).status == "running"
    assert dataset.images.count() == 0
