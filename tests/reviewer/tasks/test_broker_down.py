"""The broker down when work starts: the run or export stays queued, the page and the API say so (503 JSON), a
second click makes no duplicate, and reconcile sends the work once the broker is back (a real Redis server that
the test stops and starts, and a real worker on it)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from celery import current_app
from django.conf import settings
from kombu import pools

from reviewer.models import DetectionChunk, DetectionRun, Export
from reviewer.services.export import export_reconcile
from reviewer.services.reconcile import detection_reconcile
from tests.conftest import WorkerProcess
from tests.factories import ANY_LEAK_RATE, ApprovalFactory, ApprovedBoxFactory, DatasetFactory, ImageFactory
from tests.images import encode

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PORT = 18510  # this suite's range; loopback only


class RedisServer:
    def __init__(self, folder: Path):
        self.folder, self.process = folder, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{PORT}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(PORT), "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while subprocess.run(["redis-cli", "-p", str(PORT), "ping"], capture_output=True).stdout.strip() != b"PONG":
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def _point_app_at(url: str) -> None:
    app = current_app
    app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = url
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()  # kombu's process-wide pools, keyed by connection: the next send connects to `url`


@pytest.fixture
def broker(tmp_path):
    """A Redis of our own, down at first: the web process (this one) sends to it."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server); CI has it")
    server = RedisServer(tmp_path)
    old = current_app.conf.broker_url
    _point_app_at(server.url)
    yield server
    _point_app_at(old)
    server.stop()


def faces_dataset(n: int = 2):
    from skimage import data

    dataset = DatasetFactory(release_bound=ANY_LEAK_RATE, name="crew")
    for i in range(n):
        pixels = data.astronaut().copy()
        pixels[-8:, -8:] = i * 40
        image = ImageFactory(
            dataset=dataset, content=encode(pixels, "JPEG"), relative_path=f"{i}.jpg", status="approved"
        )
        ApprovedBoxFactory(approval=ApprovalFactory(image=image), x0=178, y0=60, x1=268, y1=178)
    return dataset


def wait_for(predicate, timeout: float, worker, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.log()[-3000:]}")


def test_detection_started_while_the_broker_is_down_is_kept_and_sent_when_it_is_back(
    broker, admin_client, settings, tmp_path
):
    dataset = faces_dataset()
    started = time.monotonic()
    response = admin_client.post(f"/api/datasets/{dataset.pk}/detection-runs/", {"detector": "centerface"},
                                 content_type="application/json")  # fmt: skip
    assert time.monotonic() - started < 10  # the request does not hang on a broker that is down
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "broker_unavailable"
    assert "saved as queued, but the task queue cannot be reached" in body["detail"]
    run = DetectionRun.objects.get()
    assert body["run"] == run.pk
    assert run.status == DetectionRun.Status.QUEUED
    assert not DetectionChunk.objects.filter(run=run, queued_at__isnull=False).exists()  # marked as never sent

    # A second click, on the page this time: no second run, and the page says what happened.
    page = admin_client.post(f"/datasets/{dataset.pk}/detection/start", {"detector": "centerface"}, follow=True)
    assert page.status_code == 200
    assert page.redirect_chain[-1][0] == f"/detection/runs/{run.pk}/"
    assert f"Detection run {run.pk} is saved as queued, but the task queue cannot be reached" in page.content.decode()
    assert DetectionRun.objects.count() == 1

    # The broker comes back; a worker runs on it; reconcile's next pass sends the chunks.
    broker.start()
    worker = WorkerProcess(
        tmp_path, Path(settings.MEDIA_ROOT), Path(settings.VEIL_EXPORT_DIR), env={"CELERY_BROKER_URL": broker.url}
    ).start()
    try:
        report = detection_reconcile()
        assert sorted(report.requeued) == sorted(run.chunks.values_list("pk", flat=True))
        wait_for(lambda: DetectionRun.objects.get(pk=run.pk).status in DetectionRun.FINISHED, 120, worker, "the run")
        run.refresh_from_db()
        assert run.status == DetectionRun.Status.DONE
        assert run.results.count() == 2
        assert run.proposals.count() >= 2  # the astronaut's face, in each image
    finally:
        worker.kill()


def test_an_export_started_while_the_broker_is_down_is_kept_and_sent_when_it_is_back(broker, admin_client, tmp_path):
    dataset = faces_dataset(1)
    response = admin_client.post(f"/api/datasets/{dataset.pk}/exports/", {}, content_type="application/json")
    assert response.status_code == 503
    assert response.json()["code"] == "broker_unavailable"
    export = Export.objects.get()
    assert response.json()["export"] == export.pk
    assert "exporting again will not make a second export" in response.json()["detail"]
    assert (export.status, export.sent_at) == (Export.Status.QUEUED, None)

    # The same export from the page (its form sends the default annotation formats as checkboxes).
    form = {"annotations": ["imagenet-json", "coco", "csv"]}
    page = admin_client.post(f"/datasets/{dataset.pk}/exports/new", form, follow=True)
    assert page.redirect_chain[-1][0] == f"/exports/{export.pk}/"
    assert f"Export {export.pk} is saved as queued, but the task queue cannot be reached" in page.content.decode()
    assert "Not sent to a worker yet: the task queue could not be reached" in page.content.decode()  # stays on the page
    again = admin_client.post(f"/api/datasets/{dataset.pk}/exports/", {}, content_type="application/json")
    assert again.status_code == 503
    assert Export.objects.count() == 1

    assert export_reconcile() == []  # still down: nothing sent, nothing lost
    assert Export.objects.get(pk=export.pk).sent_at is None
    broker.start()
    worker = WorkerProcess(
        tmp_path, Path(settings.MEDIA_ROOT), Path(settings.VEIL_EXPORT_DIR), env={"CELERY_BROKER_URL": broker.url}
    ).start()
    try:
        assert export_reconcile() == [export.pk]
        wait_for(lambda: Export.objects.get(pk=export.pk).status == Export.Status.DONE, 120, worker, "the export")
        export.refresh_from_db()
        assert export.images_done == 1
        assert admin_client.get(f"/exports/{export.pk}/download").status_code == 200
    finally:
        worker.kill()


def test_an_import_queued_while_the_broker_is_down_starts_at_the_first_reconcile_once_it_is_back(
    broker, admin_client, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from reviewer.models import ImportJob
    from reviewer.services.reconcile import reconcile
    from tests.images import jpeg_bytes

    assert settings.VEIL_RECONCILE_AFTER_SECONDS == 900  # the age an import waited for before
    dataset = DatasetFactory(name="uploads")
    files = [SimpleUploadedFile("a.jpg", jpeg_bytes(seed=1)), SimpleUploadedFile("b.jpg", jpeg_bytes(seed=2))]
    response = admin_client.post(f"/api/datasets/{dataset.pk}/imports/", {"files": files})
    assert response.status_code == 503
    assert response.json()["code"] == "broker_unavailable"
    job = ImportJob.objects.get()
    assert response.json()["import_id"] == job.pk
    assert (job.status, job.sent_at) == (ImportJob.Status.QUEUED, None)  # kept, and known as never sent

    broker.start()
    worker = WorkerProcess(
        tmp_path, Path(settings.MEDIA_ROOT), Path(settings.VEIL_EXPORT_DIR), env={"CELERY_BROKER_URL": broker.url}
    ).start()
    try:
        back = time.monotonic()
        assert reconcile()["imports_requeued"] == [job.pk]  # the beat task's first pass once the broker is back
        wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.DONE, 120, worker, "the import")
        print(f"import done {time.monotonic() - back:.1f} s after the broker came back and reconcile ran")
        job.refresh_from_db()
        assert (job.files_seen, job.imported_count) == (2, 2)
        assert sorted(dataset.images.values_list("relative_path", flat=True)) == ["a.jpg", "b.jpg"]
        assert reconcile()["imports_requeued"] == []  # done: never sent again
    finally:
        worker.kill()
