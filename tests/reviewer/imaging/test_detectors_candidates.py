"""Candidates, recall mode and stacked proposals of CenterFace: the decisions Veil takes on the model's raw boxes.

The raw boxes of each pass are given (the model itself is tested in test_detectors.py), so each rule is seen
on the boxes that provoke it.
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from reviewer.imaging.detectors import get_detector
from reviewer.imaging.detectors.base import merge_stacked
from reviewer.imaging.detectors.centerface import (
    CANDIDATE_MIN_EVIDENCE,
    MAX_CANDIDATES,
    MISSED_VIEWS,
    CenterFaceDetector,
)
from reviewer.imaging.geometry import Box, iou

PIXELS = np.zeros((400, 600, 3), dtype=np.uint8)


def with_raw(monkeypatch, detector: CenterFaceDetector, per_pass: dict[bool, list[tuple[list[float], float]]]):
    """Make each pass (plain, mirrored) 'find' the given boxes, filtered at the threshold it is asked for."""

    def raw(pixels, long_side, *, mirrored=False, net=None, threshold=None):
        rows = [r for r in per_pass.get(mirrored, []) if r[1] >= (threshold or detector.threshold)]
        boxes = np.asarray([r[0] for r in rows], dtype=np.float32).reshape(-1, 4)
        return boxes, np.asarray([r[1] for r in rows], dtype=np.float32)

    monkeypatch.setattr(detector, "raw", raw)
    return detector


def test_a_box_inside_a_better_scored_one_is_one_face():
    boxes = np.array([[100, 100, 160, 170], [110, 112, 150, 160], [300, 100, 340, 150]], dtype=np.float64)
    scores = np.array([0.9, 0.6, 0.5])
    assert merge_stacked(boxes, scores, 0.5).tolist() == [0, 2]


def test_neighbouring_faces_in_a_crowd_are_not_merged():
    boxes = np.array([[100, 100, 120, 124], [112, 100, 132, 124], [124, 100, 144, 124]], dtype=np.float64)
    assert sorted(merge_stacked(boxes, np.array([0.9, 0.8, 0.7]), 0.5).tolist()) == [0, 1, 2]


def test_stacked_raw_boxes_become_one_proposal(monkeypatch):
    detector = with_raw(monkeypatch, get_detector("centerface", recall=True), {False: [
        ([100, 100, 160, 170], 0.9),  # the head
        ([110, 112, 150, 160], 0.7),  # the face inside it: NMS keeps both (IoU 0.46), the merge does not
    ]})  # fmt: skip
    proposals = detector.detect(PIXELS)
    assert [p.box.as_list() for p in proposals] == [[100, 100, 160, 170]]
    # The default's single pass keeps both: merging its few stacks would lose a true face on wider-dev.
    default = with_raw(monkeypatch, get_detector("centerface"), {False: [
        ([100, 100, 160, 170], 0.9), ([110, 112, 150, 160], 0.7),
    ]})  # fmt: skip
    assert len(default.detect(PIXELS)) == 2


def test_low_scores_become_candidates_never_proposals(monkeypatch):
    detector = with_raw(monkeypatch, get_detector("centerface", threshold=0.2), {False: [
        ([10, 10, 50, 60], 0.8),
        ([200, 50, 230, 90], 0.12),  # a face under the threshold
        ([15, 15, 45, 55], 0.1),  # under the proposal: hidden by its blur already
        ([400, 300, 406, 306], 0.15),  # a 6 px speck
        ([300, 200, 330, 240], 0.03),  # under the candidate threshold
    ]})  # fmt: skip
    found = detector.detect_all(PIXELS)
    assert [p.box.as_list() for p in found.proposals] == [[10, 10, 50, 60]]
    assert [(c.box.as_list(), round(c.score, 2), c.source) for c in found.candidates] == [
        ([200, 50, 230, 90], 0.12, "low_score")
    ]
    # detect() keeps its contract: proposals only.
    assert [p.box.as_list() for p in detector.detect(PIXELS)] == [[10, 10, 50, 60]]


def test_a_quiet_photo_keeps_only_the_regions_with_evidence_tallest_first(monkeypatch):
    # Nine regions at 0.1, 12..44 px tall: score x height 1.2..4.4; those of 24 px and more reach 2.4.
    rows = [([20 + 60 * i, 100, 50 + 60 * i, 100 + 12 + 4 * i], 0.1) for i in range(9)]
    detector = with_raw(monkeypatch, get_detector("centerface"), {False: rows})
    found = detector.detect_all(PIXELS)
    assert CANDIDATE_MIN_EVIDENCE == 2.4
    assert sorted(round(c.box.height) for c in found.candidates) == [24, 28, 32, 36, 40, 44]


def test_a_photo_of_weak_specks_keeps_no_candidate(monkeypatch):
    # Nothing but low, short regions (score x height under 2.4): no flag for a reviewer to dismiss.
    rows = [([20 + 60 * i, 100, 40 + 60 * i, 100 + 14 + i], 0.12) for i in range(6)]
    detector = with_raw(monkeypatch, get_detector("centerface"), {False: rows})
    assert detector.detect_all(PIXELS).candidates == []


def test_a_crowd_keeps_at_most_the_cap_ranked_by_score_times_height(monkeypatch):
    # 40 regions on a grid; the tall ones score low, a few short ones high: score x height decides.
    rows = []
    for i in range(40):
        x, y = 10 + 70 * (i % 8), 10 + 75 * (i // 8)
        height = 12 + i
        rows.append(([x, y, x + 20, y + height], 0.06 if i >= 30 else 0.15))
    detector = with_raw(monkeypatch, get_detector("centerface"), {False: rows})
    found = detector.detect_all(PIXELS)
    assert len(found.candidates) == MAX_CANDIDATES == 16
    kept = {round(c.box.height) for c in found.candidates}
    # 0.15 x 41..26 px (6.15..3.9) beats 0.06 x 42..51 px (at most 3.06): the sixteen best are high scores.
    assert kept == set(range(26, 42))
    assert [c.score for c in found.candidates] == sorted((c.score for c in found.candidates), reverse=True)


def with_views(monkeypatch, detector: CenterFaceDetector, per_view: dict[tuple[float, bool], list]):
    """Make each view of missed_regions (factor, mirrored) 'find' the given boxes, in pixels of the image."""

    def raw(pixels, long_side, *, mirrored=False, net=None, threshold=None):
        factor = round(long_side / detector.long_side, 2)
        rows = [r for r in per_view.get((factor, mirrored), []) if r[1] >= (threshold or detector.threshold)]
        boxes = np.asarray([r[0] for r in rows], dtype=np.float32).reshape(-1, 4)
        return boxes, np.asarray([r[1] for r in rows], dtype=np.float32)

    monkeypatch.setattr(detector, "raw", raw)
    return detector


def test_missed_regions_keep_what_the_views_agree_on(monkeypatch):
    assert MISSED_VIEWS == ((1.0, False), (1.0, True), (1.5, False), (1.5, True), (2.0, False))
    agreed = [100, 100, 116, 116]  # 16 px, seen by two views at >= 0.1: 2 x 16 = 32 px of evidence
    lonely = [300, 100, 316, 116]  # 16 px, seen by one view only: 16 px, not enough
    tall = [400, 200, 430, 230]  # 30 px, one view: 30 px, enough
    weak = [200, 300, 216, 316]  # 16 px, five views at 0.07: none of them sure
    boxed = [10, 10, 40, 40]  # agreed on, but an approved box covers it
    views = {
        (1.0, False): [(agreed, 0.12), (lonely, 0.15), (weak, 0.07), (boxed, 0.3)],
        (1.0, True): [([101, 99, 117, 115], 0.11), (weak, 0.07), (boxed, 0.3)],
        (1.5, False): [(tall, 0.13), (weak, 0.07)],
        (1.5, True): [(weak, 0.07)],
        (2.0, False): [(weak, 0.07), ([102, 101, 118, 117], 0.06)],
    }
    detector = with_views(monkeypatch, get_detector("centerface"), views)
    found = detector.missed_regions(PIXELS, [Box(8, 8, 42, 42)])
    assert [c.box.as_list() for c in found] == [[100, 100, 116, 116], [400, 200, 430, 230]]  # evidence 32, 30
    assert {c.source for c in found} == {"recall_pass"}
    assert found[0].score == pytest.approx(0.12)


def test_missed_regions_are_capped_per_image(monkeypatch):
    grid = [([10 + 40 * (i % 14), 10 + 40 * (i // 14), 40 + 40 * (i % 14), 40 + 40 * (i // 14)], 0.15)
            for i in range(28)]  # fmt: skip
    detector = with_views(monkeypatch, get_detector("centerface"), {(1.0, False): grid, (1.0, True): grid})
    found = detector.missed_regions(PIXELS, [])
    assert len(found) == 16


def test_recall_mode_proposes_tall_low_scores_and_tags_what_only_the_mirror_saw(monkeypatch):
    detector = get_detector("centerface", recall=True)
    assert detector.passes() == [(832, False), (832, True)]
    with_raw(monkeypatch, detector, {
        False: [([10, 10, 50, 60], 0.8), ([100, 100, 130, 140], 0.09), ([300, 100, 310, 113], 0.19)],
        True: [([400, 200, 440, 250], 0.06), ([200, 300, 230, 340], 0.09)],
    })  # fmt: skip
    found = detector.detect_all(PIXELS)
    proposed = sorted(p.box.as_list() for p in found.proposals)
    # 40 and 50 px tall at 0.09: proposed in recall mode; the 13 px box at 0.19 is not (under 14 px).
    assert proposed == [[10, 10, 50, 60], [100, 100, 130, 140], [200, 300, 230, 340]]
    by_box = {tuple(c.box.as_list()): c.source for c in found.candidates}
    assert by_box == {(400, 200, 440, 250): "recall_pass", (300, 100, 310, 113): "low_score"}
    settings = detector.describe()["settings"]
    assert settings["recall"] is True
    assert settings["passes"] == [[832, False], [832, True]]


def test_default_mode_is_unchanged_by_candidates(monkeypatch):
    """The same proposals whether candidates are asked for or not (they are decoded at a lower score)."""
    detector = get_detector("centerface")
    pixels = data.astronaut()
    plain = detector.detect(pixels)
    found = detector.detect_all(pixels)
    assert [p.box.as_list() for p in found.proposals] == [p.box.as_list() for p in plain]
    for c in found.candidates:
        assert c.score < 0.2
        assert all(iou(c.box, p.box) < 0.3 for p in found.proposals)


@pytest.mark.parametrize("value", [0, 1.5, "x"])
def test_bad_candidate_threshold_is_refused(value):
    from reviewer.imaging.detectors import DetectorError

    with pytest.raises(DetectorError, match="candidate_threshold"):
        get_detector("centerface", candidate_threshold=value)
