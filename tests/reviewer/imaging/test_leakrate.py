import math

import pytest

from reviewer.imaging.leakrate import Evidence, clopper_pearson_upper, leak_estimate


def test_zero_misses_upper_bound_is_the_exact_closed_form():
    # P[X = 0 | n, p] = (1 - p) ** n = 0.05  =>  p = 1 - 0.05 ** (1 / n)
    assert clopper_pearson_upper(0, 100) == pytest.approx(1 - 0.05 ** (1 / 100))
    assert clopper_pearson_upper(0, 100) == pytest.approx(0.029513, abs=1e-6)
    assert clopper_pearson_upper(0, 300) == pytest.approx(0.009936, abs=1e-6)  # about 3 / n
    assert clopper_pearson_upper(0, 1) == pytest.approx(0.95)


def test_upper_bound_with_misses_is_where_the_binomial_tail_reaches_five_percent():
    upper = clopper_pearson_upper(2, 50)
    # By hand: P[X <= 2 | 50, p] = sum_k C(50, k) p^k (1-p)^(50-k) equals 0.05 at the bound.
    tail = sum(math.comb(50, k) * upper**k * (1 - upper) ** (50 - k) for k in range(3))
    assert tail == pytest.approx(0.05, abs=1e-6)
    assert upper == pytest.approx(0.1206, abs=1e-4)


def test_no_evidence_or_all_missed_gives_one():
    assert clopper_pearson_upper(0, 0) == 1.0
    assert clopper_pearson_upper(4, 4) == 1.0


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="misses <= faces"):
        clopper_pearson_upper(3, 2)
    with pytest.raises(ValueError, match="misses <= faces"):
        clopper_pearson_upper(-1, 2)
    with pytest.raises(ValueError, match="confidence"):
        clopper_pearson_upper(0, 2, confidence=1.0)


def test_estimate_pools_gold_and_audit_and_adds_known_leaks():
    evidence = Evidence(gold_faces=60, gold_misses=1, audit_faces=40, audit_misses=1, export_faces=398, known_leaks=2)
    est = leak_estimate(evidence)
    assert est.sampled_rate == pytest.approx(2 / 100)
    assert est.known_share == pytest.approx(2 / 400)
    assert est.estimate == pytest.approx(0.02 + 0.005)
    assert est.upper == pytest.approx(clopper_pearson_upper(2, 100) + 0.005)
    assert est.as_dict()["evidence"]["known_leaks"] == 2


def test_estimate_with_zero_misses_still_has_a_positive_bound():
    est = leak_estimate(Evidence(gold_faces=200, export_faces=1000))
    assert est.estimate == 0.0
    assert est.upper == pytest.approx(1 - 0.05 ** (1 / 200))
    assert 0.014 < est.upper < 0.015


def test_without_sampled_faces_nothing_bounds_the_misses_so_the_upper_bound_is_one():
    # No gold image reviewed, no audit: Clopper-Pearson with n = 0 bounds nothing; the estimate is the known part.
    est = leak_estimate(Evidence(export_faces=500))
    assert est.sampled_rate is None
    assert est.sampled_upper is None
    assert not est.has_sampled_evidence
    assert est.as_dict()["has_sampled_evidence"] is False
    assert (est.estimate, est.upper) == (0.0, 1.0)
    held = leak_estimate(Evidence(export_faces=90, known_leaks=10))
    assert held.estimate == pytest.approx(0.1)
    assert held.upper == 1.0
    # One gold face, covered, is already a number (the rule of three's n = 1 case): 0.95.
    assert leak_estimate(Evidence(gold_faces=1, export_faces=1)).upper == pytest.approx(0.95)
