"""The qualification round: instant scoring, a try ends on one mistake too many, tries run out, the pool opens."""

import pytest

from crowd.models import QualificationAttempt
from crowd.services.onboarding import invite_accept, invite_token
from crowd.services.qualification import next_image_id, qualification_answer, qualification_start
from reviewer.errors import Conflict, Forbidden, NotFound, ServiceError
from reviewer.imaging.geometry import Box
from reviewer.models import Assignment, Image
from reviewer.selectors.review import pool_batches_for
from reviewer.services.review import batch_take
from tests.factories import FACE, InstructionExampleFactory, InviteFactory, UserFactory, crowd_study

pytestmark = pytest.mark.django_db

RIGHT = [Box(*FACE)]


def worker_for(dataset):
    return invite_accept(token=invite_token(InviteFactory(dataset=dataset)), params={}).user


def answer(user, attempt, boxes):
    return qualification_answer(reviewer=user, attempt_id=attempt.pk, image_id=next_image_id(attempt), boxes=boxes)


def test_a_try_draws_distinct_gold_images_and_leaves_examples_out():
    dataset, _, golds = crowd_study(gold=3, qualification_size=2)
    InstructionExampleFactory(dataset=dataset, image=golds[0])
    user = worker_for(dataset)
    attempt = qualification_start(reviewer=user, dataset=dataset)
    assert attempt.number == 1
    assert len(set(attempt.image_ids)) == 2
    assert set(attempt.image_ids) == {golds[1].pk, golds[2].pk}
    assert qualification_start(reviewer=user, dataset=dataset) == attempt  # the open try, not a second one


def test_right_answers_pass_and_open_the_pool():
    dataset, batch, _ = crowd_study(gold=2, qualification_size=2, max_mistakes=0)
    user = worker_for(dataset)
    assert pool_batches_for(reviewer=user) == []
    with pytest.raises(Forbidden, match="qualification"):
        batch_take(reviewer=user, batch=batch)
    attempt = qualification_start(reviewer=user, dataset=dataset)
    first = answer(user, attempt, RIGHT)
    assert (first.answer.misses, first.answer.extras, first.attempt.result) == (0, 0, "open")
    # Boxes a few pixels off still match at IoU >= 0.5.
    second = answer(user, first.attempt, [Box(FACE[0] + 4, FACE[1] + 3, FACE[2] + 2, FACE[3])])
    assert second.attempt.result == QualificationAttempt.Result.PASSED
    assert [b.id for b in pool_batches_for(reviewer=user)] == [batch.pk]
    assert batch_take(reviewer=user, batch=batch).status == Assignment.Status.ACTIVE
    # Answers are not reviews: the gold images' status did not move.
    assert set(Image.objects.filter(is_gold=True).values_list("status", flat=True)) == {Image.Status.NEW}


def test_feedback_names_the_missed_face_and_the_extra_box():
    dataset, _, _ = crowd_study(gold=2, qualification_size=2, max_mistakes=1)
    user = worker_for(dataset)
    attempt = qualification_start(reviewer=user, dataset=dataset)
    feedback = answer(user, attempt, [Box(200, 150, 260, 220)])
    assert feedback.missed == [Box(*FACE)]
    assert feedback.extra == [Box(200, 150, 260, 220)]
    assert feedback.answer.is_mistake
    assert feedback.attempt.mistakes == 1
    assert feedback.attempt.result == "open"


def test_one_mistake_too_many_ends_the_try_and_the_next_try_starts_over_until_none_is_left():
    dataset, batch, _ = crowd_study(gold=3, qualification_size=2, max_mistakes=0, max_tries=2)
    user = worker_for(dataset)
    first = qualification_start(reviewer=user, dataset=dataset)
    failed = answer(user, first, [])  # deleted the face's box
    assert failed.attempt.result == QualificationAttempt.Result.FAILED
    assert failed.missed == [Box(*FACE)]
    with pytest.raises(Conflict, match="try is over"):
        qualification_answer(reviewer=user, attempt_id=first.pk, image_id=first.image_ids[1], boxes=RIGHT)
    second = qualification_start(reviewer=user, dataset=dataset)
    assert second.number == 2
    assert second.answers.count() == 0
    answer(user, second, [])
    with pytest.raises(Forbidden, match="all 2 tries"):
        qualification_start(reviewer=user, dataset=dataset)
    with pytest.raises(Forbidden):
        batch_take(reviewer=user, batch=batch)


def test_hostile_answers_are_refused():
    dataset, _, golds = crowd_study(gold=3, qualification_size=2)
    user = worker_for(dataset)
    attempt = qualification_start(reviewer=user, dataset=dataset)
    outside = next(g for g in golds if g.pk not in attempt.image_ids)
    with pytest.raises(NotFound):
        qualification_answer(reviewer=user, attempt_id=attempt.pk, image_id=outside.pk, boxes=RIGHT)
    with pytest.raises(NotFound):  # someone else's try
        qualification_answer(reviewer=UserFactory(), attempt_id=attempt.pk, image_id=attempt.image_ids[0], boxes=RIGHT)
    with pytest.raises(Conflict, match="answered already"):  # out of turn
        qualification_answer(reviewer=user, attempt_id=attempt.pk, image_id=attempt.image_ids[1], boxes=RIGHT)
    with pytest.raises(ServiceError, match="Box refused"):
        answer(user, attempt, [Box(400, 300, 500, 400)])
    assert attempt.answers.count() == 0


def test_a_dataset_without_a_round_or_someone_not_invited_gets_not_found():
    dataset, _, _ = crowd_study(qualification_size=0)
    with pytest.raises(NotFound):
        qualification_start(reviewer=worker_for(dataset), dataset=dataset)
    other, _, _ = crowd_study()
    with pytest.raises(NotFound):
        qualification_start(reviewer=worker_for(dataset), dataset=other)


def test_passing_once_is_enough():
    dataset, _, _ = crowd_study(gold=1, qualification_size=1)
    user = worker_for(dataset)
    answer(user, qualification_start(reviewer=user, dataset=dataset), RIGHT)
    with pytest.raises(Conflict, match="passed"):
        qualification_start(reviewer=user, dataset=dataset)


def test_an_extra_box_is_shown_but_is_not_a_mistake():
    dataset, _, _ = crowd_study(gold=1, qualification_size=1, max_mistakes=0)
    user = worker_for(dataset)
    feedback = answer(user, qualification_start(reviewer=user, dataset=dataset), [*RIGHT, Box(200, 150, 260, 220)])
    assert feedback.extra == [Box(200, 150, 260, 220)]
    assert feedback.answer.extras == 1
    assert not feedback.answer.is_mistake
    assert feedback.attempt.result == QualificationAttempt.Result.PASSED
