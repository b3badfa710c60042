"""The counters and summary columns the pages read stay equal to what the rows say, through the whole flow.

Each step goes through the real services; after each, what the triggers and services/summaries.py kept is
compared with a recomputation from the rows (manage.py counters_reconcile), which must change nothing.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from reviewer.imaging.detectors.base import Detection
from reviewer.imaging.geometry import Box
from reviewer.models import Assignment, Batch, DatasetCounter, DetectionRun, Image, Review
from reviewer.selectors.workflow import dataset_counters, dataset_quality, dataset_workflow_counts
from reviewer.services.approval import image_send_back, images_approve
from reviewer.services.assignment import batches_create, dataset_assign_round_robin, image_mark_gold
from reviewer.services.detection import detection_chunk_process, detection_run_start
from reviewer.services.ingest import image_ingest, import_finish, import_start
from reviewer.services.lease import image_next_for_review
from reviewer.services.review import BoxFate, review_submit
from tests.factories import DatasetFactory, UserFactory
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db

SUMMARY = (
    "reviewed", "seconds_ms", "unsure", "gold_reviews", "gold_boxes", "gold_misses", "gold_extras", "agreement_n",
)  # fmt: skip


def kept(dataset) -> dict:
    """Everything kept for the pages, as plain values."""
    return {
        "counters": dataset_counters(dataset),
        "batches": sorted(Batch.objects.filter(dataset=dataset).values_list("name", "size", "images_done")),
        "assignments": sorted(
            (a["id"], *(a[f] for f in SUMMARY), round(a["agreement_sum"], 6))
            for a in Assignment.objects.filter(batch__dataset=dataset).values("id", "agreement_sum", *SUMMARY)
        ),
        "attention": sorted(Image.objects.filter(dataset=dataset).values_list("id", "review_attention")),
        "runs": sorted(
            DetectionRun.objects.filter(dataset=dataset).values_list(
                "id", "results_done", "results_failed", "faces_found"
            )
        ),
    }


def assert_kept_right(dataset) -> dict:
    before = kept(dataset)
    call_command("counters_reconcile", stdout=io.StringIO())
    assert kept(dataset) == before
    return before


class Faces:
    """A detector that finds one face in every photo wider than 50 px and fails nothing."""

    def detect(self, pixels):
        return [Detection(Box(4, 4, 30, 30), 0.9)] if pixels.shape[1] > 50 else []


def test_counters_stay_right_through_import_detection_batches_review_approval_and_send_back(admin_user):
    dataset = DatasetFactory(reviews_required=2)
    job = import_start(dataset=dataset, source="command", label="test")
    for i in range(6):
        image_ingest(import_job=job, name=f"p/{i}.jpg", data=jpeg_bytes(64 if i % 3 else 40, 48, seed=i))
    import_finish(import_job=job)
    assert dataset_counters(dataset) == {"status:new": 6, "unbatched": 6}
    assert_kept_right(dataset)

    run = detection_run_start(dataset=dataset, detector="centerface", settings=None, user=admin_user, enqueue=False)
    for chunk in run.chunks.all():
        detection_chunk_process(chunk_id=chunk.pk, detector=Faces())
    run.refresh_from_db()
    assert (run.results_done, run.results_failed, run.faces_found) == (6, 0, 4)
    assert dataset_counters(dataset)["status:detected"] == 6
    assert_kept_right(dataset)

    image_mark_gold(image=dataset.images.order_by("relative_path").first(), actor=admin_user, boxes=[])
    batches_create(dataset=dataset, actor=admin_user, size=3, gold_per_batch=1)
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    dataset_assign_round_robin(dataset=dataset, reviewers=[ann, bob], actor=admin_user, k=2)
    counts = dataset_workflow_counts(dataset)
    assert (counts["gold"], counts["unbatched"], counts["batches"], counts["assignments"]) == (1, 0, 2, 4)
    assert sorted(Batch.objects.filter(dataset=dataset).values_list("size", flat=True)) == [3, 4]
    assert_kept_right(dataset)

    for reviewer in (ann, bob):
        for batch in Batch.objects.filter(dataset=dataset):
            while found := image_next_for_review(reviewer=reviewer, batch_id=batch.pk):
                image, lease = found
                proposals = list(image.proposals.filter(run=run))
                fates = [BoxFate(fate="accepted", proposal_id=p.pk) for p in proposals]
                if reviewer == bob and proposals:  # bob adds a face ann did not see: a dispute
                    fates.append(BoxFate(fate="added", box=Box(34, 10, 60, 40)))
                review_submit(
                    reviewer=reviewer, image_id=image.pk, batch_id=batch.pk, lease_token=lease.token,
                    revision=Image.objects.get(pk=image.pk).revision, fates=fates, seconds_spent=2.5,
                    is_unsure=reviewer == ann and image.relative_path == "p/2.jpg",
                )  # fmt: skip
    state = assert_kept_right(dataset)
    assert state["counters"]["status:reviewed"] == 6  # the gold image too: both reviewed it
    quality = dataset_quality(dataset)
    assert quality.dataset.reviewed == Review.objects.filter(image__dataset=dataset, is_current=True).count() + 2
    assert quality.dataset.gold_reviews == 4  # the gold image is in both batches, reviewed by both people
    # p/2.jpg is unsure (0); images with a face bob added to are disputed (1); the one without proposals agreed.
    attention = dict(
        Image.objects.filter(dataset=dataset, is_gold=False).values_list("relative_path", "review_attention")
    )
    assert attention == {"p/1.jpg": 1, "p/2.jpg": 0, "p/3.jpg": 2, "p/4.jpg": 1, "p/5.jpg": 1}

    images_approve(dataset=dataset, actor=admin_user, image_ids=None)
    state = assert_kept_right(dataset)
    assert state["counters"]["status:approved"] == 6
    assert sum(done for _name, _size, done in state["batches"]) == 7

    sent = Image.objects.get(dataset=dataset, relative_path="p/4.jpg")
    image_send_back(image=sent, actor=admin_user, reason="look again")
    state = assert_kept_right(dataset)
    assert state["counters"]["status:detected"] == 1
    assert dict(state["attention"])[sent.pk] == 2

    dataset_id = dataset.pk
    Review.objects.filter(image__dataset_id=dataset_id).delete()  # reviews protect their reviewers, not images
    dataset.delete()
    assert not DatasetCounter.objects.filter(dataset_id=dataset_id).exists()


def test_reconcile_repairs_counters_that_drifted(admin_user):
    dataset = DatasetFactory()
    job = import_start(dataset=dataset, source="command", label="test")
    for i in range(3):
        image_ingest(import_job=job, name=f"{i}.jpg", data=jpeg_bytes(seed=i))
    DatasetCounter.objects.filter(dataset=dataset).update(value=999)
    out = io.StringIO()

    call_command("counters_reconcile", stdout=out)

    assert dataset_counters(dataset) == {"status:new": 3, "unbatched": 3}
    assert "Counters recomputed" in out.getvalue()
