"""The pages' action posts (reviewer/views/actions.py): a refusal is a message on the page it came from, work
saved as queued while the task queue is down lands on its own page with a warning, and a script gets JSON."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviewer import jobs
from reviewer.models import CandidateDismissal, DetectionRun, Export, Image
from tests.factories import ANY_LEAK_RATE, ApprovalFactory, DatasetFactory, ImageFactory
from tests.reviewer.selectors.test_triage import flagged_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(monkeypatch):
    def down(name, *args):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(jobs, "send", down)


def _messages(response) -> list[tuple[str, str]]:
    return [(m.tags, str(m)) for m in response.context["messages"]]


@pytest.mark.django_db(transaction=True)
def test_starts_with_the_broker_down_land_on_the_queued_work_with_a_warning(admin_client, broker_down):
    dataset = DatasetFactory(release_bound=ANY_LEAK_RATE)
    ImageFactory(dataset=dataset)
    ApprovalFactory(image=ImageFactory(dataset=dataset, status=Image.Status.APPROVED))

    detection = admin_client.post(reverse("detection-start", args=[dataset.pk]), follow=True)
    run = DetectionRun.objects.get()
    assert detection.redirect_chain[-1][0] == reverse("detection-run", args=[run.pk])
    [(level, text)] = _messages(detection)
    assert level == "warning"
    assert text.endswith("starting it again will not make a second run.")

    export = admin_client.post(reverse("export-start", args=[dataset.pk]), follow=True)
    queued = Export.objects.get()
    assert export.redirect_chain[-1][0] == reverse("export-detail", args=[queued.pk])
    assert _messages(export) == [("warning", f"Export {queued.pk} is saved as queued, but the task queue cannot be "
                                  "reached right now. It starts by itself when the queue is back; exporting again "
                                  "will not make a second export.")]  # fmt: skip


def test_a_refusal_goes_back_with_the_services_sentence_and_a_script_gets_it_as_json(admin_client):
    dataset, candidates = flagged_dataset(n_images=1, per_image=1)
    url = reverse("dataset-triage-resolve", args=[dataset.pk])
    post = {"kind": "candidate", "flag": candidates[0].pk, "resolution": "not_face"}

    answer = admin_client.post(url, post, headers={"accept": "application/json"})
    assert (answer.status_code, answer.json()) == (200, {"sent_back": []})
    assert CandidateDismissal.objects.filter(candidate=candidates[0]).exists()
    again = admin_client.post(url, post, headers={"accept": "application/json"})
    assert again.status_code == 409
    assert "already marked as not a face" in again.json()["detail"]
    bad = admin_client.post(url, {**post, "resolution": "maybe"}, headers={"accept": "application/json"})
    assert bad.status_code == 400
    assert set(bad.json()) == {"detail"}

    page = admin_client.post(url, post, follow=True)
    assert page.redirect_chain[-1][0] == reverse("dataset-triage", args=[dataset.pk])
    [(level, text)] = _messages(page)
    assert level == "error"
    assert "already marked as not a face" in text
