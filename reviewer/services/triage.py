"""The triage page: a dataset's open flags, strongest evidence first, a keyset page at a time, and their
resolutions, one at a time, with the safety net's existing ones.

An open flag is a region the safety net flags (reviewer/services/safety.py): a candidate of the current
detection run that no current review resolved, on an image marked for a second look; or an open find of the
latest leak check. Evidence strength is score x height in original pixels: a tall region the detector half
believes before a small faint one. The rows come from one UNION ALL query ordered by (strength desc, kind, id),
resumed after a cursor; the safety net's own read (image_flags, a few queries for the page's images) then keeps
only the rows it still flags (a final box may cover a candidate, which the query alone cannot see). So a page
costs a fixed number of queries whatever the size of the dataset. (A read, beside the safety net's other reads
in services: selectors do not import services.)
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, F, FloatField, OuterRef, Q, Value
from django.db.models.functions import Cast
from django.urls import reverse

from reviewer import policies
from reviewer.imaging.geometry import Box
from reviewer.models import Candidate, Dataset, Image, Leak, ReviewCandidate
from reviewer.services.errors import NotFound, ServiceError
from reviewer.services.safety import image_flags, latest_leak_export_id, leak_dismiss, leaks_send_back

FACE, NOT_FACE = "face", "not_face"
PAGE_SIZE = 24
KIND_ORDER = {"candidate": 0, "leak": 1}
COLUMNS = ("flag", "pk", "image_id", "score", "x0", "y0", "x1", "y1", "strength", "image__width",
           "image__height", "image__relative_path", "image__status", "leak_kind")  # fmt: skip


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's strength, kind (0 candidate, 1 leak) and id."""

    strength: float
    kind: int
    pk: int

    def encode(self) -> str:
        return f"{self.strength!r}_{self.kind}_{self.pk}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        try:
            strength, kind, pk = (text or "").split("_")
            return cls(float(strength), int(kind), int(pk))
        except ValueError:
            return None


@dataclass
class Flag:
    kind: str  # "candidate" or "leak" (a leak-check find: residual or possibly missed)
    pk: int
    image_id: int
    image_name: str
    image_width: int
    image_height: int
    score: float
    box: Box
    strength: float
    leak_kind: str = ""

    @property
    def display_url(self) -> str:
        return reverse("image-display", args=[self.image_id])

    def crop(self, margin: float = 0.6) -> list[float]:
        """The viewBox the tile shows: the region with `margin` of its size around it, square, inside the image."""
        b = self.box
        side = max(b.width, b.height) * (1 + 2 * margin)
        cx, cy = (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2
        side = min(side, self.image_width, self.image_height) or side
        x0 = min(max(0.0, cx - side / 2), max(0.0, self.image_width - side))
        y0 = min(max(0.0, cy - side / 2), max(0.0, self.image_height - side))
        return [round(x0, 2), round(y0, 2), round(side, 2), round(side, 2)]


def _after(cursor: Cursor | None, kind: str) -> Q:
    """The rows of one branch (`kind`) that come after the cursor in (strength desc, kind, id) order."""
    if cursor is None:
        return Q()
    mine = KIND_ORDER[kind]
    later = Q(strength__lt=cursor.strength)
    if mine > cursor.kind:
        later |= Q(strength=cursor.strength)
    elif mine == cursor.kind:
        later |= Q(strength=cursor.strength, pk__gt=cursor.pk)
    return later


def _strength():
    return Cast(F("score") * (F("y1") - F("y0")), FloatField())


def triage_flags(*, dataset: Dataset, after: Cursor | None = None, limit: int = PAGE_SIZE):
    """One page of the dataset's open flags, strongest first: (flags, cursor of the next page or None)."""
    branches = []
    run_id = dataset.current_detection_run_id
    if run_id:
        resolved = ReviewCandidate.objects.filter(
            candidate_id=OuterRef("pk"), review__is_current=True, fate__in=ReviewCandidate.RESOLVED
        )
        branches.append(
            Candidate.objects.filter(run_id=run_id, image__needs_second_look=True)
            .filter(~Exists(resolved))
            .annotate(flag=Value("candidate"), strength=_strength(), leak_kind=Value(""))
            .filter(_after(after, "candidate"))
            .order_by()
            .values_list(*COLUMNS)
        )
    export_id = latest_leak_export_id(dataset.pk)
    if export_id:
        branches.append(
            Leak.objects.filter(export_id=export_id, resolution="")
            .annotate(flag=Value("leak"), strength=_strength(), leak_kind=F("kind"))
            .filter(_after(after, "leak"))
            .order_by()
            .values_list(*COLUMNS)
        )
    if not branches:
        return [], None
    query = branches[0].union(*branches[1:], all=True) if len(branches) > 1 else branches[0]
    rows = list(query.order_by("-strength", "flag", "pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = Cursor(rows[-1][8], KIND_ORDER[rows[-1][0]], rows[-1][1]) if more else None
    # Still flagged by the safety net's own read? (A final box may cover a candidate; a leak may be settled.)
    images = {r[2]: _image_stub(r, dataset) for r in rows}
    regions = image_flags(images.values())
    open_refs = {(reg.kind == "candidate", reg.ref) for f in regions.values() for reg in f.regions}
    flags = []
    for kind, pk, image_id, score, x0, y0, x1, y1, strength, width, height, name, _status, leak_kind in rows:
        if (kind == "candidate", pk) not in open_refs:
            continue
        flags.append(Flag(kind=kind, pk=pk, image_id=image_id, image_name=name, image_width=width,
                          image_height=height, score=score, box=Box(x0, y0, x1, y1), strength=strength,
                          leak_kind=leak_kind))  # fmt: skip
    return flags, cursor


def _image_stub(row, dataset: Dataset) -> Image:
    """An Image with what image_flags reads (id, dataset, status), from the row: no query for the images."""
    return Image(pk=row[2], dataset_id=dataset.pk, status=row[12], width=row[9], height=row[10])


def flag_resolve(*, dataset: Dataset, kind: str, pk: int, resolution: str, actor) -> list[int]:
    """Resolve one open flag of `dataset`: "face" sends its image back to review, "not_face" says it is none.

    A leak-check find (kind "leak", of the dataset's latest leak check): face goes through leaks_send_back (the
    image back to its reviewers, a possibly missed face made a candidate they see), not a face through
    leak_dismiss. A candidate (of the current run): face sends its image back with image_send_back, the candidate
    named in the reason (the reviewer finds it selected, safety banner); "not a face" on a candidate is a
    reviewer's word, recorded by their review, so it is refused here with what to do instead.
    Returns the ids of the images sent back (empty for a dismissal): their other flags are no longer open.
    Refuses: a non-admin (Forbidden); a flag that is not an open one of this dataset (NotFound); a resolved leak
    or an image with no review to send back (Conflict, from the services).
    """
    from reviewer.services.approval import image_send_back

    policies.require_admin(actor, "resolve flags", dataset)
    if kind == "leak":
        export_id = latest_leak_export_id(dataset.pk)
        leak = Leak.objects.filter(pk=pk, export_id=export_id).select_related("export").first()
        if leak is None or export_id is None:
            raise NotFound("That find is not one of this dataset's latest leak check.")
        if resolution == NOT_FACE:
            leak_dismiss(leak=leak, actor=actor)
            return []
        result = leaks_send_back(export=leak.export, actor=actor, leak_ids=[leak.pk])
        return result.sent_back
    if kind != "candidate":
        raise ServiceError(f"Unknown kind of flag {kind!r}: candidate or leak.", code="invalid_kind")
    candidate = Candidate.objects.filter(pk=pk, run_id=dataset.current_detection_run_id).select_related("image").first()
    if candidate is None or dataset.current_detection_run_id is None:
        raise NotFound("That candidate is not one of this dataset's current detection run.")
    if resolution == NOT_FACE:
        raise ServiceError(
            "Only a reviewer's review says a candidate is not a face: send the image back (F), or open it (Enter).",
            code="candidate_not_face",
        )
    if ReviewCandidate.objects.filter(
        candidate=candidate, review__is_current=True, fate__in=ReviewCandidate.RESOLVED
    ).exists():
        raise ServiceError("A reviewer resolved that candidate already.", code="resolved")
    box = ", ".join(f"{v:.0f}" for v in candidate.box.as_list())
    image_send_back(
        image=candidate.image,
        actor=actor,
        reason=f"triage: a face at [{box}] (candidate, score {candidate.score:.2f})",
    )
    return [candidate.image_id]
