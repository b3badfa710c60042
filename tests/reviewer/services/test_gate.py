"""The release gate: the estimate against hand-computed cases, refusals that write nothing, overrides on record."""

from __future__ import annotations

import zipfile

import pytest
from django.conf import settings

from reviewer.errors import Conflict, ServiceError
from reviewer.imaging.archive import read_manifest
from reviewer.imaging.leakrate import clopper_pearson_upper
from reviewer.models import AuditEvent, Batch, Export, Image, ReviewCandidate
from reviewer.selectors.blind_audit import audit_results
from reviewer.services.approval import image_send_back
from reviewer.services.blind_audit import audit_batch_create
from reviewer.services.export import export_render, export_start
from reviewer.services.gate import GateRefused, gate_check
from reviewer.services.safety import second_look_update
from tests.factories import (
    ApprovalFactory,
    ApprovedBoxFactory,
    CandidateFactory,
    DatasetFactory,
    DetectionRunFactory,
    GoldBoxFactory,
    ImageFactory,
    ReviewBoxFactory,
    ReviewFactory,
    UserFactory,
    make_review,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(admin_user):
    dataset = DatasetFactory(created_by=admin_user, release_bound=0.02)
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    return dataset


def approved(dataset, path, boxes):
    image = ImageFactory(dataset=dataset, relative_path=path, status=Image.Status.APPROVED)
    approval = ApprovalFactory(image=image)
    for b in boxes:
        ApprovedBoxFactory(approval=approval, x0=b[0], y0=b[1], x1=b[2], y1=b[3])
    return image


def gold(dataset, path, faces, kept, reviewer):
    image = ImageFactory(dataset=dataset, relative_path=path, status=Image.Status.APPROVED, is_gold=True)
    for f in faces:
        GoldBoxFactory(image=image, x0=f[0], y0=f[1], x1=f[2], y1=f[3])
    make_review(image, reviewer, *kept)
    return image


def test_gold_misses_give_the_hand_computed_bound_and_refuse(dataset, admin_user, reviewer_user):
    approved(dataset, "a.jpg", [(1, 1, 9, 9)] * 7)
    # Three known faces, the reviewer boxed two (one of them a little off: IoU 0.45 still hides it).
    gold(dataset, "g.jpg", [(0, 0, 10, 10), (20, 0, 30, 10), (40, 0, 50, 10)], [(0, 0, 10, 10), (21, 1, 31, 13)],
         reviewer_user)  # fmt: skip
    report = gate_check(dataset=dataset)
    e = report.estimate
    assert (e.evidence.gold_faces, e.evidence.gold_misses, e.evidence.export_faces) == (3, 1, 7)
    assert e.estimate == pytest.approx(1 / 3)
    # One of three missed: the 95 % bound is where P[X <= 1 | 3, p] = 0.05, i.e. (1-p)^3 + 3p(1-p)^2 = 0.05.
    p = e.upper
    assert (1 - p) ** 3 + 3 * p * (1 - p) ** 2 == pytest.approx(0.05, abs=1e-6)
    assert p == pytest.approx(0.8647, abs=1e-4)
    assert not report.passes
    assert "1 of 3 known faces on gold and audited images are not covered" in report.reason
    assert report.look_at[0]["path"] == "g.jpg"
    with pytest.raises(GateRefused) as refused:
        export_start(dataset=dataset, options={}, user=admin_user)
    assert refused.value.http_status == 409
    assert Export.objects.count() == 0


GOLD_FACES = [(0, 0, 10, 10), (20, 0, 30, 10), (40, 0, 50, 10)]


def test_a_gold_image_fixed_after_its_misses_were_seen_still_counts_them(dataset, admin_user, reviewer_user):
    """Its known faces alone prompted the second look: the fix mends that image, not the other images the same
    reviews missed faces on, so the gate keeps counting the misses of the reviews it retired."""
    approved(dataset, "a.jpg", [(1, 1, 9, 9)] * 7)
    image = gold(dataset, "g.jpg", GOLD_FACES, GOLD_FACES[:1], reviewer_user)  # two of three known faces missed
    assert gate_check(dataset=dataset).estimate.evidence.gold_misses == 2
    retired = list(image.reviews.values_list("pk", flat=True))
    image_send_back(image=image, actor=admin_user, reason="gold: two known faces without a box")
    image.refresh_from_db()
    assert image.gold_evidence_reviews == retired
    report = gate_check(dataset=dataset)  # sent back, not reviewed again yet: the retired reviews still count
    assert (report.estimate.evidence.gold_faces, report.estimate.evidence.gold_misses) == (3, 2)
    make_review(image, reviewer_user, *GOLD_FACES)  # every known face boxed this time
    report = gate_check(dataset=dataset)
    assert (report.estimate.evidence.gold_faces, report.estimate.evidence.gold_misses) == (3, 2)
    assert report.estimate.estimate == pytest.approx(2 / 3)
    assert [item["path"] for item in report.look_at if "gold" in item["why"]] == []  # the image itself is mended
    Image.objects.filter(pk=image.pk).update(status=Image.Status.APPROVED)  # approved again
    image_send_back(image=image, actor=admin_user, reason="again")  # a later send-back keeps the first evidence
    image.refresh_from_db()
    assert image.gold_evidence_reviews == retired


def test_a_gold_image_sent_back_for_a_flag_counts_its_new_reviews_as_any_flagged_image_would(
    dataset, admin_user, reviewer_user
):
    """A flag (here an unresolved candidate) sends back gold and other images alike: the net's second look is part
    of how every image is reviewed, so what it mends on a gold image counts as mended."""
    approved(dataset, "a.jpg", [(1, 1, 9, 9)] * 7)
    image = gold(dataset, "g.jpg", GOLD_FACES, GOLD_FACES[:1], reviewer_user)
    CandidateFactory(run=dataset.current_detection_run, image=image, x0=20, y0=0, x1=30, y1=10)
    second_look_update(image_ids=[image.pk])
    image.refresh_from_db()
    assert image.needs_second_look
    image_send_back(image=image, actor=admin_user, reason="a candidate nobody resolved")
    image.refresh_from_db()
    assert image.gold_evidence_reviews is None
    make_review(image, reviewer_user, *GOLD_FACES)
    report = gate_check(dataset=dataset)
    assert (report.estimate.evidence.gold_faces, report.estimate.evidence.gold_misses) == (3, 0)


@pytest.mark.parametrize("gold_images", [1, 30])
def test_the_gate_reads_gold_evidence_in_the_same_queries_however_many_gold_images_kept_theirs(
    dataset, admin_user, reviewer_user, gold_images
):
    """Frozen or current, gold evidence costs the same queries for 1 gold image and for 30 (half of them sent back
    for their known faces alone, so their evidence is their retired reviews)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    approved(dataset, "a.jpg", [(1, 1, 9, 9)])
    for n in range(gold_images):
        image = gold(dataset, f"g{n:02}.jpg", GOLD_FACES, GOLD_FACES[:1], reviewer_user)
        if n % 2:
            image_send_back(image=image, actor=admin_user, reason="gold")
            make_review(image, reviewer_user, *GOLD_FACES)
    with CaptureQueriesContext(connection) as queries:
        report = gate_check(dataset=dataset)
    assert report.estimate.evidence.gold_misses == 2 * gold_images  # every image's first reviews missed two
    assert len(queries) == 10  # the whole gate; the same with 1 gold image and with 30


def test_zero_misses_on_enough_gold_faces_passes_with_the_closed_form_bound(dataset, reviewer_user):
    faces = [(10 * i, 0, 10 * i + 8, 8) for i in range(6)]
    approved(dataset, "a.jpg", [(1, 1, 9, 9)])
    for n in range(50):  # 300 known faces, none missed
        gold(dataset, f"g{n:02}.jpg", faces, faces, reviewer_user)
    report = gate_check(dataset=dataset)
    assert report.estimate.estimate == 0.0
    assert report.estimate.upper == pytest.approx(1 - 0.05 ** (1 / 300))
    assert report.passes
    assert "within the release bound 2.00%" in report.reason


def test_an_estimate_under_the_bound_with_an_upper_bound_over_it_refuses_and_says_how_many_faces_would_do(
    dataset, reviewer_user
):
    faces = [(12 * i, 0, 12 * i + 10, 10) for i in range(10)]
    approved(dataset, "a.jpg", [(1, 1, 9, 9)] * 100)
    for n in range(9):  # 90 known faces, all boxed
        gold(dataset, f"g{n}.jpg", faces, faces, reviewer_user)
    gold(dataset, "g9.jpg", faces, faces[1:], reviewer_user)  # ...and 9 of the last 10: one miss in 100
    report = gate_check(dataset=dataset)
    e = report.estimate
    assert (e.evidence.sampled_faces, e.evidence.sampled_misses) == (100, 1)
    # Point estimate 1 / 100 = 1 %, under the 2 % bound; the exact bound, where P[X <= 1 | 100, p] = 0.05,
    # is 4.66 %: over it, so the gate refuses. A gate comparing the point estimate would pass this.
    assert e.estimate == pytest.approx(0.01)
    p = e.upper
    assert (1 - p) ** 100 + 100 * p * (1 - p) ** 99 == pytest.approx(0.05, abs=1e-6)
    assert p == pytest.approx(0.0466, abs=1e-4)
    assert e.estimate < report.bound < e.upper
    assert not report.passes
    # With that one miss, 236 sampled faces bound the rate at 2 % (clopper_pearson_upper(1, 236) = 1.995 %).
    assert report.more_sampled_faces == 136
    assert "the bound needs 236 sampled faces at this many misses: audit about 136 more faces" in report.reason
    assert report.as_dict()["more_sampled_faces"] == 136


def test_an_unresolved_candidate_holds_the_release_until_a_person_resolves_it(dataset, admin_user, reviewer_user):
    image = approved(dataset, "a.jpg", [(2, 2, 20, 22)])
    review = make_review(image, reviewer_user, (2, 2, 20, 22))
    image.approvals.get().reviews.add(review)
    candidate = CandidateFactory(image=image, run=dataset.current_detection_run, x0=30, y0=10, x1=50, y1=30)
    # A crowd on a gold image: 150 known faces, every one boxed, bound the misses nobody saw at 1.98 % (< 2 %).
    crowd = [(x * 12, y * 12, x * 12 + 10, y * 12 + 10) for y in range(10) for x in range(15)]
    gold(dataset, "crowd.jpg", crowd, crowd, reviewer_user)
    second_look_update(image_ids=[image.pk])
    report = gate_check(dataset=dataset)
    e = report.estimate
    assert (e.evidence.known_leaks, e.evidence.gold_faces, e.evidence.gold_misses) == (1, 150, 0)
    assert e.sampled_upper == pytest.approx(1 - 0.05 ** (1 / 150))
    # The unresolved find counts as a face left unblurred beside the export's final boxes.
    assert e.upper == pytest.approx(1 - 0.05 ** (1 / 150) + 1 / (e.evidence.export_faces + 1))
    assert not report.passes
    assert {"image": image.pk, "why": "second look: 1 unresolved candidate(s)", "path": "a.jpg"} in report.look_at
    ReviewCandidate.objects.create(review=review, candidate=candidate, fate="dismissed")
    second_look_update(image_ids=[image.pk])
    assert gate_check(dataset=dataset).passes
    export = export_start(dataset=dataset, options={"leak_check": False}, user=admin_user)
    assert export.gate["passes"] is True
    assert export.gate["override"] is None


def test_an_override_is_recorded_in_the_export_the_manifest_and_the_audit_log(dataset, admin_user, reviewer_user):
    approved(dataset, "a.jpg", [(2, 2, 20, 22)])
    gold(dataset, "g.jpg", [(0, 0, 10, 10)], [], reviewer_user)
    export = export_start(dataset=dataset, options={"leak_check": False}, user=admin_user,
                          gate_override="  legal signed off the residual risk  ")  # fmt: skip
    assert export.gate["passes"] is False
    assert export.gate["override"] == {"reason": "legal signed off the residual risk", "by": admin_user.username}
    event = AuditEvent.objects.get(verb="export.gate_overridden")
    assert event.data["reason"] == "legal signed off the residual risk"
    assert event.data["upper"] == 1.0
    export = export_render(export_id=export.pk)
    assert export.status == Export.Status.DONE
    with zipfile.ZipFile(f"{settings.VEIL_EXPORT_DIR}/{export.file_name}") as zf:
        manifest = read_manifest(zf.filename)
    assert manifest["release_gate"]["override"]["reason"] == "legal signed off the residual risk"
    assert manifest["release_gate"]["evidence"]["gold_misses"] == 1
    assert "clopper-pearson" in manifest["release_gate"]["method"]


def test_the_blind_audit_counts_faces_the_approval_missed(dataset, admin_user, reviewer_user):
    first = UserFactory()
    images = []
    for n in range(4):
        image = approved(dataset, f"a{n}.jpg", [(0, 0, 10, 10)])
        image.approvals.get().reviews.add(make_review(image, first, (0, 0, 10, 10)))
        images.append(image)
    dataset.audit_rate = 0.5
    dataset.save()
    with pytest.raises(ServiceError, match="auditor must be an active reviewer"):
        audit_batch_create(dataset=dataset, auditor=admin_user, actor=admin_user)
    batch = audit_batch_create(dataset=dataset, auditor=reviewer_user, actor=admin_user, seed=1)
    assert batch.is_audit
    audited = list(batch.items.order_by("position").values_list("image_id", flat=True))
    assert len(audited) == 2  # ceil(0.5 x 4)
    assert batch.assignments.get().reviewer == reviewer_user
    # The auditor finds a second face on the first audited image.
    review = ReviewFactory(image_id=audited[0], reviewer=reviewer_user)
    for b in ((0, 0, 10, 10), (30, 0, 40, 10)):
        ReviewBoxFactory(review=review, x0=b[0], y0=b[1], x1=b[2], y1=b[3])
    ReviewBoxFactory(review=ReviewFactory(image_id=audited[1], reviewer=reviewer_user), x0=0, y0=0, x1=10, y1=10)
    results = audit_results(dataset=dataset)
    assert results[audited[0]][0] == 2
    assert [b.as_list() for b in results[audited[0]][1]] == [[30, 0, 40, 10]]
    assert results[audited[1]] == (1, [])
    second_look_update(image_ids=audited)
    assert Image.objects.get(pk=audited[0]).second_look_reasons == [{"code": "audit_miss", "count": 1}]
    e = gate_check(dataset=dataset).estimate
    assert (e.evidence.audit_faces, e.evidence.audit_misses) == (3, 1)
    assert e.sampled_upper == pytest.approx(clopper_pearson_upper(1, 3))
    # The rest of the approved images are audited next; then none is left.
    audit_batch_create(dataset=dataset, auditor=reviewer_user, actor=admin_user)
    with pytest.raises(Conflict, match="no approved image left"):
        audit_batch_create(dataset=dataset, auditor=reviewer_user, actor=admin_user)
    assert Batch.objects.filter(is_audit=True).count() == 2


def test_the_auditor_may_review_approved_images_of_their_audit_batch_only(dataset, admin_user, reviewer_user):
    from reviewer import policies

    audited = approved(dataset, "a.jpg", [(0, 0, 10, 10)])
    other = approved(dataset, "b.jpg", [(0, 0, 10, 10)])
    dataset.audit_rate = 0.5
    dataset.save()
    batch = audit_batch_create(dataset=dataset, auditor=reviewer_user, actor=admin_user, seed=0)
    chosen = Image.objects.get(pk=batch.items.get().image_id)
    not_chosen = other if chosen.pk == audited.pk else audited
    assert policies.can_review_image(reviewer_user, chosen)
    assert not policies.can_review_image(reviewer_user, not_chosen)
    assert not policies.can_review_image(UserFactory(), chosen)
