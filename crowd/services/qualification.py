"""The qualification round: a short set of gold images answered one by one, each scored at once.

As in ImageNet's task, a try allows `max_mistakes` mistakes; the next one ends it and the reviewer starts over
on a fresh draw of images, up to `max_tries` tries. A mistake is an image where the reviewer missed a known face
(no box of theirs overlaps it at IoU >= 0.5). Boxes on no known face are shown but are not mistakes: an extra
box costs a little blur, a missed face is a leak, and detectors propose such boxes that a careful reviewer may
keep when in doubt. Answers are not reviews: they change no image's status and no quality figure of the pool.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from crowd.models import CrowdSetup, QualificationAnswer, QualificationAttempt
from crowd.services.studies import qualification_pool
from reviewer import policies
from reviewer.errors import Conflict, Forbidden, NotFound, ServiceError
from reviewer.imaging.consolidate import GOLD_IOU, match_pairs
from reviewer.imaging.geometry import Box, InvalidBox, validate
from reviewer.models import Dataset, Image
from reviewer.services.audit import audit_record

MAX_BOXES = 500
_random = random.SystemRandom()


@dataclass
class Feedback:
    answer: QualificationAnswer
    attempt: QualificationAttempt
    missed: list[Box] = field(default_factory=list)  # known faces the reviewer did not box
    extra: list[Box] = field(default_factory=list)  # the reviewer's boxes on no known face
    matched: list[Box] = field(default_factory=list)


def _setup(dataset: Dataset) -> CrowdSetup:
    setup = CrowdSetup.objects.filter(dataset=dataset).first()
    if setup is None or not setup.qualification_size:
        raise NotFound("This dataset has no qualification round.")
    return setup


def qualification_start(*, reviewer, dataset: Dataset) -> QualificationAttempt:
    """Open the reviewer's next try (or return the one still open) with a fresh random draw of gold images.

    Writes a QualificationAttempt and an audit event. Refuses: NotFound for a dataset without a round or a
    reviewer who may not read its instructions; Conflict once passed; Forbidden when every try is used;
    ServiceError when the dataset has fewer gold images than the round needs.
    """
    if not policies.can_read_instructions(reviewer, dataset) or not policies.is_reviewer(reviewer):
        raise NotFound("No such qualification round.")
    setup = _setup(dataset)
    with transaction.atomic():
        attempts = list(QualificationAttempt.objects.select_for_update().filter(dataset=dataset, reviewer=reviewer))
        for attempt in attempts:
            if attempt.result == QualificationAttempt.Result.PASSED:
                raise Conflict("You passed the qualification round already.", code="passed")
            if attempt.result == QualificationAttempt.Result.OPEN:
                return attempt
        if len(attempts) >= setup.max_tries:
            raise Forbidden(
                f"You used all {setup.max_tries} tries of the qualification round. Thank you for your time.",
                code="no_tries_left",
            )
        pool = list(qualification_pool(dataset).values_list("id", flat=True))
        if len(pool) < setup.qualification_size:
            raise ServiceError(
                "The qualification round is not ready (too few gold images). Please tell the organisers.",
                code="not_enough_gold",
            )
        try:
            with transaction.atomic():
                attempt = QualificationAttempt.objects.create(
                    dataset=dataset,
                    reviewer=reviewer,
                    number=len(attempts) + 1,
                    image_ids=_random.sample(pool, setup.qualification_size),
                )
        except IntegrityError as exc:  # the same reviewer started a try in another window a moment ago
            raise Conflict("A try was just started in another window; reload this page.") from exc
        audit_record(actor=reviewer, verb="qualification.started", obj=attempt, number=attempt.number)
    return attempt


def next_image_id(attempt: QualificationAttempt) -> int | None:
    answered = set(attempt.answers.values_list("image_id", flat=True))
    return next((i for i in attempt.image_ids if i not in answered), None)


def qualification_answer(
    *, reviewer, attempt_id: int, image_id: int, boxes: Sequence[Box], seconds_spent: float = 0.0
) -> Feedback:
    """Score the reviewer's boxes on the attempt's next gold image and say at once what was missed.

    Writes a QualificationAnswer, the attempt's mistakes, and on the last image or the mistake too many the
    attempt's result (passed / failed) with an audit event. Refuses: NotFound for someone else's attempt or an
    image not in it; Conflict for an attempt already over or an answer out of turn (a resubmitted form);
    ServiceError for boxes outside the image, degenerate, or too many.
    """
    attempt = QualificationAttempt.objects.filter(pk=attempt_id, reviewer=reviewer).select_related("dataset").first()
    if attempt is None or not policies.is_reviewer(reviewer):
        raise NotFound("No such qualification try.")
    if image_id not in attempt.image_ids:
        raise NotFound("No such image in this try.")
    image = Image.objects.get(pk=image_id)
    if len(boxes) > MAX_BOXES:
        raise ServiceError(f"At most {MAX_BOXES} boxes on one image.")
    try:
        kept = [validate(b, image.width, image.height) for b in boxes]
    except InvalidBox as exc:
        raise ServiceError(f"Box refused: {exc}.", code="invalid_box") from exc
    if not math.isfinite(seconds_spent) or seconds_spent < 0:
        seconds_spent = 0.0
    setup = _setup(attempt.dataset)
    with transaction.atomic():
        attempt = QualificationAttempt.objects.select_for_update().get(pk=attempt.pk)
        if attempt.result != QualificationAttempt.Result.OPEN:
            raise Conflict("This try is over; start the next one.", code="attempt_over")
        if next_image_id(attempt) != image_id:
            raise Conflict("This image was answered already; go on with the next one.", code="out_of_turn")
        gold = [g.box for g in image.gold_boxes.all()]
        pairs = match_pairs(kept, gold, iou_threshold=GOLD_IOU)
        hit_found, hit_gold = {i for i, _ in pairs}, {j for _, j in pairs}
        feedback_missed = [g for j, g in enumerate(gold) if j not in hit_gold]
        feedback_extra = [b for i, b in enumerate(kept) if i not in hit_found]
        answer = QualificationAnswer.objects.create(
            attempt=attempt,
            image=image,
            boxes=[b.as_list() for b in kept],
            misses=len(feedback_missed),
            extras=len(feedback_extra),
            seconds_spent=min(seconds_spent, 3600.0),
        )
        if answer.is_mistake:
            attempt.mistakes += 1
        if attempt.mistakes > setup.max_mistakes:
            attempt.result = QualificationAttempt.Result.FAILED
        elif next_image_id(attempt) is None:
            attempt.result = QualificationAttempt.Result.PASSED
        if attempt.result != QualificationAttempt.Result.OPEN:
            attempt.finished_at = timezone.now()
            audit_record(actor=reviewer, verb=f"qualification.{attempt.result}", obj=attempt, mistakes=attempt.mistakes)
        attempt.save(update_fields=["mistakes", "result", "finished_at"])
    return Feedback(
        answer=answer,
        attempt=attempt,
        missed=feedback_missed,
        extra=feedback_extra,
        matched=[kept[i] for i in sorted(hit_found)],
    )
