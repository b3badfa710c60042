from datetime import timedelta

import pytest
from django.utils import timezone

from reviewer.models import DetectionChunk
from reviewer.selectors.detection import detection_run_progress
from reviewer.services.detection import detection_chunk_process, detection_run_start
from reviewer.services.reconcile import MAX_CHUNK_ATTEMPTS, detection_reconcile
from tests.factories import DatasetFactory, DetectionRunFactory, ImageFactory

pytestmark = pytest.mark.django_db


class NoFaces:
    def detect(self, pixels):
        return []


def test_the_progress_counts_chunks_by_status_from_the_runs_counters_in_one_query(
    admin_user, settings, django_assert_num_queries, django_capture_on_commit_callbacks
):
    settings.VEIL_DETECTION_CHUNK_SIZE = 1
    settings.VEIL_DETECTION_IN_FLIGHT = 5
    dataset = DatasetFactory()
    ImageFactory.create_batch(7, dataset=dataset)
    with django_capture_on_commit_callbacks(execute=False):
        run = detection_run_start(dataset=dataset, detector="centerface", settings={}, user=admin_user)
        chunks = list(run.chunks.order_by("index"))
        for chunk in chunks[:3]:
            detection_chunk_process(chunk_id=chunk.pk, detector=NoFaces())
        long_ago = timezone.now() - timedelta(hours=1)
        DetectionChunk.objects.filter(pk=chunks[3].pk).update(  # its worker kept dying: reconcile gives up on it
            status="running", started_at=long_ago, heartbeat_at=long_ago, attempts=MAX_CHUNK_ATTEMPTS
        )
        assert detection_reconcile().given_up == [chunks[3].pk]
        DetectionChunk.objects.filter(pk=chunks[4].pk).update(status="running", heartbeat_at=timezone.now())
    DetectionRunFactory(dataset=run.dataset, chunks_total=4, chunks_failed=4)  # another run's are not counted

    with django_assert_num_queries(1):
        progress = detection_run_progress(run=run)

    assert progress["chunks"] == {"queued": 2, "running": 1, "done": 3, "failed": 1}
    assert progress["processed"] == 4  # three done images, one the chunk's failure
    assert detection_run_progress(run=DetectionRunFactory())["chunks"] == {
        "queued": 0,
        "running": 0,
        "done": 0,
        "failed": 0,
    }
