"""The safety net's API: the flagged regions, the gate, send-back and dismissal; admins only."""

import pytest
from django.urls import reverse

from reviewer.models import Leak
from tests.reviewer.views.test_safety import exported_family

pytestmark = pytest.mark.django_db


@pytest.fixture
def export(admin_user, reviewer_user):
    return exported_family(admin_user, reviewer_user)  # the same exported world as the pages' tests


def test_the_flagged_list_has_every_uncovered_find(admin_client, export):
    body = admin_client.get(reverse("api-dataset-flagged", args=[export.dataset_id])).json()
    assert [r["path"] for r in body["results"]] == ["a.png", "b.png"]
    assert body["results"][0]["regions"][0]["kind"] == "missed"
    assert body["results"][0]["regions"][0]["box"] == [90, 5, 110, 25]
    assert body["results"][0]["reasons"] == [{"code": "leak_missed", "count": 1}]
    assert (body["next"], body["previous"]) == (None, None)  # the API's one list shape


def test_the_flagged_list_pages_by_a_next_link(admin_client, export, monkeypatch):
    monkeypatch.setattr("api.views.safety.PAGE_SIZE", 1)
    first = admin_client.get(reverse("api-dataset-flagged", args=[export.dataset_id])).json()
    assert [r["path"] for r in first["results"]] == ["a.png"]
    assert first["next"].endswith(f"?after={first['results'][0]['image']}")
    second = admin_client.get(first["next"]).json()
    assert ([r["path"] for r in second["results"]], second["next"]) == (["b.png"], None)
    bad = admin_client.get(reverse("api-dataset-flagged", args=[export.dataset_id]), {"after": "x"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")


def test_the_gate_endpoint_and_a_refused_export_answer_with_the_estimate(admin_client, export):
    gate = admin_client.get(reverse("api-dataset-release-gate", args=[export.dataset_id])).json()
    assert gate["passes"] is False
    assert gate["evidence"]["known_leaks"] == 2
    assert [x["path"] for x in gate["look_at"]] == ["a.png", "b.png"]
    refused = admin_client.post(reverse("api-dataset-exports", args=[export.dataset_id]), {},
                                content_type="application/json")  # fmt: skip
    assert refused.status_code == 409
    assert refused.json()["code"] == "gate_refused"
    assert refused.json()["gate"]["upper"] == 1.0  # no gold or audit: nothing bounds the misses
    assert refused.json()["gate"]["estimate"] == pytest.approx(0.5)  # two finds beside two final boxes
    ok = admin_client.post(reverse("api-dataset-exports", args=[export.dataset_id]), {"override_gate": "ok"},
                           content_type="application/json")  # fmt: skip
    assert ok.status_code == 201


def test_send_back_one_or_all_and_dismiss(admin_client, export):
    a = export.leaks.get(image__relative_path="a.png")
    url = reverse("api-export-send-back", args=[export.pk])
    assert admin_client.post(url, {}, content_type="application/json").status_code == 400
    one = admin_client.post(url, {"leaks": [a.pk]}, content_type="application/json")
    assert one.json() == {"sent_back": [a.image_id], "skipped": []}
    b = export.leaks.get(image__relative_path="b.png")
    dismissed = admin_client.post(reverse("api-leak-dismiss", args=[b.pk]))
    assert dismissed.json()["resolution"] == "not_a_face"
    rest = admin_client.post(url, {"all": True}, content_type="application/json")
    assert rest.json() == {"sent_back": [], "skipped": [a.image_id]}  # a is back in review, b was dismissed
    assert Leak.objects.get(pk=b.pk).resolution == "not_a_face"


def test_reviewers_get_403(client, reviewer_user, export):
    client.force_login(reviewer_user)
    assert client.get(reverse("api-dataset-flagged", args=[export.dataset_id])).status_code == 403
    assert client.post(reverse("api-export-send-back", args=[export.pk]), {"all": True},
                       content_type="application/json").status_code == 403  # fmt: skip


def test_an_admin_starts_a_blind_audit_over_the_api(admin_client, export, reviewer_user):
    from reviewer.models import Batch, Dataset
    from tests.factories import UserFactory

    url = reverse("api-dataset-audit-start", args=[export.dataset_id])
    unknown = admin_client.post(url, {"auditor": "nobody"}, content_type="application/json")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid")
    for bad in ({"auditor": reviewer_user.username, "rate": 0}, {"auditor": reviewer_user.username, "rate": 1.5}):
        assert admin_client.post(url, bad, content_type="application/json").status_code == 400
    # The reviewer reviewed both images: nothing left to audit blind, and the rate asked for is not kept.
    taken = admin_client.post(url, {"auditor": reviewer_user.username, "rate": 0.5}, content_type="application/json")
    assert taken.status_code == 409
    assert Dataset.objects.get(pk=export.dataset_id).audit_rate == 0.02

    UserFactory(username="ines")
    made = admin_client.post(url, {"auditor": "ines", "rate": 1, "seed": 3}, content_type="application/json")
    assert made.status_code == 201
    body = made.json()
    assert (body["name"], body["images"], body["auditor"]) == ("audit 1", 2, "ines")
    assert Batch.objects.get(pk=body["id"]).is_audit
    assert Dataset.objects.get(pk=export.dataset_id).audit_rate == 1.0
