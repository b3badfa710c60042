import pytest

from reviewer.imaging.consolidate import consolidate, merge, pair_agreement, score_against_gold
from reviewer.imaging.geometry import Box

FACE = Box(100, 100, 200, 200)
SHIFTED = Box(110, 105, 210, 205)  # IoU with FACE ~0.74: the same face boxed a little differently
OTHER = Box(400, 50, 440, 100)


def test_two_reviewers_boxing_the_same_face_give_one_face_covering_both():
    result = consolidate([[FACE], [SHIFTED]])

    assert result.boxes == [Box(100, 100, 210, 205)]
    assert result.faces[0].reviewers == (0, 1)
    assert result.is_unanimous
    assert result.agreement == 1.0


def test_a_face_only_one_reviewer_boxed_stays():
    result = consolidate([[FACE, OTHER], [SHIFTED], []])

    assert sorted(result.boxes, key=lambda b: b.x0) == [Box(100, 100, 210, 205), OTHER]
    supports = {face.box: face.support for face in result.faces}
    assert supports[OTHER] == 1
    assert not result.is_unanimous
    assert result.agreement == 0.0  # neither face was boxed by all three


def test_boxes_overlapping_below_half_are_two_faces():
    left, right = Box(0, 0, 100, 100), Box(60, 0, 160, 100)  # IoU 40/160 = 0.25

    assert len(consolidate([[left], [right]]).faces) == 2


def test_two_boxes_of_one_reviewer_are_never_merged_even_when_overlapping():
    close_a, close_b = Box(0, 0, 100, 100), Box(10, 0, 110, 100)  # IoU 0.82, e.g. two faces cheek to cheek

    result = consolidate([[close_a, close_b], [close_a]])

    assert len(result.faces) == 2
    assert sorted(f.support for f in result.faces) == [1, 2]


def test_a_box_joins_the_face_it_overlaps_most():
    a, b = Box(0, 0, 100, 100), Box(40, 0, 140, 100)  # one reviewer, two faces side by side
    near_b = Box(45, 0, 140, 100)

    result = consolidate([[a, b], [near_b]])

    joined = next(f for f in result.faces if f.support == 2)
    assert joined.box == Box(40, 0, 140, 100)


def test_no_faces_from_everybody_is_zero_boxes_and_full_agreement():
    result = consolidate([[], []])

    assert result.boxes == []
    assert result.is_unanimous
    assert result.agreement == 1.0


def test_median_rule_takes_the_middle_corner():
    boxes = [Box(0, 0, 10, 10), Box(1, 1, 11, 11), Box(2, 2, 13, 13)]

    assert merge(boxes, "median") == Box(1, 1, 11, 11)
    assert consolidate([[b] for b in boxes], rule="median").boxes == [Box(1, 1, 11, 11)]


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="unknown merge rule 'mean'"):
        consolidate([[FACE]], rule="mean")


def test_gold_score_counts_misses_and_extras_one_to_one():
    gold = [FACE, OTHER]

    assert score_against_gold([SHIFTED, OTHER], gold) == (0, 0)
    assert score_against_gold([SHIFTED], gold) == (1, 0)
    assert score_against_gold([SHIFTED, SHIFTED, Box(0, 0, 5, 5)], gold) == (1, 2)  # a face matches once
    assert score_against_gold([], []) == (0, 0)


def test_pair_agreement_is_f1_of_matched_boxes():
    assert pair_agreement([], []) == 1.0
    assert pair_agreement([FACE], [SHIFTED]) == 1.0
    assert pair_agreement([FACE, OTHER], [SHIFTED]) == pytest.approx(2 / 3)
    assert pair_agreement([FACE], []) == 0.0
