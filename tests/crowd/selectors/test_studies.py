"""The pay sheet's reads: its cost follows the number of reviewers, not the number of reviews."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crowd.selectors.studies import pay_sheet_rows, qualification_results
from crowd.services.onboarding import invite_accept, invite_token
from crowd.services.qualification import qualification_start
from tests.factories import FACE, InviteFactory, crowd_study, make_review

pytestmark = pytest.mark.django_db


def workers(dataset, n):
    invite = InviteFactory(dataset=dataset, max_uses=50)
    return [invite_accept(token=invite_token(invite), params={"external_id": f"w{i}"}).user for i in range(n)]


@pytest.mark.parametrize("reviewers", [2, 6])
def test_pay_sheet_query_count_does_not_grow_with_reviews(django_assert_num_queries, reviewers):
    dataset, batch, _golds = crowd_study(gold=2, pool_images=4, qualification_size=0)
    for user in workers(dataset, reviewers):
        for item in batch.items.all():
            make_review(item.image, user, FACE, seconds_spent=2.0)
    now = timezone.now()
    with django_assert_num_queries(7):
        rows = pay_sheet_rows(dataset=dataset, start=now - timedelta(hours=1), end=now + timedelta(hours=1))
    assert len(rows) == reviewers
    assert {r["images"] for r in rows} == {4}
    assert {r["external_id"] for r in rows} == {f"w{i}" for i in range(reviewers)}


def test_pay_sheet_leaves_out_work_outside_the_period():
    dataset, batch, _ = crowd_study(qualification_size=0)
    (user,) = workers(dataset, 1)
    make_review(batch.items.first().image, user, FACE)
    now = timezone.now()
    assert pay_sheet_rows(dataset=dataset, start=now + timedelta(minutes=1), end=now + timedelta(days=1)) == []


def test_qualification_results_one_row_per_reviewer():
    dataset, _, _ = crowd_study(gold=3, qualification_size=2)
    people = workers(dataset, 3)
    for user in people:
        qualification_start(reviewer=user, dataset=dataset)
    rows = qualification_results(dataset)
    assert sorted(r.reviewer.username for r in rows) == sorted(u.username for u in people)
    assert all(r.open and r.tries == 1 and not r.passed for r in rows)
