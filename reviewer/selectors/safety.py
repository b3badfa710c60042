"""Reads of the second look: which images may still show a face nobody boxed, and why.

A region is *flagged* when it may be a face and no final box covers it: a candidate of the current detection
run nobody resolved, a face the latest leak check found that nobody resolved, a face a blind auditor boxed that
the approved boxes miss (a leak-check find in the same place as an unresolved candidate is that candidate's
flag, not a second one). An image is *marked for a second look* (Image.needs_second_look, with short reason
codes and counts in Image.second_look_reasons) when it has been reviewed and holds a flagged region, or has no
box at all while candidates or proposals suggest faces. The approval queue sorts those first.

Covered means a final box (the current approval's boxes, or before approval every current review's kept boxes)
overlaps the region with IoU >= 0.3 or contains its centre: the blur of that box hides it. Resolved means a
current review turned the candidate into a box or dismissed it as not a face (a candidate shown and left open is
not resolved), or an admin dismissed the leak.

A person's "not a face" outlives the run and the export it was said on: a candidate or possibly missed face
overlapping (IoU >= 0.5) a candidate dismissed in any review of the image (current or retired), a proposal any
review deleted, or a leak-check find an admin dismissed, is never flagged again, on any later detection run or
export (not_a_face_regions). A residual face (found inside a blurred box) is not silenced that way: a deleted
proposal redrawn as an added box would otherwise hide a blur that failed. A region a person boxed is a face:
it is hidden by the box it became (covered), and flagged again only if the final boxes stop covering it,
because then a known face would go out unblurred.

Each flagged region carries its *bucket* (what found it and how: a candidate's evidence bucket, `leak_missed`,
`leak_residual`, `audit`); the image's reasons count candidates per bucket, which the release gate weighs by
the measured share of faces among resolved flags of that bucket (reviewer.services.gate).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from reviewer.imaging.geometry import Box, iou
from reviewer.models import (
    ApprovedBox,
    Candidate,
    CandidateDismissal,
    Dataset,
    Export,
    ExportItem,
    Image,
    Leak,
    Proposal,
    ReviewBox,
    ReviewCandidate,
)
from reviewer.selectors.blind_audit import audit_misses

COVER_IOU = 0.3
RESOLVED_IOU = 0.5  # a region this close to one a person called "not a face" is that region
ID_CHUNK = 2000
REVIEWED = (Image.Status.IN_REVIEW, Image.Status.REVIEWED, Image.Status.APPROVED)
KEPT_FATES = ReviewBox.KEPT_FATES


@dataclass
class Region:
    """One flagged region: what found it (candidate, residual, missed, audit), where, how sure."""

    kind: str
    box: Box
    score: float
    ref: int | None = None  # the Candidate or Leak id
    bucket: str = ""  # a candidate's evidence bucket ("" for a candidate of a run before the net measured it)


@dataclass
class ImageFlags:
    image_id: int
    boxes: list[Box] = field(default_factory=list)  # the final boxes (or reviewers' kept boxes)
    regions: list[Region] = field(default_factory=list)  # flagged and not covered
    suggested: int = 0  # candidates + proposals: how many faces the machine suggests

    def reasons(self, *, is_reviewed: bool) -> list[dict]:
        if not is_reviewed:
            return []
        counts: dict[str, int] = defaultdict(int)
        buckets: dict[str, int] = defaultdict(int)
        for region in self.regions:
            counts[REASON_OF_KIND[region.kind]] += 1
            if region.kind == "candidate":
                buckets[region.bucket or "unmeasured"] += 1
        if not self.boxes and self.suggested:
            counts["no_box"] = self.suggested
        out = []
        for code, n in sorted(counts.items()):
            reason = {"code": code, "count": n}
            if code == "candidates" and set(buckets) != {"unmeasured"}:  # candidates the net measured
                reason["buckets"] = dict(sorted(buckets.items()))
            out.append(reason)
        return out


REASON_OF_KIND = {"candidate": "candidates", "residual": "leak_residual", "missed": "leak_missed",
                  "audit": "audit_miss"}  # fmt: skip
REASON_LABELS = {
    "candidates": "unresolved candidate(s)",
    "no_box": "no box, but the detector suggests face(s)",
    "leak_residual": "face(s) left visible in a blurred box",
    "leak_missed": "possibly missed face(s) found by the leak check",
    "audit_miss": "face(s) the blind audit found unboxed",
}


def is_covered(region: Box, boxes: list[Box]) -> bool:
    cx, cy = (region.x0 + region.x1) / 2, (region.y0 + region.y1) / 2
    return any(iou(region, b) >= COVER_IOU or (b.x0 <= cx <= b.x1 and b.y0 <= cy <= b.y1) for b in boxes)


def is_dismissed(region: Box, dismissed: list[Box]) -> bool:
    """A region a person already called "not a face" (IoU >= RESOLVED_IOU with one of `dismissed`)."""
    return any(iou(region, box) >= RESOLVED_IOU for box in dismissed)


def not_a_face_regions(image_ids: Iterable[int]) -> dict[int, list[Box]]:
    """By image id, every region a person said holds no face: candidates dismissed in any review (current or
    retired, of any run), proposals any review deleted, leak-check finds an admin dismissed (any export) and
    candidates an admin dismissed on the triage page. Three queries."""
    ids = list(image_ids)
    out: dict[int, list[Box]] = defaultdict(list)
    if not ids:
        return out
    rows = ReviewCandidate.objects.filter(review__image_id__in=ids, fate=ReviewCandidate.Fate.DISMISSED).values_list(
        "candidate__image_id", "candidate__x0", "candidate__y0", "candidate__x1", "candidate__y1"
    )
    deleted = ReviewBox.objects.filter(review__image_id__in=ids, fate=ReviewBox.Fate.DELETED).values_list(
        "review__image_id", "x0", "y0", "x1", "y1"
    )
    leaks = (
        Leak.objects.filter(image_id__in=ids, resolution="not_a_face")
        .order_by()
        .values_list("image_id", "x0", "y0", "x1", "y1")
        .union(
            CandidateDismissal.objects.filter(image_id__in=ids)
            .order_by()
            .values_list("image_id", "x0", "y0", "x1", "y1"),
            all=True,
        )
    )  # and candidates an admin dismissed on the triage page, in the same query
    for query in (rows, deleted, leaks):
        for image_id, *coords in query:
            out[image_id].append(Box(*coords))
    return out


def open_candidates(images: Iterable[Image], *, boxes: dict[int, list[Box]] | None = None) -> dict[int, list]:
    """By image id, the candidates of the current run that are still open: no current review resolved them,
    nobody called that region "not a face" (not_a_face_regions), and no box of `boxes` (by image id; the final
    boxes when None) covers them. What the export lists beside its one detector pass. A few queries."""
    images = list(images)
    if not images:
        return {}
    ids = [i.pk for i in images]
    boxes = boxes if boxes is not None else final_boxes(images)
    runs = list(
        Dataset.objects.filter(pk__in={i.dataset_id for i in images}, current_detection_run__isnull=False)
        .values_list("current_detection_run_id", flat=True)
    )  # fmt: skip
    resolved = set(
        ReviewCandidate.objects.filter(
            review__image_id__in=ids, review__is_current=True, fate__in=ReviewCandidate.RESOLVED
        ).values_list("candidate_id", flat=True)
    )  # a candidate shown and left open is not resolved
    dismissed = not_a_face_regions(ids)
    out: dict[int, list] = defaultdict(list)
    for c in Candidate.objects.filter(image_id__in=ids, run_id__in=runs).order_by("image_id", "ordinal"):
        if c.pk in resolved or is_covered(c.box, boxes.get(c.image_id, [])):
            continue
        if is_dismissed(c.box, dismissed.get(c.image_id, [])):
            continue
        out[c.image_id].append(c)
    return out


def same_place(a: Box, b: Box) -> bool:
    """Two flagged regions on one face: overlapping with IoU >= 0.3, or either holding the other's centre."""
    return is_covered(a, [b]) or is_covered(b, [a])


def latest_leak_export_id(dataset_id: int) -> int | None:
    """The newest export of the dataset whose leak check ran to the end: its finds are the current ones."""
    return (
        Export.objects.filter(dataset_id=dataset_id, status__in=[Export.Status.DONE, Export.Status.FAILED])
        .filter(options__leak_check=True, images_done__gt=0)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )


def final_boxes(images: list[Image]) -> dict[int, list[Box]]:
    ids = [i.pk for i in images]
    out: dict[int, list[Box]] = {i: [] for i in ids}
    approved = [i.pk for i in images if i.status == Image.Status.APPROVED]
    rows = ApprovedBox.objects.filter(approval__image_id__in=approved, approval__is_current=True).values_list(
        "approval__image_id", "x0", "y0", "x1", "y1"
    )
    for image_id, *coords in rows:
        out[image_id].append(Box(*coords))
    pending = [i.pk for i in images if i.status != Image.Status.APPROVED]
    rows = ReviewBox.objects.filter(
        review__image_id__in=pending, review__is_current=True, fate__in=KEPT_FATES
    ).values_list("review__image_id", "x0", "y0", "x1", "y1")
    for image_id, *coords in rows:
        out[image_id].append(Box(*coords))
    return out


def image_flags(images: Iterable[Image]) -> dict[int, ImageFlags]:
    """The flagged regions of the given images (of one or more datasets), by image id. A few queries per call."""
    images = list(images)
    if not images:
        return {}
    ids = [i.pk for i in images]
    boxes = final_boxes(images)
    flags = {i: ImageFlags(image_id=i, boxes=boxes[i]) for i in ids}
    datasets = {d.pk: d for d in Dataset.objects.filter(pk__in={i.dataset_id for i in images})}
    runs = [d.current_detection_run_id for d in datasets.values() if d.current_detection_run_id]
    resolved = set(
        ReviewCandidate.objects.filter(
            review__image_id__in=ids, review__is_current=True, fate__in=ReviewCandidate.RESOLVED
        ).values_list("candidate_id", flat=True)
    )
    dismissed = not_a_face_regions(ids)
    for c in Candidate.objects.filter(image_id__in=ids, run_id__in=runs).order_by("image_id", "ordinal"):
        flags[c.image_id].suggested += 1
        if c.pk in resolved or is_covered(c.box, flags[c.image_id].boxes):
            continue
        if is_dismissed(c.box, dismissed.get(c.image_id, [])):
            continue  # called "not a face" in an earlier review or on a leak-check find: never flagged again
        flags[c.image_id].regions.append(Region("candidate", c.box, c.score, c.pk, bucket=c.bucket))
    proposals = Proposal.objects.filter(image_id__in=ids, run_id__in=runs).values_list("image_id", flat=True)
    for image_id in proposals:
        flags[image_id].suggested += 1
    exports = [e for e in (latest_leak_export_id(pk) for pk in datasets) if e]
    leaks = list(Leak.objects.filter(export_id__in=exports, image_id__in=ids, resolution="").order_by("image_id", "id"))
    blurred = {
        (export_id, image_id): sorted(map(tuple, boxes))
        for export_id, image_id, boxes in ExportItem.objects.filter(
            export_id__in=exports, image_id__in={leak.image_id for leak in leaks}
        ).values_list("export_id", "image_id", "boxes")
    }
    for leak in leaks:
        target = flags[leak.image_id]
        # A missed face a final box now covers is resolved. A residual one (the blur of that box did not hide
        # it) stays until a person resolves it or the final boxes change: then it was about a blur that no
        # longer applies, and the next export's leak check looks again.
        if leak.kind == Leak.Kind.RESIDUAL:
            now = sorted(tuple(b.rounded().as_list()) for b in target.boxes)
            if blurred.get((leak.export_id, leak.image_id)) not in (None, now):
                continue
        elif is_covered(leak.box, target.boxes) or is_dismissed(leak.box, dismissed.get(leak.image_id, [])):
            continue
        elif any(r.kind == "candidate" and same_place(leak.box, r.box) for r in target.regions):
            # The leak check found again a candidate nobody resolved yet: one place, one flag. Resolving the
            # candidate settles it (a box covers the find; "not a face" dismisses a find at IoU >= 0.5 too, and
            # brings a less overlapping one back for an admin).
            continue
        target.regions.append(Region(leak.kind, leak.box, leak.score, leak.pk, bucket=f"leak_{leak.kind}"))
    for image_id, missed in audit_misses(image_ids=ids).items():
        for box in missed:
            if not is_covered(box, flags[image_id].boxes):
                flags[image_id].regions.append(Region("audit", box, 1.0, bucket="audit"))
    return flags


def reasons_text(reasons: list[dict]) -> str:
    """ "3 unresolved candidate(s), 1 possibly missed face(s) ..." for pages and command output."""
    return ", ".join(f"{r['count']} {REASON_LABELS.get(r['code'], r['code'])}" for r in reasons)


def flagged_regions(*, dataset: Dataset, after_id: int = 0, limit: int | None = None) -> list[tuple[Image, ImageFlags]]:
    """Images of `dataset` (by id, after `after_id`) with at least one flagged region no final box covers, and
    their flags: what `export_annotations --boxes flagged` and the API list. A read, in chunks of ID_CHUNK."""
    out: list[tuple[Image, ImageFlags]] = []
    while limit is None or len(out) < limit:
        images = list(Image.objects.filter(dataset=dataset, pk__gt=after_id).order_by("pk")[:ID_CHUNK])
        if not images:
            break
        flags = image_flags(images)
        out.extend((image, flags[image.pk]) for image in images if flags[image.pk].regions)
        after_id = images[-1].pk
    return out if limit is None else out[:limit]
