"""Many machines: the whole flow with originals, renditions, leak crops and export archives on S3.

A real S3-compatible server (moto's server mode, started here on a loopback port of this suite's range) holds
every file. The web process (this test process, through Django's test client) and the worker (a real Celery
worker process) use different VEIL_DATA_DIRs, as two machines would: they share only PostgreSQL, the broker and
the bucket. Import, detect, review, approve, export and download all go through the same requests a person or
the page makes.
"""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.urls import reverse

from reviewer.imaging.archive import read_manifest, verify_manifest
from reviewer.imaging.loading import load_pixels
from reviewer.models import DetectionRun, Export, Image, ImportJob
from tests.conftest import WorkerProcess, purge_broker
from tests.factories import AdminFactory, UserFactory
from tests.images import encode

moto_server = pytest.importorskip("moto.server", reason="moto is not installed (pip install -r requirements.txt)")
boto3 = pytest.importorskip("boto3")

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PORT = 18520  # this suite's range; loopback only
FACE = (178, 60, 268, 178)  # the astronaut's face in skimage's 512x512 photograph
KEYS = {
    "AWS_ACCESS_KEY_ID": "veil-test",
    "AWS_SECRET_ACCESS_KEY": "veil-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3_server():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=PORT, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{PORT}"
    server.stop()


@pytest.fixture
def bucket(s3_server, monkeypatch):
    for key, value in KEYS.items():
        monkeypatch.setenv(key, value)
    name = f"veil-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return client, name


def s3_storages(endpoint: str, bucket: str) -> dict:
    """What config/settings.py builds from VEIL_S3_BUCKET and VEIL_S3_ENDPOINT_URL, for this process."""
    options = {
        "bucket_name": bucket, "endpoint_url": endpoint, "region_name": "us-east-1", "default_acl": "private",
        "querystring_auth": True, "file_overwrite": False,
    }  # fmt: skip
    backend = "storages.backends.s3.S3Storage"
    return {
        **settings.STORAGES,
        "default": {"BACKEND": backend, "OPTIONS": {**options, "location": "veil"}},
        "exports": {"BACKEND": backend, "OPTIONS": {**options, "location": "veil/exports"}},
    }


def wait_for(predicate, timeout: float, worker, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.log()[-4000:]}")


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_the_whole_flow_on_s3_with_the_web_and_the_worker_on_different_machines(
    bucket, s3_server, settings, tmp_path, client
):
    if str(settings.CELERY_BROKER_URL).startswith("filesystem://"):
        pytest.skip("two machines share a networked broker (Redis, as in CI); the embedded file broker is one folder")
    s3, bucket_name = bucket
    web_dir, worker_dir = tmp_path / "web-machine", tmp_path / "worker-machine"
    web_dir.mkdir()
    worker_dir.mkdir()
    settings.VEIL_DATA_DIR = web_dir
    settings.MEDIA_ROOT = web_dir / "media"  # must stay empty: every byte goes to S3
    settings.VEIL_EXPORT_DIR = web_dir / "exports"
    settings.STORAGES = s3_storages(s3_server, bucket_name)
    purge_broker()
    worker = WorkerProcess(
        tmp_path,
        worker_dir / "media",
        worker_dir / "exports",
        env={
            **KEYS,
            "VEIL_DATA_DIR": str(worker_dir),
            "VEIL_S3_BUCKET": bucket_name,
            "VEIL_S3_ENDPOINT_URL": s3_server,
            "VEIL_S3_REGION": "us-east-1",
        },
    ).start()
    try:
        _run_flow(client, worker, s3, bucket_name)
    finally:
        worker.kill()
    # Neither machine kept a file of the dataset on its own disk: only the bucket has them.
    assert files_under(web_dir) == []
    assert [f for f in files_under(worker_dir) if not f.startswith(("logs/", "secret_key", "celerybeat"))] == []


def _run_flow(client, worker, s3, bucket_name: str) -> None:
    from skimage import data

    admin = AdminFactory(username="ada-admin")
    reviewer = UserFactory(username="rob")
    client.force_login(admin)

    # Import: two photographs uploaded through the API, stored as private objects in the bucket.
    dataset = client.post(reverse("api-dataset-list"), {"name": "crew"}, content_type="application/json").json()
    uploads = []
    for i in range(2):
        pixels = data.astronaut().copy()
        pixels[-8:, -8:] = 60 * i
        uploads.append(io.BytesIO(encode(pixels, "JPEG")))
        uploads[-1].name = f"crew/{i}.jpg"
    paths = [u.name for u in uploads]
    imported = client.post(reverse("api-dataset-import", args=[dataset["id"]]), {"files": uploads, "paths": paths})
    assert imported.status_code == 202, imported.content  # the uploads wait in the bucket for the worker
    job_id = imported.json()["id"]
    wait_for(lambda: ImportJob.objects.get(pk=job_id).status == ImportJob.Status.DONE, 120, worker, "import")
    images = list(Image.objects.filter(dataset_id=dataset["id"]).order_by("relative_path"))
    assert len(images) == 2
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"]}
    assert {f"veil/{image.file.name}" for image in images} <= keys

    # Detect: the worker reads the originals from the bucket.
    started = client.post(reverse("api-dataset-detection-runs", args=[dataset["id"]]), {"detector": "centerface"},
                          content_type="application/json")  # fmt: skip
    assert started.status_code == 201, started.content
    run_id = started.json()["id"]
    wait_for(lambda: DetectionRun.objects.get(pk=run_id).status in DetectionRun.FINISHED, 180, worker, "detection")
    run = DetectionRun.objects.get(pk=run_id)
    assert run.status == DetectionRun.Status.DONE
    assert run.proposals.count() >= 2

    # Review: batches, an assignment, and the reviewer's saves through the page's API.
    batches = client.post(reverse("api-dataset-batches", args=[dataset["id"]]), {"size": 10},
                          content_type="application/json")  # fmt: skip
    assert batches.status_code == 201, batches.content
    batch_id = batches.json()[0]["id"]
    assigned = client.post(reverse("api-batch-assign", args=[batch_id]), {"reviewers": ["rob"]},
                           content_type="application/json")  # fmt: skip
    assert assigned.status_code == 201, assigned.content
    client.force_login(reviewer)
    for _ in range(2):
        state = client.post(f"/api/review/batches/{batch_id}/next", {}, content_type="application/json").json()["image"]
        shown = client.get(state["display_url"])  # the display rendition, made from and kept in the bucket
        assert shown.status_code == 200
        assert load_pixels(io.BytesIO(b"".join(shown.streaming_content))).shape[:2] == (512, 512)
        body = {
            "lease_token": state["lease"]["token"],
            "revision": state["revision"],
            "boxes": [{"proposal": p["id"], "fate": "accepted"} for p in state["proposals"]],
            "request_id": uuid.uuid4().hex,
            # The regions the detector was unsure of, looked at and judged: otherwise the release gate holds them.
            "candidates": [{"id": c["id"], "fate": "dismissed"} for c in state["candidates"]],
        }
        saved = client.post(f"/api/review/batches/{batch_id}/images/{state['id']}/review", body,
                            content_type="application/json")  # fmt: skip
        assert saved.status_code == 201, saved.content

    # Approve, then export: the worker renders, runs the leak check and uploads the archive to the bucket.
    client.force_login(admin)
    approved = client.post(reverse("api-dataset-approve", args=[dataset["id"]]), {"all": True},
                           content_type="application/json")  # fmt: skip
    assert approved.status_code in (200, 201), approved.content
    assert Image.objects.filter(dataset_id=dataset["id"], status=Image.Status.APPROVED).count() == 2
    # No gold image or audit on two test photos: the gate refuses, so the flow records an override and its reason.
    override = {"override_gate": "storage flow: no gold or audit"}
    started = client.post(reverse("api-dataset-exports", args=[dataset["id"]]), override,
                          content_type="application/json")  # fmt: skip
    assert started.status_code == 201, started.content
    export_id = started.json()["id"]
    wait_for(lambda: Export.objects.get(pk=export_id).status in ("done", "failed"), 240, worker, "the export")
    export = Export.objects.get(pk=export_id)
    assert export.status == Export.Status.DONE, export.error
    assert f"veil/exports/{export.file_name}" in {o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"]}

    # Download: streamed from the bucket through the permission-checked view.
    assert _download(client, export_id, reviewer) == 404  # a reviewer may not download exports, nor learn they exist
    client.force_login(admin)
    response = client.get(reverse("export-download", args=[export_id]))
    assert response.status_code == 200
    assert response.streaming
    archive = b"".join(response.streaming_content)
    assert len(archive) == export.file_size
    local = Path(settings.VEIL_DATA_DIR).parent / "downloaded.zip"
    local.write_bytes(archive)
    assert verify_manifest(local) == []
    with zipfile.ZipFile(local) as zf:
        manifest = read_manifest(zf.filename)
        out = load_pixels(io.BytesIO(zf.read("crew/0.jpg")))
    local.unlink()
    assert [entry["source_path"] for entry in manifest["images"]] == ["crew/0.jpg", "crew/1.jpg"]
    assert manifest["leak_check"]["residual_count"] == 0
    clean = data.astronaut()
    face = (slice(FACE[1], FACE[3]), slice(FACE[0], FACE[2]))
    sharp = np.abs(np.diff(clean[face].astype(int), axis=1)).mean()
    assert np.abs(np.diff(out[face].astype(int), axis=1)).mean() < 0.3 * sharp  # the face is blurred


def _download(client, export_id: int, user) -> int:
    client.force_login(user)
    return client.get(reverse("export-download", args=[export_id])).status_code
