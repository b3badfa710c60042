"""A dataset's crowd setup (instructions, examples, qualification settings) and a crowd worker's work: sending
them to a pool batch, and the completion code when they are done.

A completion code is "V<participation id>-<10 hex of an HMAC>" over the participation, its reviewer and its
invite, keyed by the secret key: unique by its id, and an admin can check one without trusting the database.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from urllib.parse import quote

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from crowd.models import CrowdSetup, InstructionExample, InstructionExampleBox, Participation
from reviewer import policies
from reviewer.errors import Conflict, Forbidden, NotFound, ServiceError
from reviewer.imaging.geometry import Box, InvalidBox, validate
from reviewer.models import Assignment, Batch, Dataset, Image
from reviewer.selectors.review import batch_items_needing_review
from reviewer.services.audit import audit_record
from reviewer.services.review import batch_take

# What only admins may do here, in policies.require_admin\'s "Only admins ...".
_ADMIN_WORK = "change how crowd workers are taken on"

CODE_SALT = "veil.crowd.completion"
_CODE_RE = re.compile(r"^V(\d{1,18})-([0-9A-F]{10})$")
MAX_QUALIFICATION_SIZE = 50


def crowd_setup_for(dataset: Dataset) -> CrowdSetup:
    """The dataset's crowd setup, or an unsaved one with the defaults."""
    return CrowdSetup.objects.filter(dataset=dataset).first() or CrowdSetup(dataset=dataset)


def crowd_setup_save(
    *,
    dataset: Dataset,
    actor,
    instructions: str,
    qualification_size: int,
    max_mistakes: int,
    max_tries: int,
    miss_rate_limit: float,
    completion_url: str = "",
) -> CrowdSetup:
    """Write the dataset's CrowdSetup (created on first save) and an audit event.

    Refuses: a non-admin actor; a qualification round longer than 50 images or longer than the dataset's gold
    images not used as instruction examples (the round would be impossible to start); fewer than 1 try; a
    miss-rate limit outside [0, 1]; a completion URL that is not http(s).
    """
    policies.require_admin(actor, _ADMIN_WORK)
    if not 0 <= qualification_size <= MAX_QUALIFICATION_SIZE:
        raise ServiceError(f"A qualification round has 0 to {MAX_QUALIFICATION_SIZE} images.")
    available = qualification_pool(dataset).count()
    if qualification_size > available:
        raise ServiceError(
            f"A qualification round of {qualification_size} images needs as many gold images; “{dataset.name}” "
            f"has {available} (instruction examples excluded). Mark more images as gold first.",
            code="not_enough_gold",
        )
    if max_tries < 1 or max_mistakes < 0:
        raise ServiceError("Give at least 1 try and 0 or more mistakes allowed.")
    if not 0 <= miss_rate_limit <= 1:
        raise ServiceError("The miss-rate limit is a share between 0 and 1 (0.2 = 20 %).")
    if completion_url and not completion_url.startswith(("https://", "http://")):
        raise ServiceError("The completion URL must start with https://.")
    with transaction.atomic():
        setup, _ = CrowdSetup.objects.select_for_update().get_or_create(dataset=dataset)
        setup.instructions = instructions.strip()
        setup.qualification_size = qualification_size
        setup.max_mistakes = max_mistakes
        setup.max_tries = max_tries
        setup.miss_rate_limit = miss_rate_limit
        setup.completion_url = completion_url.strip()
        setup.save()
        audit_record(
            actor=actor, verb="crowd_setup.saved", obj=setup, qualification_size=qualification_size, tries=max_tries
        )
    return setup


def qualification_pool(dataset: Dataset):
    """Gold images a qualification round may show: those with known boxes, not shown as instruction examples."""
    examples = InstructionExample.objects.filter(dataset=dataset).values("image_id")
    return Image.objects.filter(dataset=dataset, is_gold=True).exclude(pk__in=examples)


def instruction_example_add(
    *, dataset: Dataset, actor, image: Image, caption: str, boxes: Sequence[Box]
) -> InstructionExample:
    """Show `image` with the instructions, with `boxes` as the boxes expected on it (an empty list: no face).

    Writes the example and its boxes, one audit event. Refuses: a non-admin actor, an image of another dataset,
    an image already an example, a gold image used by the qualification round, an empty caption, bad boxes.
    """
    policies.require_admin(actor, _ADMIN_WORK)
    if image.dataset_id != dataset.pk:
        raise NotFound("No such image in this dataset.")
    if not caption.strip():
        raise ServiceError("Say in a sentence what the example shows.")
    try:
        checked = [validate(b, image.width, image.height) for b in boxes]
    except InvalidBox as exc:
        raise ServiceError(f"{image.relative_path}: {exc}", code="invalid_box") from exc
    with transaction.atomic():
        if InstructionExample.objects.filter(dataset=dataset, image=image).exists():
            raise Conflict(f"{image.relative_path} is an example already.", code="exists")
        setup = CrowdSetup.objects.filter(dataset=dataset).first()
        if image.is_gold and setup and setup.qualification_size >= qualification_pool(dataset).count():
            raise Conflict(
                f"{image.relative_path} is one of the gold images the qualification round needs: showing its "
                "answer would give the round away.",
                code="needed_by_qualification",
            )
        position = InstructionExample.objects.filter(dataset=dataset).count()
        example = InstructionExample.objects.create(
            dataset=dataset, image=image, caption=caption.strip(), position=position
        )
        InstructionExampleBox.objects.bulk_create(
            [InstructionExampleBox(example=example, x0=b.x0, y0=b.y0, x1=b.x1, y1=b.y1) for b in checked]
        )
        audit_record(actor=actor, verb="instruction_example.added", obj=example, image=image.pk, boxes=len(checked))
    return example


def instruction_example_remove(*, example: InstructionExample, actor) -> None:
    """Delete an example and its boxes, with an audit event. Refuses a non-admin actor."""
    policies.require_admin(actor, _ADMIN_WORK)
    with transaction.atomic():
        audit_record(actor=actor, verb="instruction_example.removed", obj=example, image=example.image_id)
        example.delete()


# --- the work and its completion ----------------------------------------------------------------------------


def participation_begin_work(*, participation: Participation) -> Assignment:
    """Send the worker to a pool batch of the invite's dataset: the one they are on while it has work for them,
    else the first pool batch with images that need them (taken through batch_take). Writes the assignment
    and Participation.batch.

    Refuses: Forbidden before the worker passed the dataset's qualification round; Conflict once the work is
    complete; NotFound when no pool batch has work left.
    """
    reviewer = participation.reviewer
    dataset = participation.invite.dataset
    if participation.completed_at is not None:
        raise Conflict("Your work here is complete; your completion code is below.", code="complete")
    if not policies.has_qualified(reviewer, dataset):
        raise Forbidden("Pass the qualification round first.", code="not_qualified")
    candidates: list[Batch] = []
    if participation.batch_id:
        candidates.append(participation.batch)
    candidates += list(Batch.objects.filter(dataset=dataset, is_pool=True).order_by("id"))
    for batch in candidates:
        if not policies.can_take_pool_batch(reviewer, batch):
            continue
        held = Assignment.objects.filter(batch=batch, reviewer=reviewer).first()
        if held is not None and held.status != Assignment.Status.ACTIVE:
            continue
        if not batch_items_needing_review(reviewer=reviewer, batch=batch).exists():
            continue
        with transaction.atomic():
            assignment = batch_take(reviewer=reviewer, batch=batch)
            if participation.batch_id != batch.pk:
                participation.batch = batch
                participation.save(update_fields=["batch"])
        return assignment
    raise NotFound("There is no work left in this study right now. Thank you; please come back later.")


def participation_images_done(participation: Participation) -> int:
    if participation.batch_id is None:
        return 0
    return participation.reviewer.reviews.filter(is_current=True, assignment__batch_id=participation.batch_id).count()


def participation_is_finished(participation: Participation) -> bool:
    """Done when the worker reviewed the images the invite asked for, or nothing in their batch needs them."""
    if participation.batch_id is None:
        return False
    done = participation_images_done(participation)
    wanted = participation.invite.images_per_worker
    if wanted is not None and done >= wanted:
        return True
    held = Assignment.objects.filter(batch_id=participation.batch_id, reviewer=participation.reviewer).first()
    if held is None or held.status != Assignment.Status.ACTIVE:
        return done > 0
    return done > 0 and not batch_items_needing_review(reviewer=participation.reviewer, batch=held.batch).exists()


def completion_code(participation: Participation) -> str:
    value = f"{participation.pk}:{participation.reviewer_id}:{participation.invite_id}"
    mac = salted_hmac(CODE_SALT, value, algorithm="sha256").hexdigest()[:10].upper()
    return f"V{participation.pk}-{mac}"


def completion_code_check(code: str) -> Participation | None:
    """The participation a completion code was issued for, or None for a code Veil did not issue."""
    match = _CODE_RE.match((code or "").strip().upper())
    if not match:
        return None
    participation = (
        Participation.objects.select_related("reviewer", "invite", "invite__dataset")
        .filter(pk=int(match.group(1)))
        .first()
    )
    if participation is None or participation.completed_at is None:
        return None
    if not hmac.compare_digest(completion_code(participation), f"V{match.group(1)}-{match.group(2)}"):
        return None
    return participation


def participation_complete(*, participation: Participation) -> Participation:
    """Issue the completion code once the work is finished (idempotent: a second call returns the same code).

    Writes completed_at and completion_code, marks the batch's assignment done, one audit event. Refuses
    (Conflict) while images the worker was asked for remain.
    """
    with transaction.atomic():
        participation = (
            Participation.objects.select_for_update(of=("self",))
            .select_related("invite", "reviewer", "batch")
            .get(pk=participation.pk)
        )
        if participation.completed_at is not None:
            return participation
        if not participation_is_finished(participation):
            raise Conflict("Some images still need you: finish them first, then come back here.", code="unfinished")
        participation.completed_at = timezone.now()
        participation.completion_code = completion_code(participation)
        participation.save(update_fields=["completed_at", "completion_code"])
        Assignment.objects.filter(
            batch_id=participation.batch_id, reviewer=participation.reviewer, status=Assignment.Status.ACTIVE
        ).update(status=Assignment.Status.DONE)
        audit_record(
            actor=participation.reviewer,
            verb="participation.completed",
            obj=participation,
            images=participation_images_done(participation),
        )
    return participation


def completion_redirect_url(participation: Participation) -> str:
    """The platform's completion URL with {code} and {external_id} filled in; '' when none is configured."""
    setup = CrowdSetup.objects.filter(dataset_id=participation.invite.dataset_id).first()
    if not setup or not setup.completion_url:
        return ""
    worker = getattr(participation.reviewer, "crowd_worker", None)
    return setup.completion_url.replace("{code}", quote(participation.completion_code, safe="")).replace(
        "{external_id}", quote(worker.external_id if worker else "", safe="")
    )
