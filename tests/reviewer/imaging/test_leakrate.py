import math

import pytest

from reviewer.imaging.leakrate import Evidence, clopper_pearson_upper, faces_needed, leak_estimate


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


def test_open_flags_weigh_their_buckets_measured_share_of_faces():
    # Hand-computed: 3 of 300 sampled faces missed; 1,000 final boxes; open flags by bucket:
    #   agree       10 open, 40 resolved of which 10 were faces: share 0.25, bound BetaInv(0.95; 11, 30) = 0.38706
    #   centerface   5 open,  5 resolved (fewer than 20): each counted as a face (1, 1), 15 more would measure it
    #   audit        1 open: a face the auditor boxed always counts 1
    # E = 10 x 0.25 + 5 + 1 = 8.5 faces; U = 10 x 0.38706 + 5 + 1 = 9.8706 faces
    # estimate = 3 / 300 + 8.5 / 1008.5 = 0.018429; upper = BetaInv(0.95; 4, 297) + 9.8706 / 1009.8706
    #          = 0.025641 + 0.009774 = 0.035415: the point estimate is under a 2 % bound, its upper bound is over.
    evidence = Evidence(
        gold_faces=200, gold_misses=2, audit_faces=100, audit_misses=1, export_faces=1000, known_leaks=16,
        open_flags={"agree": 10, "centerface": 5, "audit": 1}, resolved_flags={"agree": (10, 40), "centerface": (0, 5)},
    )  # fmt: skip
    est = leak_estimate(evidence)
    terms = {b.bucket: b for b in est.buckets}
    assert (terms["agree"].share, terms["agree"].upper) == (0.25, pytest.approx(0.3870602, abs=1e-6))
    assert (terms["centerface"].share, terms["centerface"].upper, terms["centerface"].more_needed) == (1.0, 1.0, 15)
    assert not terms["centerface"].measured
    assert (terms["audit"].share, terms["audit"].upper) == (1.0, 1.0)
    assert est.known_share == pytest.approx(8.5 / 1008.5)
    assert est.known_upper == pytest.approx(9.8706024 / 1009.8706024, abs=1e-7)
    assert est.estimate == pytest.approx(0.018429, abs=1e-6)
    assert est.upper == pytest.approx(0.025641393 + 9.8706024 / 1009.8706024, abs=1e-6)
    assert est.estimate < 0.02 < est.upper
    shown = est.as_dict()
    assert [b["bucket"] for b in shown["buckets"]] == ["agree", "audit", "centerface"]
    assert shown["buckets"][0]["expected_faces"] == pytest.approx(2.5)


def test_a_bucket_with_every_resolved_flag_a_non_face_weighs_only_its_bound():
    # 60 resolved, none a face: share 0, bound 1 - 0.05 ** (1 / 60) = 0.04870; 20 open flags weigh 0.974 faces.
    est = leak_estimate(Evidence(gold_faces=150, export_faces=500, known_leaks=20, open_flags={"retinaface": 20},
                                 resolved_flags={"retinaface": (0, 60)}))  # fmt: skip
    assert est.known_share == 0.0
    assert est.known_upper == pytest.approx(20 * 0.0487 / (500 + 20 * 0.0487), abs=1e-5)
    assert est.upper == pytest.approx(0.0197734 + est.known_upper, abs=1e-6)


def test_resolutions_that_do_not_add_up_are_refused():
    with pytest.raises(ValueError, match="faces <= resolved"):
        leak_estimate(Evidence(export_faces=10, open_flags={"agree": 1}, resolved_flags={"agree": (5, 3)}))


def test_faces_needed_is_the_fewest_sampled_faces_whose_bound_meets_the_release_bound():
    # No miss: (1 - p) ** n <= 0.05  <=>  n >= ln 0.05 / ln(1 - p): 148.3 for 2 %, 298.1 for 1 %.
    assert faces_needed(0, 0.02) == 149
    assert clopper_pearson_upper(0, 148) > 0.02 >= clopper_pearson_upper(0, 149)
    assert faces_needed(0, 0.01) == 299  # what a 1.5 M-image release needs for a 1 % bound: not its size
    # Each miss found raises it: 1 % with one, two and three misses (the docs quote these).
    assert [faces_needed(m, 0.01) for m in (1, 2, 3)] == [473, 628, 773]
    assert clopper_pearson_upper(1, 472) > 0.01 >= clopper_pearson_upper(1, 473)
    # The check half's careful review holds 84 sampled faces: 0 misses in 84 bound the rate at 3.50 %, over 2 %.
    assert clopper_pearson_upper(0, 84) == pytest.approx(0.0350, abs=1e-4)
    assert faces_needed(0, 0.0) is None
