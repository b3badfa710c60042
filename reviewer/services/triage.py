"""Resolving the triage page's flags, one at a time, with the safety net's existing resolutions."""

from __future__ import annotations

from django.db import transaction

from reviewer import policies
from reviewer.errors import Conflict, NotFound, ServiceError
from reviewer.models import Candidate, CandidateDismissal, Dataset, Leak, ReviewCandidate
from reviewer.selectors.safety import latest_leak_export_id
from reviewer.services.audit import audit_record
from reviewer.services.leaks import leak_dismiss, leaks_send_back
from reviewer.services.safety import second_look_update

FACE, NOT_FACE = "face", "not_face"


def flag_resolve(*, dataset: Dataset, kind: str, pk: int, resolution: str, actor) -> list[int]:
    """Resolve one open flag of `dataset`: "face" sends its image back to review, "not_face" says it is none.

    A leak-check find (kind "leak", of the dataset's latest leak check): face goes through leaks_send_back (the
    image back to its reviewers, a possibly missed face made a candidate they see), not a face through
    leak_dismiss. A candidate (of the current run): face sends its image back with image_send_back, the candidate
    named in the reason (the reviewer finds it selected, safety banner); not a face writes a CandidateDismissal
    (who, when, the region and its bucket: never flagged again, and counted by the gate among its bucket's
    resolved flags that were not faces), an audit event and the image's second-look mark.
    Returns the ids of the images sent back (empty for a dismissal): their other flags are no longer open.
    Refuses: a non-admin (Forbidden); a flag that is not an open one of this dataset (NotFound); a resolved leak
    or candidate, or an image with no review to send back (Conflict).
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
    if ReviewCandidate.objects.filter(
        candidate=candidate, review__is_current=True, fate__in=ReviewCandidate.RESOLVED
    ).exists():
        raise Conflict("A reviewer resolved that candidate already.", code="resolved")
    if resolution == NOT_FACE:
        with transaction.atomic():
            _dismissal, created = CandidateDismissal.objects.get_or_create(
                candidate=candidate,
                defaults={"image_id": candidate.image_id, "bucket": candidate.bucket, "dismissed_by": actor,
                          **dict(zip(("x0", "y0", "x1", "y1"), candidate.box.as_list(), strict=True))},
            )  # fmt: skip
            if not created:
                raise Conflict("That candidate was already marked as not a face.", code="resolved")
            audit_record(actor=actor, verb="candidate.dismissed", obj=candidate.image, image=candidate.image_id,
                         candidate=candidate.pk, bucket=candidate.bucket)  # fmt: skip
            second_look_update(image_ids=[candidate.image_id])
        return []
    box = ", ".join(f"{v:.0f}" for v in candidate.box.as_list())
    image_send_back(
        image=candidate.image,
        actor=actor,
        reason=f"triage: a face at [{box}] (candidate, score {candidate.score:.2f})",
    )
    return [candidate.image_id]
