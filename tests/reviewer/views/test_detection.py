"""Detection pages: the dataset page's panel, the run page, and the start / retry / make-current buttons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewer.models import DetectionChunk, DetectionResult, DetectionRun
from tests.factories import DatasetFactory, DetectionRunFactory, ImageFactory

pytestmark = pytest.mark.django_db


def _finished_run(dataset, *, failed: int = 1, done: int = 1, **kwargs) -> DetectionRun:
    images = ImageFactory.create_batch(done + failed, dataset=dataset)
    now = timezone.now()
    run = DetectionRunFactory(
        dataset=dataset,
        status=DetectionRun.Status.FAILED if failed else DetectionRun.Status.DONE,
        images_total=len(images),
        started_at=now - timedelta(seconds=10),
        finished_at=now,
        **kwargs,
    )
    for i, image in enumerate(images):
        bad = i >= done
        DetectionResult.objects.create(
            run=run,
            image=image,
            status=DetectionResult.Status.FAILED if bad else DetectionResult.Status.DONE,
            error="image data is truncated or corrupt: broken data stream" if bad else "",
        )
    DetectionChunk.objects.create(run=run, index=0, image_ids=[i.pk for i in images], status="done")
    return run


def test_the_dataset_page_offers_to_start_detection_and_lists_runs(admin_client):
    dataset = DatasetFactory(name="parade")
    run = _finished_run(dataset)
    dataset.current_detection_run = run
    dataset.save()

    page = admin_client.get(reverse("dataset-detail", args=[dataset.pk])).content.decode()

    assert f'action="{reverse("detection-start", args=[dataset.pk])}"' in page
    assert "Start detection" in page
    assert "and takes about 4&times; as long</label>" in page  # the admin sees thorough mode's price
    assert f'href="{reverse("detection-run", args=[run.pk])}"' in page
    assert "current</span>" in page


def test_starting_a_run_from_the_panel_opens_its_page(admin_client):
    dataset = DatasetFactory()
    ImageFactory.create_batch(3, dataset=dataset)

    response = admin_client.post(
        reverse("detection-start", args=[dataset.pk]),
        {"detector": "centerface", "threshold": "0.3", "long_side": "640", "thorough": "on"},
    )

    run = DetectionRun.objects.get(dataset=dataset)
    assert response.status_code == 302
    assert response["Location"] == reverse("detection-run", args=[run.pk])
    assert run.settings["threshold"] == 0.3
    assert run.settings["long_side"] == 640
    assert run.settings["thorough"] is True
    assert run.chunks.count() == 1
    page = admin_client.get(response["Location"]).content.decode()
    assert "Detection run" in page
    assert reverse("api-detection-run", args=[run.pk]) in page  # the live progress bar polls it
    assert '0</b> of <span id="run-total">3</span>' in page


def test_empty_fields_take_the_defaults(admin_client, settings):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)

    admin_client.post(
        reverse("detection-start", args=[dataset.pk]), {"detector": "centerface", "threshold": "", "long_side": ""}
    )

    run = DetectionRun.objects.get(dataset=dataset)
    assert run.settings["threshold"] == settings.VEIL_DETECTION_THRESHOLD
    assert run.settings["long_side"] == settings.VEIL_DETECTION_LONG_SIDE
    assert run.settings["thorough"] is False


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"detector": "centerface", "threshold": "7"}, "threshold must lie between 0 and 1"),
        ({"detector": "centerface", "long_side": "huge"}, "long_side must be a whole number"),
        ({"detector": "nope"}, "Unknown detector"),
    ],
)
def test_bad_settings_go_back_to_the_dataset_page_with_the_reason(admin_client, form, message):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)

    response = admin_client.post(reverse("detection-start", args=[dataset.pk]), form, follow=True)

    assert response.redirect_chain[-1][0] == reverse("dataset-detail", args=[dataset.pk])
    assert message in response.content.decode()
    assert not DetectionRun.objects.exists()


def test_an_empty_dataset_cannot_be_detected(admin_client):
    dataset = DatasetFactory()

    response = admin_client.post(reverse("detection-start", args=[dataset.pk]), {"detector": "centerface"}, follow=True)

    assert "has no images" in response.content.decode()


def test_the_run_page_shows_failures_with_their_reason_and_the_buttons(admin_client):
    dataset = DatasetFactory()
    current = _finished_run(dataset, failed=0)
    dataset.current_detection_run = current
    dataset.save()
    run = _finished_run(dataset, failed=2)

    page = admin_client.get(reverse("detection-run", args=[run.pk])).content.decode()

    assert "Done with failures" in page
    assert page.count("image data is truncated or corrupt") == 2
    assert "Retry the 2 failed images" in page
    assert f'action="{reverse("detection-run-make-current", args=[run.pk])}"' in page
    assert run.weights_sha256 in page


def test_the_run_page_pages_its_failures_by_image_id(admin_client, monkeypatch):
    from reviewer.views import detection

    monkeypatch.setattr(detection, "FAILURES_PER_PAGE", 2)
    run = _finished_run(DatasetFactory(), failed=5)
    failed = list(run.results.filter(status=DetectionResult.Status.FAILED).order_by("image_id"))
    url = reverse("detection-run", args=[run.pk])

    seen, after, pages = [], None, 0
    while True:
        response = admin_client.get(url, {"after": after} if after else {})
        failures = response.context["failures"]
        assert len(failures) <= 2
        seen += [f.image_id for f in failures]
        page = response.content.decode()
        assert f"{len(failures)} of 5 failed images" in page
        pages += 1
        after = response.context["next_after"]
        if after is None:
            break
        assert f'href="?after={after}"' in page
    assert seen == [f.image_id for f in failed]  # every failure once, in import order
    assert pages == 3

    past = admin_client.get(url, {"after": failed[-1].image_id}).content.decode()
    assert "No failures after this one" in past
    assert "No image has failed" not in past
    assert admin_client.get(url, {"after": "x"}).context["failures"][0].image_id == failed[0].image_id


def test_the_current_run_without_failures_has_no_buttons(admin_client):
    dataset = DatasetFactory()
    run = _finished_run(dataset, failed=0)
    dataset.current_detection_run = run
    dataset.save()

    page = admin_client.get(reverse("detection-run", args=[run.pk])).content.decode()

    assert "Retry the" not in page
    assert "Make current" not in page
    assert "No image has failed" in page


def test_retry_queues_the_failed_images_again(admin_client):
    run = _finished_run(DatasetFactory(), failed=2)

    response = admin_client.post(reverse("detection-run-retry", args=[run.pk]), follow=True)

    assert "2 failed images queued again" in response.content.decode()
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.RUNNING
    assert run.chunks.filter(status="queued").count() == 1
    assert not run.results.filter(status="failed").exists()


def test_retry_without_failures_says_so(admin_client):
    run = _finished_run(DatasetFactory(), failed=0)

    response = admin_client.post(reverse("detection-run-retry", args=[run.pk]), follow=True)

    assert "has no failed images to retry" in response.content.decode()


def test_make_current_switches_the_datasets_run(admin_client):
    dataset = DatasetFactory()
    first = _finished_run(dataset, failed=0)
    dataset.current_detection_run = first
    dataset.save()
    second = _finished_run(dataset, failed=0)

    response = admin_client.post(reverse("detection-run-make-current", args=[second.pk]), follow=True)

    assert f"Run {second.pk} is now the current run" in response.content.decode()
    dataset.refresh_from_db()
    assert dataset.current_detection_run == second


def test_a_run_in_progress_cannot_be_made_current(admin_client):
    dataset = DatasetFactory()
    run = DetectionRunFactory(dataset=dataset, status=DetectionRun.Status.RUNNING)

    response = admin_client.post(reverse("detection-run-make-current", args=[run.pk]), follow=True)

    assert "only a finished run can be current" in response.content.decode()
    dataset.refresh_from_db()
    assert dataset.current_detection_run is None


def _urls(run, dataset):
    return [
        ("post", reverse("detection-start", args=[dataset.pk])),
        ("get", reverse("detection-run", args=[run.pk])),
        ("post", reverse("detection-run-retry", args=[run.pk])),
        ("post", reverse("detection-run-make-current", args=[run.pk])),
    ]


def test_reviewers_are_refused_every_detection_page(reviewer_client):
    dataset = DatasetFactory()
    run = _finished_run(dataset)

    for method, url in _urls(run, dataset):
        assert getattr(reviewer_client, method)(url).status_code == 403, url
    assert DetectionRun.objects.count() == 1
    run.refresh_from_db()
    assert run.status == DetectionRun.Status.FAILED


def test_anonymous_users_are_sent_to_log_in(client):
    dataset = DatasetFactory()
    run = _finished_run(dataset)

    for method, url in _urls(run, dataset):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login"))


def test_unknown_ids_are_404(admin_client):
    for method, url in [
        ("post", reverse("detection-start", args=[999999])),
        ("get", reverse("detection-run", args=[999999])),
        ("post", reverse("detection-run-retry", args=[999999])),
        ("post", reverse("detection-run-make-current", args=[999999])),
    ]:
        assert getattr(admin_client, method)(url).status_code == 404, url


def test_buttons_only_answer_post(admin_client):
    run = _finished_run(DatasetFactory())

    assert admin_client.get(reverse("detection-run-retry", args=[run.pk])).status_code == 405
    assert admin_client.get(reverse("detection-start", args=[run.dataset_id])).status_code == 405
