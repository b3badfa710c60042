"""The safety net's pages: leak-check finds link to their image drawn with its boxes, go back to review from
the export page singly or all at once, and the dataset page shows the release gate before Export is pressed."""

import pytest
from django.urls import reverse

from reviewer.imaging.detectors import Detection
from reviewer.imaging.geometry import Box
from reviewer.models import Export, Image, Leak
from reviewer.services.export import export_options_clean, export_render
from tests.factories import ApprovalFactory, ApprovedBoxFactory, DatasetFactory, ImageFactory, make_review
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


class FakeDetector:
    """Finds one 'face' far from any box on every image."""

    def detect(self, pixels):
        return [Detection(box=Box(90, 5, 110, 25), score=0.4)]

    def describe(self):
        return {"name": "fake"}


@pytest.fixture
def export(admin_user, reviewer_user):
    return exported_family(admin_user, reviewer_user)


def exported_family(admin_user, reviewer_user) -> Export:
    """Two approved images with one box each, exported with a leak check that finds one face outside the box."""
    ds = DatasetFactory(name="family")
    for name in ("a.png", "b.png"):
        image = ImageFactory(
            dataset=ds, relative_path=name, content=png_bytes(120, 90, seed=ord(name[0])), status=Image.Status.APPROVED
        )
        approval = ApprovalFactory(image=image)
        ApprovedBoxFactory(approval=approval, x0=10, y0=10, x1=40, y1=50)
        approval.reviews.add(make_review(image, reviewer_user, (10, 10, 40, 50)))
    export = Export.objects.create(dataset=ds, created_by=admin_user, options=export_options_clean({}))
    return export_render(export_id=export.pk, detector=FakeDetector())


def test_each_find_links_to_its_image_drawn_with_its_boxes(admin_client, export):
    leak = export.leaks.order_by("id").first()
    page = admin_client.get(reverse("export-detail", args=[export.pk])).content.decode()
    assert f'href="{reverse("image-viewer", args=[leak.image.dataset_id, leak.image_id])}"' in page
    link = reverse("image-second-look", args=[leak.image_id])
    view = admin_client.get(link, {"export": export.pk})
    assert view.status_code == 200
    html = view.content.decode()
    assert reverse("image-display", args=[leak.image_id]) in html
    assert 'viewBox="0 0 120 90"' in html
    assert '<rect class="final" x="10.00" y="10.00" width="30.00" height="40.00"' in html
    assert '<rect class="flag missed" x="90.00" y="5.00" width="20.00" height="20.00"' in html
    assert "possibly missed face(s) found by the leak check" in html


def test_one_find_goes_back_to_review_from_the_export_page(admin_client, export):
    leak = export.leaks.get(image__relative_path="a.png")
    response = admin_client.post(reverse("export-leaks-send-back", args=[export.pk]), {"leak": leak.pk}, follow=True)
    assert "1 image sent back to review." in response.content.decode()
    statuses = dict(Image.objects.values_list("relative_path", "status"))
    assert statuses == {"a.png": "new", "b.png": "approved"}


def test_all_finds_go_back_at_once_and_a_dismissed_one_stays(admin_client, export):
    b = export.leaks.get(image__relative_path="b.png")
    response = admin_client.post(reverse("export-leak-dismiss", args=[export.pk, b.pk]), follow=True)
    assert "Marked as not a face" in response.content.decode()
    assert Leak.objects.get(pk=b.pk).resolution == "not_a_face"
    response = admin_client.post(reverse("export-leaks-send-back", args=[export.pk]), {"all": "1"}, follow=True)
    assert "1 image sent back to review." in response.content.decode()
    assert dict(Image.objects.values_list("relative_path", "status")) == {"a.png": "new", "b.png": "approved"}


def test_reviewers_cannot_send_back_or_see_the_page(client, reviewer_user, export):
    client.force_login(reviewer_user)
    leak = export.leaks.first()
    assert client.post(reverse("export-leaks-send-back", args=[export.pk]), {"all": "1"}).status_code == 403
    assert client.get(reverse("image-second-look", args=[leak.image_id])).status_code == 403
    assert set(Image.objects.values_list("status", flat=True)) == {"approved"}


def test_the_dataset_page_shows_the_gate_and_the_export_form_takes_an_override(admin_client, export):
    page = admin_client.get(reverse("dataset-detail", args=[export.dataset_id])).content.decode()
    # No gold image or audit: nothing bounds the faces nobody found (100 %); the finds alone are half the faces.
    assert (
        '<p id="gate-reason">Release gate: up to 100.00% of faces may be left unblurred (95% bound; estimate 50.00%)'
        in page
    )
    assert "no gold image has been reviewed and no audit done" in page
    assert "Release gate: Release gate" not in page
    assert "2 find(s) on approved images nobody resolved" in page
    assert 'name="override_gate"' in page
    refused = admin_client.post(reverse("export-start", args=[export.dataset_id]), {}, follow=True)
    assert "above the dataset&#x27;s bound of 2.00%" in refused.content.decode()
    assert Export.objects.count() == 1
    response = admin_client.post(reverse("export-start", args=[export.dataset_id]), {"override_gate": "posters"})
    assert response.status_code == 302
    assert Export.objects.latest("id").gate["override"]["reason"] == "posters"


def test_the_dataset_page_starts_a_blind_audit_that_the_gate_then_counts(admin_client, export, reviewer_user):
    from reviewer.models import AuditEvent, Batch
    from reviewer.services.gate import gate_check
    from tests.factories import UserFactory

    dataset = export.dataset
    page = admin_client.get(reverse("dataset-detail", args=[dataset.pk])).content.decode()
    assert f'action="/datasets/{dataset.pk}/audit/start"' in page
    url = reverse("dataset-audit-start", args=[dataset.pk])

    # The first reviewer reviewed both images, so they cannot audit them blind: refused, and the rate is unchanged.
    refused = admin_client.post(url, {"auditor": reviewer_user.username, "rate": "0.5"}, follow=True)
    assert f"has no approved image left that {reviewer_user.username} could audit blind" in refused.content.decode()
    dataset.refresh_from_db()
    assert dataset.audit_rate == 0.02
    for bad, why in (({"auditor": "nobody"}, "There is no user with that username."),
                     ({"auditor": reviewer_user.username, "rate": "0"}, "The audit rate must be above 0."),
                     ({"auditor": reviewer_user.username, "rate": "two"}, "a share between 0 and 1")):  # fmt: skip
        assert why in admin_client.post(url, bad, follow=True).content.decode()
    assert not Batch.objects.filter(is_audit=True).exists()

    auditor = UserFactory(username="ines")
    done = admin_client.post(url, {"auditor": "ines", "rate": "0.5"}, follow=True).content.decode()
    assert "audit 1: 1 approved image for ines, who will see them blind" in done
    batch = Batch.objects.get(is_audit=True)
    assert list(batch.assignments.values_list("reviewer__username", flat=True)) == ["ines"]
    dataset.refresh_from_db()
    assert dataset.audit_rate == 0.5
    assert AuditEvent.objects.filter(verb="audit.started", object_id=str(batch.pk)).exists()

    # Ines boxes the one face she sees where the approval has it: 1 audited face, 0 missed, now evidence.
    image = batch.items.get().image
    make_review(image, auditor, (10, 10, 40, 50))
    evidence = gate_check(dataset=dataset).estimate.evidence
    assert (evidence.audit_faces, evidence.audit_misses) == (1, 0)


def test_a_large_dataset_shows_the_gate_as_of_its_snapshot_and_recomputes_it_on_request(
    admin_client, export, monkeypatch
):
    from reviewer.models import Dataset
    from reviewer.services import gate, reconcile

    monkeypatch.setattr(gate, "LIVE_GATE_MAX_APPROVED", 1)  # two approved images: "large"
    url = reverse("dataset-detail", args=[export.dataset_id])
    page = admin_client.get(url).content.decode()
    assert "not estimated yet for this dataset" in page
    assert "Recompute the release gate now" in page

    # The periodic reconcile step writes it; the page then shows it with its time, without computing it.
    assert reconcile.reconcile()["gate_snapshots"] == 1
    dataset = Dataset.objects.get(pk=export.dataset_id)
    assert dataset.gate_snapshot["upper"] == 1.0
    monkeypatch.setattr(gate, "gate_check", lambda **kw: (_ for _ in ()).throw(AssertionError("computed live")))
    page = admin_client.get(url).content.decode()
    assert "Release gate: up to 100.00% of faces may be left unblurred" in page
    assert f"(as of {dataset.gate_snapshot_at:%Y-%m-%d %H:%M}; the export computes it afresh)" in page
    assert reconcile.reconcile()["gate_snapshots"] == 0  # fresh: not written again within the interval
    monkeypatch.undo()

    done = admin_client.post(reverse("dataset-gate-recompute", args=[dataset.pk]), follow=True).content.decode()
    assert "Recomputed. Release gate: up to 100.00%" in done
    assert "Release gate: Release gate" not in done
    assert Dataset.objects.get(pk=dataset.pk).gate_snapshot_at > dataset.gate_snapshot_at
