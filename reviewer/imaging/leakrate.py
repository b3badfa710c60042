"""The release gate's statistics: the share of faces an export may leave unblurred, and its upper bound. Pure.

Two kinds of evidence, counted in faces:
- *sampled*: images whose faces someone knows independently of the review that made the final boxes: gold
  images (their known boxes) and the blind audit (a second reviewer's boxes on approved images). There, a
  face the final boxes do not cover is a miss. Misses m of n sampled faces estimate the share of faces that
  nobody found on the images nobody checked twice: m / n, with the exact one-sided Clopper-Pearson upper bound

      upper(m, n) = the p at which P[X <= m | X ~ Binomial(n, p)] = 1 - confidence
                  = BetaInv(confidence; m + 1, n - m)        (m < n; 1 when m = n; 1 when n = 0)

  which with no miss observed is 1 - (1 - confidence) ** (1 / n) (about 3 / n at 95 %, the "rule of three").
- *open flags*: regions flagged on approved images that no person has resolved (candidates nobody boxed or
  dismissed, leak-check finds, audit finds no final box covers yet), counted per evidence *bucket* (which
  detectors saw a candidate; `leak_missed`; `leak_residual`; `audit`). Most flags are no face, so an open flag
  counts as the share of faces measured among the *resolved* flags of its bucket in the same dataset: r
  resolved, f of them faces, share f / r with its own Clopper-Pearson upper bound. While a bucket has fewer
  than MIN_RESOLVED resolutions, its share and bound stay 1 (each open flag a face) and `more_needed` says how
  many more resolutions would measure it. `audit` and `leak_residual` finds always count 1: an auditor's face
  is a face, and a face found inside a blurred box almost always is. With u_b open flags in bucket b:

      E = sum_b u_b x share_b        U = sum_b u_b x upper_b        (faces left in the open flags)
      known share = E / (F + E)      known upper = U / (F + U)      (F: the export's final boxes)

    estimate = min(1, m / n + E / (F + E))        upper = min(1, upper(m, n) + U / (F + U))

Adding the terms (each at its own 95 % bound) may count one face twice (a gold miss the leak check also found)
and is wider than a joint 95 % bound: both err towards holding a release, never towards letting a leak out.
Without any sampled face (no gold image reviewed, no audit) nothing bounds the faces nobody found: the
upper bound is then 1 (Clopper-Pearson with n = 0), so the gate refuses until gold images or an audit give
it a number, or an admin overrides it with a reason; the estimate is the known share alone and
`has_sampled_evidence` is false, which pages say.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

DEFAULT_CONFIDENCE = 0.95
MIN_RESOLVED = 20  # resolutions a bucket needs before its measured share replaces "every open flag is a face"
ALWAYS_FACES = ("audit", "leak_residual")  # buckets whose open flags always count as faces


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


def faces_needed(misses: int, bound: float, confidence: float = DEFAULT_CONFIDENCE) -> int | None:
    """The fewest sampled faces with `misses` missed among them whose Clopper-Pearson upper bound is at or under
    `bound`: how many gold or audited faces a release needs (None when no bound over 0 is asked for).

    With no miss it is the closed form ceil(ln(1 - confidence) / ln(1 - bound)): 149 faces for 2 % and 299 for
    1 % at 95 %, whatever the size of the release; each miss found raises it (473 for 1 % with one miss).
    """
    if misses < 0:
        raise ValueError(f"need misses >= 0; got {misses}")
    if not 0.0 < bound < 1.0:
        return None
    low = misses + 1  # clopper_pearson_upper(m, n) falls as n grows: the first n at or under the bound
    if misses == 0:
        low = max(1, math.ceil(math.log(1.0 - confidence) / math.log1p(-bound)) - 1)
    high = low
    while clopper_pearson_upper(misses, high, confidence) > bound:
        low, high = high, high * 2
    while low < high:
        mid = (low + high) // 2
        if clopper_pearson_upper(misses, mid, confidence) <= bound:
            high = mid
        else:
            low = mid + 1
    return high


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
    # Per bucket: open flags on approved images, and resolved flags as (faces, resolved). A known_leaks count
    # without buckets (older callers) is one bucket of unmeasured flags.
    open_flags: dict[str, int] = field(default_factory=dict)
    resolved_flags: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def sampled_faces(self) -> int:
        return self.gold_faces + self.audit_faces

    @property
    def sampled_misses(self) -> int:
        return self.gold_misses + self.audit_misses


@dataclass(frozen=True)
class BucketTerm:
    """One bucket's part of the known term: open flags, the resolutions that measure them, what they weigh."""

    bucket: str
    open: int
    resolved: int
    faces: int
    share: float  # faces per open flag, point estimate (1 until measured)
    upper: float  # its upper bound (1 until measured)
    measured: bool
    more_needed: int  # resolutions still needed before the bucket is measured (0 once it is)

    @property
    def expected_faces(self) -> float:
        return self.open * self.share

    @property
    def upper_faces(self) -> float:
        return self.open * self.upper


def bucket_term(bucket: str, open_flags: int, faces: int, resolved: int, confidence: float) -> BucketTerm:
    """The weight of one bucket's open flags (module docstring)."""
    if faces < 0 or resolved < 0 or faces > resolved:
        raise ValueError(f"need 0 <= faces <= resolved; got {faces} of {resolved} in bucket {bucket!r}")
    if bucket in ALWAYS_FACES:
        return BucketTerm(bucket, open_flags, resolved, faces, 1.0, 1.0, True, 0)
    if resolved < MIN_RESOLVED:
        return BucketTerm(bucket, open_flags, resolved, faces, 1.0, 1.0, False, MIN_RESOLVED - resolved)
    share = faces / resolved
    upper = clopper_pearson_upper(faces, resolved, confidence)
    return BucketTerm(bucket, open_flags, resolved, faces, share, upper, True, 0)


def bucket_terms(evidence: Evidence, confidence: float = DEFAULT_CONFIDENCE) -> list[BucketTerm]:
    """Every bucket with open or resolved flags, by name; known_leaks without buckets is `unmeasured`."""
    open_flags = dict(evidence.open_flags)
    if not open_flags and evidence.known_leaks:
        open_flags = {"unmeasured": evidence.known_leaks}
    names = sorted(set(open_flags) | set(evidence.resolved_flags))
    return [
        bucket_term(name, open_flags.get(name, 0), *evidence.resolved_flags.get(name, (0, 0)), confidence)
        for name in names
    ]


@dataclass(frozen=True)
class LeakEstimate:
    estimate: float  # the share of faces left unblurred, point estimate
    upper: float  # its upper confidence bound
    confidence: float
    sampled_rate: float | None  # m / n, None without sampled faces
    sampled_upper: float | None  # its bound, None without sampled faces
    known_share: float  # E / (F + E): open flags weighed by their buckets' measured share of faces
    evidence: Evidence
    known_upper: float = 0.0  # U / (F + U): the same at each bucket's upper bound
    buckets: list[BucketTerm] = field(default_factory=list)

    @property
    def has_sampled_evidence(self) -> bool:
        return self.sampled_rate is not None

    def as_dict(self) -> dict:
        out = asdict(self)
        out["has_sampled_evidence"] = self.has_sampled_evidence
        out["evidence"] = asdict(self.evidence)
        out["evidence"]["resolved_flags"] = {k: list(v) for k, v in self.evidence.resolved_flags.items()}
        out["buckets"] = [{**asdict(b), "expected_faces": b.expected_faces, "upper_faces": b.upper_faces}
                          for b in self.buckets]  # fmt: skip
        out["method"] = (
            "clopper-pearson one-sided on gold + audit misses, plus open flags weighed per evidence bucket by the "
            "measured share of faces among resolved flags (its own clopper-pearson upper bound; 1 until "
            f"{MIN_RESOLVED} are resolved)"
        )
        return out


def leak_estimate(evidence: Evidence, confidence: float = DEFAULT_CONFIDENCE) -> LeakEstimate:
    """The estimate and its upper bound from `evidence` (formula in the module docstring)."""
    n, m = evidence.sampled_faces, evidence.sampled_misses
    sampled_rate = m / n if n else None
    sampled_upper = clopper_pearson_upper(m, n, confidence) if n else None
    buckets = bucket_terms(evidence, confidence)
    expected = sum(b.expected_faces for b in buckets)
    at_upper = sum(b.upper_faces for b in buckets)
    known = expected / (evidence.export_faces + expected) if expected else 0.0
    known_upper = at_upper / (evidence.export_faces + at_upper) if at_upper else 0.0
    return LeakEstimate(
        estimate=min(1.0, (sampled_rate or 0.0) + known),
        upper=min(1.0, sampled_upper + known_upper) if n else 1.0,
        confidence=confidence,
        sampled_rate=sampled_rate,
        sampled_upper=sampled_upper,
        known_share=known,
        evidence=evidence,
        known_upper=known_upper,
        buckets=buckets,
    )
