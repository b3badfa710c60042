"""The release gate's statistics: the share of faces an export may leave unblurred, and its upper bound. Pure.

Two kinds of evidence, counted in faces:
- *sampled*: images whose faces someone knows independently of the review that made the final boxes: gold
  images (their known boxes) and the blind audit (a second reviewer's boxes on approved images). There, a
  face the final boxes do not cover is a miss. Misses m of n sampled faces estimate the share of faces that
  nobody found on the images nobody checked twice: m / n, with the exact one-sided Clopper-Pearson upper bound

      upper(m, n) = the p at which P[X <= m | X ~ Binomial(n, p)] = 1 - confidence
                  = BetaInv(confidence; m + 1, n - m)        (m < n; 1 when m = n; 1 when n = 0)

  which with no miss observed is 1 - (1 - confidence) ** (1 / n) (about 3 / n at 95 %, the "rule of three").
- *known*: regions flagged on approved images that no person has resolved: candidates nobody boxed or
  dismissed, leak-check finds (residual or possibly missed), audit finds no final box covers yet. Each is
  counted as a face left unblurred until a person resolves it: k of the export's F faces (its final boxes
  plus those k).

    estimate = min(1, m / n + k / (F + k))        upper = min(1, upper(m, n) + k / (F + k))

Adding the two may count one face twice (a gold miss the leak check also found), and most unresolved
candidates are no face at all: both err towards holding a release, never towards letting a leak out.
Without any sampled face (no gold image reviewed, no audit) nothing bounds the faces nobody found: the
upper bound is then 1 (Clopper-Pearson with n = 0), so the gate refuses until gold images or an audit give
it a number, or an admin overrides it with a reason; the estimate is the known share alone and
`has_sampled_evidence` is false, which pages say.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

DEFAULT_CONFIDENCE = 0.95


def clopper_pearson_upper(misses: int, faces: int, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """The exact one-sided upper confidence bound on a miss rate, from `misses` of `faces` (see the module)."""
    if faces < 0 or misses < 0 or misses > faces:
        raise ValueError(f"need 0 <= misses <= faces; got {misses} of {faces}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie between 0 and 1; got {confidence}")
    if faces == 0 or misses == faces:
        return 1.0
    if misses == 0:
        return 1.0 - (1.0 - confidence) ** (1.0 / faces)
    # The p at which seeing `misses` or fewer becomes as unlikely as 1 - confidence: the Beta(m+1, n-m) quantile,
    # found by bisection on the binomial CDF (falls with p), so the runtime needs no scipy.
    alpha = 1.0 - confidence
    lo, hi = misses / faces, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if _binomial_cdf(misses, faces, mid) > alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return hi


def _binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space so large n does not underflow."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0 if k < n else 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    terms = [log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q for i in range(k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


@dataclass(frozen=True)
class Evidence:
    gold_faces: int = 0  # known faces on gold images with a final box set
    gold_misses: int = 0  # of those, faces no final box covers
    audit_faces: int = 0  # faces the blind second reviewer boxed on audited images
    audit_misses: int = 0  # of those, faces the approved boxes did not cover
    export_faces: int = 0  # final boxes the export blurs
    known_leaks: int = 0  # unresolved finds on approved images (candidates, leak-check finds, audit finds)

    @property
    def sampled_faces(self) -> int:
        return self.gold_faces + self.audit_faces

    @property
    def sampled_misses(self) -> int:
        return self.gold_misses + self.audit_misses


@dataclass(frozen=True)
class LeakEstimate:
    estimate: float  # the share of faces left unblurred, point estimate
    upper: float  # its upper confidence bound
    confidence: float
    sampled_rate: float | None  # m / n, None without sampled faces
    sampled_upper: float | None  # its bound, None without sampled faces
    known_share: float  # k / (F + k)
    evidence: Evidence

    @property
    def has_sampled_evidence(self) -> bool:
        return self.sampled_rate is not None

    def as_dict(self) -> dict:
        out = asdict(self)
        out["has_sampled_evidence"] = self.has_sampled_evidence
        out["evidence"] = asdict(self.evidence)
        out["method"] = "clopper-pearson one-sided on gold + audit misses, plus unresolved finds as unblurred faces"
        return out


def leak_estimate(evidence: Evidence, confidence: float = DEFAULT_CONFIDENCE) -> LeakEstimate:
    """The estimate and its upper bound from `evidence` (formula in the module docstring)."""
    n, m = evidence.sampled_faces, evidence.sampled_misses
    sampled_rate = m / n if n else None
    sampled_upper = clopper_pearson_upper(m, n, confidence) if n else None
    total = evidence.export_faces + evidence.known_leaks
    known = evidence.known_leaks / total if total else 0.0
    return LeakEstimate(
        estimate=min(1.0, (sampled_rate or 0.0) + known),
        upper=min(1.0, sampled_upper + known) if n else 1.0,
        confidence=confidence,
        sampled_rate=sampled_rate,
        sampled_upper=sampled_upper,
        known_share=known,
        evidence=evidence,
    )
