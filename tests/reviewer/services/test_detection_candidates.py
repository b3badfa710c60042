"""A detection run keeps candidates beside its proposals, once per image, and records its recall mode."""

from __future__ import annotations

import pytest

from reviewer.imaging.detectors import Detection
from reviewer.imaging.detectors.base import CandidateRegion, DetectionSet
from reviewer.imaging.geometry import Box
from reviewer.models import Candidate, DetectionRun, Proposal
from reviewer.services.detection import detection_chunk_process, detection_run_process_sync, detection_run_start
from tests.factories import DatasetFactory, ImageFactory

pytestmark = pytest.mark.django_db


class WithCandidates:
    """Stands in for the model: one proposal and two candidates on every image."""

    def detect_all(self, pixels):
        return DetectionSet(
            proposals=[Detection(Box(2, 2, 20, 22), 0.9)],
            candidates=[CandidateRegion(Box(30, 10, 50, 30), 0.15, "low_score"),
                        CandidateRegion(Box(40, 20, 60, 44), 0.08, "recall_pass")],
        )  # fmt: skip

    def detect(self, pixels):
        return self.detect_all(pixels).proposals


def test_a_run_writes_candidates_beside_proposals_and_twice_changes_nothing(admin_user):
    dataset = DatasetFactory()
    image = ImageFactory(dataset=dataset)
    run = detection_run_start(dataset=dataset, detector="centerface", settings=None, user=admin_user, enqueue=False)
    chunk = run.chunks.get()
    detection_chunk_process(chunk_id=chunk.pk, detector=WithCandidates())
    rows = list(Candidate.objects.filter(run=run, image=image).values_list("ordinal", "score", "source", "x0", "y1"))
    assert rows == [(0, 0.15, "low_score", 30.0, 30.0), (1, 0.08, "recall_pass", 40.0, 44.0)]
    assert Proposal.objects.filter(run=run, image=image).count() == 1
    chunk.status = chunk.Status.QUEUED
    chunk.save()
    detection_chunk_process(chunk_id=chunk.pk, detector=WithCandidates())  # a redelivered message
    assert Candidate.objects.filter(run=run).count() == 2


def test_a_detector_without_candidates_still_works(admin_user):
    class Plain:
        def detect(self, pixels):
            return [Detection(Box(2, 2, 20, 22), 0.9)]

    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    run = detection_run_start(dataset=dataset, detector="centerface", settings=None, user=admin_user, enqueue=False)
    detection_chunk_process(chunk_id=run.chunks.get().pk, detector=Plain())
    assert Proposal.objects.filter(run=run).count() == 1
    assert Candidate.objects.filter(run=run).count() == 0


def test_recall_mode_is_recorded_and_runs_the_real_model(admin_user):
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    run = detection_run_start(dataset=dataset, detector="centerface", settings={"recall": "on"}, user=admin_user,
                              enqueue=False)  # fmt: skip
    assert run.settings["recall"] is True
    assert run.settings["passes"] == [[832, False], [832, True]]
    run = detection_run_process_sync(run=run)
    assert run.status == DetectionRun.Status.DONE
