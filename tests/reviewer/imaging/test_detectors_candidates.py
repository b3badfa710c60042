"""Candidates (the safety net's one search), recall mode and stacked proposals of CenterFace: the decisions Veil
takes on the models' raw boxes.

The raw boxes of each pass are given (the models themselves are tested in test_detectors.py), so each rule is
seen on the boxes that provoke it.
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from reviewer.imaging.detectors import get_detector, net
from reviewer.imaging.detectors.base import Detection, merge_stacked
from reviewer.imaging.detectors.centerface import CenterFaceDetector
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


def arrays(rows):
    boxes = np.asarray([r[0] for r in rows], dtype=np.float32).reshape(-1, 4)
    return boxes, np.asarray([r[1] for r in rows], dtype=np.float32)


def select(first, second=None, proposals=()):
    return net.select_candidates(
        width=600, height=400, proposals=[Detection(Box(*b), s) for b, s in proposals],
        first=arrays(first), second=arrays(second) if second is not None else None,
    )  # fmt: skip


def test_low_scores_become_candidates_never_proposals(monkeypatch):
    detector = with_raw(monkeypatch, get_detector("centerface", threshold=0.2, second_opinion=False), {False: [
        ([10, 10, 50, 60], 0.8),
        ([200, 50, 230, 90], 0.12),  # 40 px under the threshold: 2 x 0.12 x sqrt(40 / 16) = 0.38
        ([300, 50, 340, 114], 0.19),  # 64 px: 2 x 0.19 x 2 = 0.76, a candidate
        ([15, 15, 45, 55], 0.15),  # under the proposal: hidden by its blur already
        ([400, 300, 406, 306], 0.19),  # a 6 px speck
        ([300, 200, 330, 240], 0.03),  # under the regions' floor
    ]})  # fmt: skip
    found = detector.detect_all(PIXELS)
    assert [p.box.as_list() for p in found.proposals] == [[10, 10, 50, 60]]
    [candidate] = found.candidates
    assert (candidate.box.as_list(), round(candidate.score, 2), candidate.source) == ([300, 50, 340, 114], 0.19,
                                                                                       "low_score")  # fmt: skip
    assert candidate.bucket == "centerface"
    assert candidate.evidence == {"centerface": 0.19, "retinaface": None, "height": 64.0, "net_score": 0.76}
    # detect() keeps its contract: proposals only.
    assert [p.box.as_list() for p in detector.detect(PIXELS)] == [[10, 10, 50, 60]]


def test_net_score_is_the_better_detector_taller_first():
    assert net.net_score(0.1, 0.0, 16) == pytest.approx(0.2)  # CenterFace's scores count double
    assert net.net_score(0.1, 0.5, 16) == pytest.approx(0.5)  # the better of the two
    assert net.net_score(0.0, 0.5, 64) == pytest.approx(1.0)  # four times the height, twice the evidence
    assert (net.MIN_NET_SCORE, net.MAX_CANDIDATES) == (0.45, 16)


def test_what_both_detectors_see_is_one_candidate_with_both_scores():
    found = select(
        first=[([100, 100, 130, 140], 0.15), ([10, 10, 50, 60], 0.9)],
        second=[([102, 101, 131, 141], 0.55), ([400, 200, 440, 250], 0.7), ([500, 300, 512, 312], 0.3)],
        proposals=[([10, 10, 50, 60], 0.9)],
    )
    by_place = {tuple(round(v) for v in c.box.as_list()): c for c in found}
    assert set(by_place) == {(102, 101, 131, 141), (400, 200, 440, 250)}  # the 12 px one at 0.3 scores 0.26
    agreed = by_place[(102, 101, 131, 141)]
    assert agreed.bucket == "agree"
    assert (agreed.evidence["centerface"], agreed.evidence["retinaface"]) == (0.15, 0.55)
    alone = by_place[(400, 200, 440, 250)]
    assert (alone.bucket, alone.source, alone.evidence["centerface"]) == ("retinaface", "second_detector", 0.0)
    assert found[0] is alone  # 0.7 x sqrt(50 / 16) = 1.24 before 0.55 x sqrt(40 / 16) = 0.87


def test_a_photo_of_weak_specks_keeps_no_candidate():
    rows = [([20 + 60 * i, 100, 40 + 60 * i, 100 + 14 + i], 0.12) for i in range(6)]
    assert select(first=rows, second=[([20, 300, 34, 314], 0.4)]) == []


def test_a_crowd_keeps_at_most_the_cap_ranked_by_net_score():
    rows = []
    for i in range(40):
        x, y = 10 + 70 * (i % 8), 10 + 75 * (i // 8)
        rows.append(([x, y, x + 20, y + 16 + i], 0.19))
    found = select(first=rows)
    assert len(found) == net.MAX_CANDIDATES == 16
    assert {round(c.box.height) for c in found} == set(range(16 + 24, 16 + 40))  # the tallest
    scores = [c.evidence["net_score"] for c in found]
    assert scores == sorted(scores, reverse=True)


def test_the_second_detector_runs_once_per_image_only_when_candidates_are_asked_for(monkeypatch):
    detector = with_raw(monkeypatch, get_detector("centerface"), {False: [([10, 10, 50, 60], 0.8)]})
    calls = []

    class Second:
        def raw(self, pixels, *, threshold=None):
            calls.append(threshold)
            return arrays([([200, 100, 240, 150], 0.9)])

    detector._second = Second()
    found = detector.detect_all(PIXELS)
    assert calls == [net.REGION_FLOOR]
    assert [c.bucket for c in found.candidates] == ["retinaface"]
    detector.detect(PIXELS)
    assert calls == [net.REGION_FLOOR]  # detect() (the leak check's pass) never runs it
    assert detector.describe()["settings"]["net"]["min_net_score"] == net.MIN_NET_SCORE


def test_recall_mode_proposes_tall_low_scores_from_both_passes(monkeypatch):
    detector = get_detector("centerface", recall=True, second_opinion=False)
    assert detector.passes() == [(832, False), (832, True)]
    with_raw(monkeypatch, detector, {
        False: [([10, 10, 50, 60], 0.8), ([100, 100, 130, 140], 0.09), ([300, 100, 310, 113], 0.19)],
        True: [([400, 200, 440, 250], 0.06), ([200, 300, 230, 340], 0.09)],
    })  # fmt: skip
    found = detector.detect_all(PIXELS)
    proposed = sorted(p.box.as_list() for p in found.proposals)
    # 40 and 50 px tall at 0.09: proposed in recall mode; the 13 px box at 0.19 is not (under 14 px).
    assert proposed == [[10, 10, 50, 60], [100, 100, 130, 140], [200, 300, 230, 340]]
    # What is left has too little evidence for a candidate: 13 px at 0.19 (net score 0.34), 50 px at 0.06 (0.21).
    assert found.candidates == []
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
