"""The hot pages and endpoints cost a fixed number of queries, whatever the size of the dataset.

Each page is pinned with django_assert_num_queries on a small dataset, then asked again after the dataset grew
(more images, batches, reviews, reviewers): the count must not move. bench/scale.py measures the time.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviewer.models import Image
from tests.factories import (
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    DatasetFactory,
    DetectionResultFactory,
    DetectionRunFactory,
    ImageFactory,
    ProposalFactory,
    UserFactory,
    make_review,
)

pytestmark = pytest.mark.django_db

# Queries per call, session and user included. Raising one of these is a decision: say why in the commit.
PAGES = {
    "dataset list": 4,
    # +5 since the merge: the release gate's estimate (gold, audit and open finds) shown before Export; +2 for
    # its bucket terms (resolved candidates by bucket, one aggregate; the latest leak check's id).
    "dataset page": 17,
    # At most: one index range scan per queue group (second look x unsure/disputed/agreed) until the page is full.
    "approval queue": 12,
    "approved list": 5,
    # +2 since the merge: the crowd's qualification round section.
    "quality page": 10,
    # 6 before issue 10: the chunks by status ride on the progress query, without reading the done ones.
    "detection run page": 5,
    "batches page": 10,
}
# Session, user, my assignment (with the crowd invite's image limit), the next item locked with its image, dataset,
# lease and place in the batch, the lease INSERT, the proposals and candidates (one UNION ALL). 10 before issue 10.
NEXT_IMAGE = 6
# With one proposal. Session, user, one read that locks the image and brings its dataset, lease, proposals,
# candidates, my assignment, the request id and the safety net's facts; INSERT review, INSERT boxes (one for all),
# UPDATE image (status, revision, attention and the second-look mark at once), DELETE lease, INSERT audit event.
# 26 before issue 10 (the safety net's update after the save, repeated look-ups).
SUBMIT = 8


def grow(dataset, run, *, batches: int, reviewers: list) -> None:
    """Add `batches` batches of 4 images (2 reviewed and waiting, 1 approved), each given to a reviewer."""
    for b in range(batches):
        batch = BatchFactory(dataset=dataset)
        reviewer = reviewers[b % len(reviewers)]
        AssignmentFactory(batch=batch, reviewer=reviewer)
        for i in range(4):
            status = [Image.Status.REVIEWED, Image.Status.REVIEWED, Image.Status.APPROVED, Image.Status.DETECTED][i]
            image = ImageFactory(dataset=dataset, status=status, relative_path=f"{batch.pk:04d}/{i}.jpg")
            BatchItemFactory(batch=batch, image=image, position=i)
            DetectionResultFactory(run=run, image=image)
            ProposalFactory(run=run, image=image, ordinal=0)
            if status != Image.Status.DETECTED:
                make_review(image, reviewer, (5, 5, 20, 20), is_unsure=i == 1)


@pytest.fixture
def shape(admin_user):
    dataset = DatasetFactory(name="shape")
    run = DetectionRunFactory(dataset=dataset, status="done")
    dataset.current_detection_run = run
    dataset.save()
    reviewers = [UserFactory(username=f"r{i}") for i in range(3)]
    grow(dataset, run, batches=2, reviewers=reviewers)
    return dataset, run, reviewers


def urls(dataset, run) -> dict[str, str]:
    return {
        "dataset list": "/datasets/",
        "dataset page": f"/datasets/{dataset.pk}/",
        "approval queue": f"/datasets/{dataset.pk}/approve/",
        "approved list": f"/datasets/{dataset.pk}/approve/?show=approved",
        "quality page": f"/datasets/{dataset.pk}/quality/",
        "detection run page": f"/detection/runs/{run.pk}/",
        "batches page": f"/datasets/{dataset.pk}/batches/",
    }


def count(call) -> int:
    """Queries of one call, without the SAVEPOINTs the test's own transaction turns atomic blocks into
    (in production they are BEGIN and COMMIT, which are not counted either)."""
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code in (200, 201), response.content[:300]
    return len([q for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))])


@pytest.mark.parametrize("page", list(PAGES))
def test_admin_page_queries_are_pinned_and_do_not_grow_with_the_dataset(
    admin_client, shape, page, django_assert_num_queries, django_assert_max_num_queries
):
    dataset, run, reviewers = shape
    url = urls(dataset, run)[page]
    admin_client.get(url)  # the session's first read may differ
    pinned = django_assert_max_num_queries if page == "approval queue" else django_assert_num_queries
    with pinned(PAGES[page]):
        assert admin_client.get(url).status_code == 200

    grow(dataset, run, batches=8, reviewers=[*reviewers, UserFactory(username="r3"), UserFactory(username="r4")])

    grown = count(lambda: admin_client.get(url))
    assert grown <= PAGES[page] if page == "approval queue" else grown == PAGES[page]


def test_reviewer_home_reads_progress_in_one_query_however_many_batches(client, shape, django_assert_num_queries):
    dataset, run, reviewers = shape
    client.force_login(reviewers[0])
    client.get("/review/")
    # session, user, my batches with progress, pool batches, and whether I came in as a crowd worker
    with django_assert_num_queries(5):
        page = client.get("/review/")
    assert page.status_code == 200
    first = count(lambda: client.get("/review/"))

    grow(dataset, run, batches=6, reviewers=reviewers)  # reviewer 0 now holds 3 batches instead of 1

    assert count(lambda: client.get("/review/")) == first
    progress = {p.batch.pk: (p.done, p.total) for p in client.get("/review/").context["batches"]}
    assert sorted(progress.values()) == [(3, 4)] * 3


def test_next_image_and_submit_are_pinned(client, shape):
    dataset, run, reviewers = shape
    batch = BatchFactory(dataset=dataset)
    AssignmentFactory(batch=batch, reviewer=reviewers[0])
    for i in range(3):
        image = ImageFactory(dataset=dataset, status=Image.Status.DETECTED, relative_path=f"open/{i}.jpg")
        BatchItemFactory(batch=batch, image=image, position=i)
        ProposalFactory(run=run, image=image, ordinal=0, x0=5, y0=5, x1=20, y1=20)
    client.force_login(reviewers[0])
    next_url = f"/api/review/batches/{batch.pk}/next"
    client.get("/review/")

    response = None

    def take():
        nonlocal response
        response = client.post(next_url, {}, content_type="application/json")
        return response

    assert count(take) == NEXT_IMAGE
    image = response.json()["image"]
    body = {
        "lease_token": image["lease"]["token"],
        "revision": image["revision"],
        "boxes": [{"proposal": p["id"], "fate": "accepted"} for p in image["proposals"]],
        "seconds_spent": 2,
    }

    def submit():
        nonlocal response
        response = client.post(
            f"/api/review/batches/{batch.pk}/images/{image['id']}/review", body, content_type="application/json"
        )
        return response

    assert count(submit) == SUBMIT
    assert response.status_code == 201
    assert response.json()["status"] == Image.Status.REVIEWED

    grow(dataset, run, batches=6, reviewers=reviewers)

    following = client.post(next_url, {"after": image["id"]}, content_type="application/json")
    assert following.json()["image"]["id"] != image["id"]
    assert count(lambda: client.post(next_url, {}, content_type="application/json")) == NEXT_IMAGE


def mid_run(admin_user, images: int) -> object:
    """A run in its middle, built by the services: a third of its chunks done, one running, a few sent and the
    rest waiting their turn."""
    from reviewer.services.detection import detection_chunk_process, detection_run_start

    class NoFaces:
        def detect(self, pixels):
            return []

    dataset = DatasetFactory()
    ImageFactory.create_batch(images, dataset=dataset)
    run = detection_run_start(dataset=dataset, detector="centerface", settings={}, user=admin_user)
    for chunk_id in list(run.chunks.order_by("index").values_list("pk", flat=True)[: images // 3]):
        detection_chunk_process(chunk_id=chunk_id, detector=NoFaces())
    first_sent = run.chunks.filter(status="queued", queued_at__isnull=False).order_by("index").first()
    run.chunks.filter(pk=first_sent.pk).update(status="running")
    run.refresh_from_db()
    return run


@pytest.mark.parametrize("url", ["/detection/runs/{}/", "/api/detection-runs/{}/"])
def test_the_run_page_and_its_progress_call_are_pinned_mid_run_whatever_the_number_of_chunks(
    admin_client, admin_user, settings, url, django_assert_num_queries, django_capture_on_commit_callbacks
):
    """Session, user, the run with its dataset, its progress (counters and running chunks in one query), its first
    failures: 5, at 12 chunks as at 60 (a run at 1.5 M images has 94 k; bench/scale.py times it)."""
    settings.VEIL_DETECTION_CHUNK_SIZE = 1
    settings.VEIL_DETECTION_IN_FLIGHT = 4
    with django_capture_on_commit_callbacks(execute=False):
        small, large = mid_run(admin_user, 12), mid_run(admin_user, 60)
    admin_client.get(url.format(small.pk))  # the session's first read may differ
    with django_assert_num_queries(5):
        assert admin_client.get(url.format(small.pk)).status_code == 200
    assert count(lambda: admin_client.get(url.format(large.pk))) == 5
    if url.startswith("/api/"):
        chunks = admin_client.get(url.format(large.pk)).json()["progress"]["chunks"]
        assert chunks == {"queued": 39, "running": 1, "done": 20, "failed": 0}
