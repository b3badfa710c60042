"""The crowd reads the core makes (crowd/interface.py): who came by an invite, the qualification round, the
images an invite asked for, and the gold images a reviewer has seen in a round."""

import pytest

from crowd import interface
from crowd.models import CrowdSetup
from crowd.services.onboarding import invite_accept, invite_token
from crowd.services.qualification import qualification_answer, qualification_start
from crowd.services.studies import participation_begin_work
from reviewer.imaging.geometry import Box
from reviewer.models import Assignment, BatchItem
from tests.factories import FACE, DatasetFactory, InviteFactory, UserFactory, crowd_study

pytestmark = pytest.mark.django_db


def join(dataset, pid="p1", **invite):
    joined = invite_accept(token=invite_token(InviteFactory(dataset=dataset, **invite)), params={"PROLIFIC_PID": pid})
    return joined.participation


def test_an_invite_makes_a_crowd_account_a_password_reviewer_has_none():
    dataset, _, _ = crowd_study(qualification_size=0)
    worker = join(dataset).reviewer
    assert interface.has_crowd_account(worker)
    assert interface.is_invited_to(worker, dataset_id=dataset.pk)
    assert not interface.is_invited_to(worker, dataset_id=DatasetFactory().pk)
    assert not interface.has_crowd_account(UserFactory())


def test_qualification_is_required_only_by_a_setup_with_a_round_and_passed_only_by_a_passed_try():
    dataset, _, _ = crowd_study(qualification_size=2)
    assert interface.qualification_required(dataset_id=dataset.pk)
    worker = join(dataset).reviewer
    attempt = qualification_start(reviewer=worker, dataset=dataset)
    assert not interface.has_passed_qualification(worker, dataset_id=dataset.pk)  # an open try is not a pass
    for image_id in attempt.image_ids:
        qualification_answer(reviewer=worker, attempt_id=attempt.pk, image_id=image_id, boxes=[Box(*FACE)])
    assert interface.has_passed_qualification(worker, dataset_id=dataset.pk)
    assert not interface.has_passed_qualification(UserFactory(), dataset_id=dataset.pk)
    CrowdSetup.objects.filter(dataset=dataset).update(qualification_size=0)
    assert not interface.qualification_required(dataset_id=dataset.pk)
    assert not interface.qualification_required(dataset_id=DatasetFactory().pk)  # no crowd setup at all


def test_the_invite_limit_is_read_alone_and_inside_a_query_over_assignments():
    dataset, batch, _ = crowd_study(qualification_size=0)
    participation = join(dataset, images_per_worker=2)
    participation_begin_work(participation=participation)
    worker = participation.reviewer
    assert interface.invite_image_limit(worker, batch_id=batch.pk) == 2
    assert interface.invite_image_limit(UserFactory(), batch_id=batch.pk) is None
    limits = Assignment.objects.filter(batch=batch).annotate(
        limit=interface.invite_image_limit_subquery(reviewer_id=worker.pk)
    )
    assert [a.limit for a in limits] == [2]


def test_a_gold_image_answered_in_a_round_is_marked_seen_for_that_reviewer_only():
    dataset, batch, golds = crowd_study(qualification_size=2)
    worker = join(dataset).reviewer
    attempt = qualification_start(reviewer=worker, dataset=dataset)
    first = attempt.image_ids[0]
    qualification_answer(reviewer=worker, attempt_id=attempt.pk, image_id=first, boxes=[], seconds_spent=1.0)
    for n, image in enumerate(golds):
        BatchItem.objects.create(batch=batch, image=image, position=100 + n)
    items = BatchItem.objects.filter(batch=batch, image__is_gold=True)
    seen = items.filter(interface.answered_in_qualification(reviewer_id=worker.pk))
    assert [item.image_id for item in seen] == [first]
    assert not items.filter(interface.answered_in_qualification(reviewer_id=UserFactory().pk)).exists()
