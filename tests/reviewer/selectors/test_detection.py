import pytest

from reviewer.models import DetectionChunk
from reviewer.selectors.detection import detection_run_progress
from tests.factories import DetectionRunFactory

pytestmark = pytest.mark.django_db


def test_the_progress_counts_chunks_by_status_without_reading_the_done_ones(django_assert_num_queries):
    run = DetectionRunFactory()
    other = DetectionRunFactory(dataset=run.dataset)  # another run's chunks are not counted
    statuses = ["done", "done", "failed", "running", "done", "queued", "queued"]  # 5 and 6: a retry's chunks
    DetectionChunk.objects.bulk_create(DetectionChunk(run=run, index=i, status=s) for i, s in enumerate(statuses))
    DetectionChunk.objects.bulk_create(DetectionChunk(run=other, index=i, status="failed") for i in range(4))

    with django_assert_num_queries(1):
        progress = detection_run_progress(run=run)

    assert progress["chunks"] == {"queued": 2, "running": 1, "done": 3, "failed": 1}
    assert detection_run_progress(run=DetectionRunFactory())["chunks"] == {
        "queued": 0,
        "running": 0,
        "done": 0,
        "failed": 0,
    }
