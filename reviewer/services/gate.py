"""The release gate: before an export starts, estimate the share of faces it would leave unblurred.

Evidence (reviewer.imaging.leakrate has the formula): gold images (their known faces against the reviewers'
current boxes), the blind audit (the auditor's faces against the approval they audited), and the flags nobody
resolved on approved images (candidates, the latest leak check's finds, audit finds), each weighed by the share
of faces measured among the resolved flags of its evidence bucket in this dataset (flag_resolutions). A face
counts as hidden when a box overlaps it with IoU >= 0.3 or holds its centre (reviewer.services.safety.is_covered:
what the blur of that box hides). The export is refused when
the upper bound passes Dataset.release_bound, unless an admin overrides it with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Q, Value
from django.utils import timezone

from reviewer.errors import Conflict
from reviewer.imaging.geometry import Box
from reviewer.imaging.leakrate import DEFAULT_CONFIDENCE, Evidence, LeakEstimate, faces_needed, leak_estimate
from reviewer.models import (
    ApprovedBox,
    Candidate,
    CandidateDismissal,
    Dataset,
    DatasetCounter,
    GoldBox,
    Image,
    Leak,
    ReviewBox,
    ReviewCandidate,
)
from reviewer.selectors.blind_audit import audit_results
from reviewer.selectors.safety import (
    KEPT_FATES,
    final_boxes,
    is_covered,
    latest_leak_export_id,
    reasons_text,
    same_place,
)
from reviewer.services.audit import audit_record

LOOK_AT_SHOWN = 50
# The gate reads every approved image's boxes and every flagged image: 41 ms at 30 k approvals on PostgreSQL,
# linear in them, so about 2 s at ImageNet's size. Above this many approved images the dataset page shows the
# snapshot the periodic reconcile step writes (every SNAPSHOT_EVERY_SECONDS) or an admin recomputes; an export
# always computes it afresh.
LIVE_GATE_MAX_APPROVED = 20_000
# Reasons whose regions count as faces left unblurred until resolved ("no_box" repeats the candidates).
HOLDING_REASONS = ("candidates", "leak_residual", "leak_missed", "audit_miss")


class GateRefused(Conflict):
    """The estimate is above the dataset's release bound and nobody overrode it."""

    def __init__(self, report: GateReport):
        super().__init__(report.reason, code="gate_refused", gate=report.as_dict())
        self.report = report


@dataclass
class GateReport:
    dataset_id: int
    bound: float
    estimate: LeakEstimate
    look_at: list[dict] = field(default_factory=list)  # {image, path, why}
    flagged_images: int = 0

    @property
    def passes(self) -> bool:
        return self.estimate.upper <= self.bound

    @property
    def more_sampled_faces(self) -> int | None:
        """How many more gold or audited faces, none of them missed, would bring the upper bound to the release
        bound with the open flags as they stand (0 when it passes; None when the open flags alone are over it)."""
        if self.passes:
            return 0
        e = self.estimate
        needed = faces_needed(e.evidence.sampled_misses, self.bound - e.known_upper, e.confidence)
        return None if needed is None else max(0, needed - e.evidence.sampled_faces)

    @property
    def reason(self) -> str:
        e = self.estimate
        if self.passes:
            return (
                f"Release gate: estimated share of faces left unblurred {e.estimate:.2%}, at most {e.upper:.2%} "
                f"({e.confidence:.0%} bound), within the release bound {self.bound:.2%}."
            )
        evidence = e.evidence
        if evidence.sampled_faces == 0:
            why = (
                "no gold image has been reviewed and no audit done, so nothing bounds the faces nobody found "
                "(mark gold images among the batches, or start a blind audit of approved images)"
            )
        else:
            why = (
                f"{evidence.sampled_misses} of {evidence.sampled_faces} known faces on gold and audited images "
                f"are not covered by a box"
            )
            more = self.more_sampled_faces
            if more:
                why += (
                    f" (the bound needs {evidence.sampled_faces + more} sampled faces at this many misses: audit "
                    f"about {more} more faces, or fix the misses and resolve the flags)"
                )
        if evidence.known_leaks:
            unmeasured = [b for b in e.buckets if b.open and not b.measured]
            why += (
                f"; {evidence.known_leaks} find(s) on approved images nobody resolved (candidates, leak-check or "
                f"audit finds: box them or dismiss them as not a face), weighing {e.known_upper:.2%} at their bound"
            )
            if unmeasured:
                why += (
                    " ("
                    + "; ".join(
                        f"{b.open} {b.bucket}: each counted as a face until {b.more_needed} more are resolved"
                        for b in unmeasured
                    )
                    + ")"
                )
        return (
            f"Release gate: up to {e.upper:.2%} of faces may be left unblurred ({e.confidence:.0%} bound; "
            f"estimate {e.estimate:.2%}), above the dataset's bound of {self.bound:.2%}: {why}."
        )

    def as_dict(self) -> dict:
        return {
            "bound": self.bound,
            "passes": self.passes,
            "reason": self.reason,
            **self.estimate.as_dict(),
            "flagged_images": self.flagged_images,
            "more_sampled_faces": self.more_sampled_faces,
            "look_at": self.look_at,
        }


def _gold(dataset: Dataset, look_at: list[dict]) -> tuple[int, int]:
    """Known faces on gold images that have been reviewed, and how many no reviewer's kept box covers: over their
    current reviews, or, for a gold image sent back with nothing flagged on it, over the reviews that send-back
    retired (Image.gold_evidence_reviews), so fixing the one image its misses were seen on does not erase them.
    What to look at lists the gold images whose current reviews still leave a known face without a box."""
    gold: dict[int, list[Box]] = {}
    frozen: dict[int, list[int]] = {}  # image: the reviews its evidence is read from (Image.gold_evidence_reviews)
    for image_id, frozen_ids, *coords in GoldBox.objects.filter(image__dataset=dataset).values_list(
        "image_id", "image__gold_evidence_reviews", "x0", "y0", "x1", "y1"
    ):
        gold.setdefault(image_id, []).append(Box(*coords))
        if frozen_ids is not None:
            frozen[image_id] = frozen_ids
    frozen_reviews = {pk for ids in frozen.values() for pk in ids}
    current: dict[int, list[Box]] = {}
    retired: dict[int, list[Box]] = {}  # the kept boxes of the frozen reviews
    rows = ReviewBox.objects.filter(
        Q(review__is_current=True) | Q(review_id__in=frozen_reviews), review__image_id__in=list(gold),
        fate__in=KEPT_FATES,
    ).values_list("review__image_id", "review_id", "review__is_current", "x0", "y0", "x1", "y1")  # fmt: skip
    for image_id, review_id, is_current, *coords in rows:
        if is_current:
            current.setdefault(image_id, []).append(Box(*coords))
        if review_id in frozen_reviews:
            retired.setdefault(image_id, []).append(Box(*coords))
    reviewed_now = set(
        Image.objects.filter(pk__in=list(gold), reviews__is_current=True).values_list("pk", flat=True).distinct()
    )
    faces = misses = 0
    for image_id in sorted(reviewed_now | set(frozen)):
        known = gold[image_id]
        missed = [g for g in known if not is_covered(g, current.get(image_id, []))]
        faces += len(known)
        if image_id in frozen:
            misses += sum(not is_covered(g, retired.get(image_id, [])) for g in known)
        else:
            misses += len(missed)
        if image_id in reviewed_now and missed:
            look_at.append({"image": image_id, "why": f"gold image: {len(missed)} known face(s) without a box"})
    return faces, misses


def _audit(dataset: Dataset, look_at: list[dict]) -> tuple[int, int]:
    faces = misses = 0
    for image_id, (count, missed) in sorted(audit_results(dataset=dataset).items()):
        faces += count
        misses += len(missed)
        if missed:
            look_at.append({"image": image_id, "why": f"audit: {len(missed)} face(s) the approval missed"})
    return faces, misses


BUCKET_OF_REASON = {"leak_residual": "leak_residual", "leak_missed": "leak_missed", "audit_miss": "audit"}


def open_buckets(reason: dict) -> dict[str, int]:
    """A second-look reason's open flags by bucket: candidates by their evidence bucket (reasons written before
    the net measured candidates have none: `unmeasured`), the others by their code."""
    if reason["code"] == "candidates":
        return reason.get("buckets") or {"unmeasured": reason["count"]}
    return {BUCKET_OF_REASON[reason["code"]]: reason["count"]}


def flag_resolutions(*, dataset: Dataset) -> dict[str, tuple[int, int]]:
    """By bucket, (faces, resolved) among the flags people resolved in `dataset`: candidates a current review
    boxed (faces) or dismissed, by their evidence bucket; possibly missed faces of the latest leak check that
    an admin dismissed, or that a final box now covers (a person boxed the face), unless the find is a stored
    candidate the export listed (measured as that candidate, once). One aggregate and, after a leak check, three
    small reads (its finds, their images' boxes and candidates)."""
    out: dict[str, list[int]] = {}
    rows = (
        ReviewCandidate.objects.filter(
            review__image__dataset=dataset, review__is_current=True, fate__in=ReviewCandidate.RESOLVED
        )  # "left" (shown, not resolved) says nothing about whether it was a face
        .values_list("candidate__bucket", "fate")
        .annotate(n=Count("id"))
        .order_by()
        .union(
            CandidateDismissal.objects.filter(image__dataset=dataset)
            .values_list("bucket", Value(ReviewCandidate.Fate.DISMISSED.value))
            .annotate(n=Count("id"))
            .order_by(),
            all=True,
        )
    )  # with the candidates an admin dismissed on the triage page, in the same query
    for bucket, fate, n in rows:
        tally = out.setdefault(bucket or "unmeasured", [0, 0])
        tally[0] += n if fate == ReviewCandidate.Fate.BOXED else 0
        tally[1] += n
    export_id = latest_leak_export_id(dataset.pk)
    if export_id is not None:
        leaks = list(Leak.objects.filter(export_id=export_id, kind=Leak.Kind.MISSED).select_related("image"))
        boxes = final_boxes(list({leak.image_id: leak.image for leak in leaks}.values()))
        # The export lists open candidates as missed finds too: those are measured as candidates, once.
        stored: dict[int, list] = {}
        for c in Candidate.objects.filter(
            image_id__in={leak.image_id for leak in leaks}, run_id=dataset.current_detection_run_id
        ).only("image_id", "x0", "y0", "x1", "y1"):
            stored.setdefault(c.image_id, []).append(c.box)
        tally = out.setdefault("leak_missed", [0, 0])
        for leak in leaks:
            if any(same_place(leak.box, box) for box in stored.get(leak.image_id, [])):
                continue
            if leak.resolution:
                tally[1] += 1
            elif is_covered(leak.box, boxes.get(leak.image_id, [])):
                tally[0] += 1
                tally[1] += 1
        if tally == [0, 0]:
            del out["leak_missed"]
    return {bucket: (faces, resolved) for bucket, (faces, resolved) in out.items()}


def gate_check(*, dataset: Dataset, confidence: float = DEFAULT_CONFIDENCE) -> GateReport:
    """The gate's estimate for `dataset` as it stands, with what to look at. Reads only; a few queries."""
    look_at: list[dict] = []
    gold_faces, gold_misses = _gold(dataset, look_at)
    audit_faces, audit_misses = _audit(dataset, look_at)
    export_faces = ApprovedBox.objects.filter(
        approval__image__dataset=dataset, approval__is_current=True, approval__image__status=Image.Status.APPROVED
    ).count()
    flagged = Image.objects.filter(dataset=dataset, needs_second_look=True)
    known = 0
    open_flags: dict[str, int] = {}
    seen = {x["image"] for x in look_at}
    rows = flagged.order_by("relative_path").values_list("pk", "status", "second_look_reasons")
    for pk, status, reasons in rows.iterator():
        if status == Image.Status.APPROVED:
            for reason in reasons or []:
                if reason.get("code") not in HOLDING_REASONS:
                    continue
                known += reason["count"]
                for bucket, count in open_buckets(reason).items():
                    open_flags[bucket] = open_flags.get(bucket, 0) + count
        if pk not in seen and len(look_at) < LOOK_AT_SHOWN * 2:
            look_at.append({"image": pk, "why": "second look: " + reasons_text(reasons or [])})
    evidence = Evidence(
        gold_faces, gold_misses, audit_faces, audit_misses, export_faces, known,
        open_flags=open_flags, resolved_flags=flag_resolutions(dataset=dataset),
    )  # fmt: skip
    paths = dict(Image.objects.filter(pk__in=[x["image"] for x in look_at]).values_list("pk", "relative_path"))
    for item in look_at:
        item["path"] = paths.get(item["image"], "")
    return GateReport(
        dataset_id=dataset.pk,
        bound=dataset.release_bound,
        estimate=leak_estimate(evidence, confidence),
        look_at=look_at,
        flagged_images=flagged.count(),
    )


def gate_for_export(*, dataset: Dataset, override_reason: str | None) -> dict:
    """What Export.gate and the manifest record: the report, and the override if one was given.

    Raises GateRefused when the bound is not met and `override_reason` is empty; an override of a gate that
    passes is recorded as given but changes nothing.
    """
    report = gate_check(dataset=dataset)
    reason = (override_reason or "").strip()
    if not report.passes and not reason:
        raise GateRefused(report)
    out = report.as_dict()
    out["override"] = {"reason": reason[:1000]} if reason else None
    return out


def gate_record_override(*, export, user) -> None:
    """Name who overrode the gate of `export` (in Export.gate) and write the audit event. Nothing without one."""
    override = (export.gate or {}).get("override")
    if not override:
        return
    override["by"] = getattr(user, "username", None)
    export.save(update_fields=["gate"])
    audit_record(
        actor=user, verb="export.gate_overridden", obj=export, reason=override["reason"],
        estimate=export.gate["estimate"], upper=export.gate["upper"], bound=export.gate["bound"],
    )  # fmt: skip


def gate_snapshot_write(*, dataset: Dataset, now=None) -> GateReport:
    """Compute the gate for `dataset` and keep its report on the row (Dataset.gate_snapshot) with the time."""
    report = gate_check(dataset=dataset)
    dataset.gate_snapshot, dataset.gate_snapshot_at = report.as_dict(), now or timezone.now()
    Dataset.objects.filter(pk=dataset.pk).update(
        gate_snapshot=dataset.gate_snapshot, gate_snapshot_at=dataset.gate_snapshot_at
    )
    return report


def gate_snapshots_write(*, now=None, older_than_seconds: int) -> int:
    """The reconcile step: a fresh snapshot for every dataset too large for a live gate whose snapshot is older
    than `older_than_seconds` (or missing). Returns how many were written."""
    now = now or timezone.now()
    large = DatasetCounter.objects.filter(key="status:approved", value__gt=LIVE_GATE_MAX_APPROVED).values("dataset_id")
    stale = Dataset.objects.filter(pk__in=large).exclude(
        gate_snapshot_at__gte=now - timedelta(seconds=older_than_seconds)
    )
    written = 0
    for dataset in stale.order_by("pk"):
        gate_snapshot_write(dataset=dataset, now=now)
        written += 1
    return written


def gate_for_page(*, dataset: Dataset, approved: int) -> dict:
    """What the dataset page shows before Export: the report (GateReport.as_dict) with `live` (computed now) or
    `as_of` (the snapshot's time, None when there is none yet). Live up to LIVE_GATE_MAX_APPROVED approved
    images, so the page costs the same at any size."""
    if approved <= LIVE_GATE_MAX_APPROVED:
        return {**gate_check(dataset=dataset).as_dict(), "live": True, "as_of": timezone.now()}
    if dataset.gate_snapshot is None:
        return {"live": False, "as_of": None}
    return {**dataset.gate_snapshot, "live": False, "as_of": dataset.gate_snapshot_at}
