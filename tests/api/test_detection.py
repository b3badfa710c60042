"""Detection over the API: start a run, poll its progress, retry failures, make it current."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewer.models import DetectionChunk, DetectionResult, DetectionRun
from tests.factories import DatasetFactory, DetectionRunFactory, ImageFactory

pytestmark = pytest.mark.django_db


def _run_with_results(dataset, *, done: int, failed: int, status=DetectionRun.Status.FAILED) -> DetectionRun:
    images = ImageFactory.create_batch(done + failed + 1, dataset=dataset)  # one image not processed yet
    run = DetectionRunFactory(
        dataset=dataset, status=status, images_total=len(images), started_at=timezone.now() - timedelta(seconds=4)
    )
    for i, image in enumerate(images[: done + failed]):
        DetectionResult.objects.create(
            run=run,
            image=image,
            status="done" if i < done else "failed",
            face_count=2 if i < done else 0,
            error="" if i < done else "cannot read the image: boom",
        )
    DetectionChunk.objects.create(run=run, index=0, image_ids=[i.pk for i in images], status="running")
    return run


def test_start_a_run(admin_client):
    dataset = DatasetFactory()
    ImageFactory.create_batch(2, dataset=dataset)

    response = admin_client.post(
        reverse("api-dataset-detection-runs", args=[dataset.pk]),
        {"detector": "centerface", "threshold": 0.35, "long_side": 512, "thorough": True},
        content_type="application/json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["detector"] == "centerface"
    assert body["settings"]["threshold"] == 0.35
    assert body["settings"]["long_side"] == 512
    assert body["settings"]["thorough"] is True
    assert len(body["weights_sha256"]) == 64
    assert body["progress"]["total"] == 2
    assert body["progress"]["processed"] == 0
    assert DetectionRun.objects.get(pk=body["id"]).chunks.count() == 1


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"threshold": 3}, "The request has errors: threshold: Ensure this value is less than or equal to 1.0."),
        ({"detector": "magic"}, 'The request has errors: detector: "magic" is not a valid choice.'),
        ({"long_side": 8}, "The request has errors: long_side: Ensure this value is greater than or equal to 32."),
    ],
)
def test_start_refuses_bad_settings(admin_client, payload, message):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)

    response = admin_client.post(
        reverse("api-dataset-detection-runs", args=[dataset.pk]), payload, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == message
    assert not DetectionRun.objects.exists()


def test_start_on_an_empty_dataset_says_why(admin_client):
    response = admin_client.post(reverse("api-dataset-detection-runs", args=[DatasetFactory().pk]), {})

    assert response.status_code == 400
    assert response.json()["code"] == "empty_dataset"
    assert "has no images" in response.json()["detail"]


def test_progress_counts_rate_and_time_left(admin_client):
    run = _run_with_results(DatasetFactory(), done=3, failed=1, status=DetectionRun.Status.RUNNING)

    body = admin_client.get(reverse("api-detection-run", args=[run.pk])).json()

    progress = body["progress"]
    assert (progress["total"], progress["done"], progress["failed"], progress["processed"]) == (5, 3, 1, 4)
    assert progress["faces"] == 6
    assert progress["percent"] == 80.0
    assert progress["is_finished"] is False
    assert 0.5 < progress["images_per_second"] < 1.5  # 4 images in ~4 s
    assert 0.5 < progress["seconds_left"] < 2.5  # 1 image left at ~1 image/s
    assert body["failures"] == [
        {
            "image": body["failures"][0]["image"],
            "relative_path": body["failures"][0]["relative_path"],
            "error": "cannot read the image: boom",
        }
    ]


def test_list_runs_of_a_dataset(admin_client):
    dataset = DatasetFactory()
    first = _run_with_results(dataset, done=1, failed=0)
    dataset.current_detection_run = first
    dataset.save()
    second = _run_with_results(dataset, done=0, failed=1)

    body = admin_client.get(reverse("api-dataset-detection-runs", args=[dataset.pk])).json()

    assert [(r["id"], r["progress"]["is_current"]) for r in body["results"]] == [(second.pk, False), (first.pk, True)]
    assert body["next"] is None


def test_retry_and_make_current(admin_client):
    dataset = DatasetFactory()
    run = _run_with_results(dataset, done=1, failed=2)
    DetectionChunk.objects.filter(run=run).update(status="done")

    retried = admin_client.post(reverse("api-detection-run-retry", args=[run.pk]))
    assert retried.status_code == 202
    assert retried.json()["queued"] == 2
    assert retried.json()["status"] == "running"

    # Still running: it cannot become current yet.
    refused = admin_client.post(reverse("api-detection-run-make-current", args=[run.pk]))
    assert refused.status_code == 409
    assert "only a finished run can be current" in refused.json()["detail"]

    DetectionRun.objects.filter(pk=run.pk).update(status="done")
    made = admin_client.post(reverse("api-detection-run-make-current", args=[run.pk]))
    assert made.status_code == 200
    assert made.json()["progress"]["is_current"] is True
    dataset.refresh_from_db()
    assert dataset.current_detection_run_id == run.pk


def test_retry_without_failures_is_a_conflict(admin_client):
    run = _run_with_results(DatasetFactory(), done=1, failed=0, status=DetectionRun.Status.DONE)

    response = admin_client.post(reverse("api-detection-run-retry", args=[run.pk]))

    assert response.status_code == 409
    assert response.json()["code"] == "nothing_to_retry"


def _endpoints(run):
    return [
        ("get", reverse("api-dataset-detection-runs", args=[run.dataset_id])),
        ("post", reverse("api-dataset-detection-runs", args=[run.dataset_id])),
        ("get", reverse("api-detection-run", args=[run.pk])),
        ("post", reverse("api-detection-run-retry", args=[run.pk])),
        ("post", reverse("api-detection-run-make-current", args=[run.pk])),
    ]


def test_reviewers_and_anonymous_users_are_refused(reviewer_client, client):
    run = _run_with_results(DatasetFactory(), done=1, failed=1, status=DetectionRun.Status.FAILED)

    for method, url in _endpoints(run):
        response = getattr(reviewer_client, method)(url)
        assert response.status_code == 403, url
        assert response.json()["detail"] == "This endpoint is for admins."
    reviewer_client.logout()
    for method, url in _endpoints(run):
        assert getattr(reviewer_client, method)(url).status_code == 401, url
    assert DetectionRun.objects.count() == 1
    assert run.results.filter(status="failed").count() == 1


def test_unknown_ids_are_404(admin_client):
    for method, url in [
        ("get", reverse("api-dataset-detection-runs", args=[999999])),
        ("post", reverse("api-dataset-detection-runs", args=[999999])),
        ("get", reverse("api-detection-run", args=[999999])),
        ("post", reverse("api-detection-run-retry", args=[999999])),
        ("post", reverse("api-detection-run-make-current", args=[999999])),
    ]:
        assert getattr(admin_client, method)(url).status_code == 404, url
