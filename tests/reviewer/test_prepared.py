"""reviewer.prepared: a queryset compiled once runs with each call's values and returns what the queryset returns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviewer.models import BatchItem, Image, Lease, Proposal
from reviewer.prepared import Prepared
from tests.factories import (
    BatchFactory,
    BatchItemFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    ProposalFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _items(*, batch_id, reviewer_id, now, position=None):
    """Items of a batch not leased to someone else, with their image and dataset and a subquery annotation."""
    others = Lease.objects.filter(image=OuterRef("image_id"), expires_at__gt=now).exclude(reviewer_id=reviewer_id)
    in_batch = BatchItem.objects.filter(batch_id=OuterRef("batch_id")).order_by().values("batch_id")
    items = (
        BatchItem.objects.filter(batch_id=batch_id)
        .exclude(image__in=others.values("image_id"))
        .select_related("image", "image__dataset")
        .annotate(total=Subquery(in_batch.annotate(n=Count("pk")).values("n")))
        .order_by("position")
    )
    return items if position is None else items.filter(position=position)


def _two_batches():
    batches = []
    for _ in range(2):
        batch = BatchFactory()
        for position in range(3):
            BatchItemFactory(batch=batch, image=ImageFactory(dataset=batch.dataset), position=position)
        batches.append(batch)
    return batches


def _seen(items):
    return [(i.pk, i.image.pk, i.image.relative_path, i.image.dataset.name, i.total) for i in items]


def test_each_call_runs_with_its_own_values_and_returns_what_the_queryset_returns(django_assert_num_queries):
    first, second = _two_batches()
    reviewer, other = UserFactory(), UserFactory()
    now = timezone.now()
    leased = first.items.order_by("position").first().image
    Lease.objects.create(image=leased, reviewer=other, token="t", acquired_at=now, expires_at=now + timedelta(hours=1))
    prepared = Prepared(_items)

    for batch in (first, second, first):
        expected = _seen(_items(batch_id=batch.pk, reviewer_id=reviewer.pk, now=now))
        with django_assert_num_queries(1):  # the related objects and annotation come in the same row
            got = _seen(prepared.fetch(batch_id=batch.pk, reviewer_id=reviewer.pk, now=now))
        assert got == expected
    assert len(got) == 2
    assert leased.pk not in [image_id for _, image_id, *_ in got]
    # The clock is a value too: once the lease has run out, the same compiled query returns the leased image.
    later = prepared.fetch(batch_id=first.pk, reviewer_id=reviewer.pk, now=now + timedelta(hours=2))
    assert next(i.image_id for i in later) == leased.pk
    # The lease holder sees it: the reviewer's id reached the exclude() too.
    assert len(prepared.fetch(batch_id=first.pk, reviewer_id=other.pk, now=now)) == 3


def test_shape_keys_the_cache_and_values_list_unions_come_back_as_tuples():
    dataset = DatasetFactory()
    run = DetectionRunFactory(dataset=dataset)
    image = ImageFactory(dataset=dataset)
    low, high = ProposalFactory(run=run, image=image, ordinal=1), ProposalFactory(run=run, image=image, ordinal=0)

    def boxes(*, image_id, kind):
        mine = Proposal.objects.filter(image_id=image_id).order_by().annotate(kind=Value(kind))
        return mine.values_list("kind", "id").union(mine.values_list("kind", "id"), all=True).order_by("id")

    prepared = Prepared(boxes)
    assert prepared.fetch(shape={"kind": 0}, image_id=image.pk) == list(boxes(image_id=image.pk, kind=0))
    assert prepared.fetch(shape={"kind": 0}, image_id=image.pk) == [
        (0, low.pk),
        (0, low.pk),
        (0, high.pk),
        (0, high.pk),
    ]
    assert {kind for kind, _ in prepared.fetch(shape={"kind": 7}, image_id=image.pk)} == {7}
    assert prepared.fetch(shape={"kind": 0}, image_id=ImageFactory(dataset=dataset).pk) == []


def test_refuses_values_that_change_the_sql_and_builds_that_drop_a_value():
    prepared = Prepared(lambda *, image_id: Image.objects.filter(pk=image_id))
    with pytest.raises(TypeError, match="shape="):
        prepared.fetch(image_id=None)  # None compiles to IS NULL: a shape, never a value
    ignoring = Prepared(lambda *, image_id, status: Image.objects.filter(pk=image_id))
    with pytest.raises(ValueError, match="never used"):
        ignoring.fetch(image_id=1, status="detected")  # would otherwise run with the first call's status forever


@pytest.mark.django_db(transaction=True)  # outside the test's own transaction, as a view runs
def test_select_for_update_outside_a_transaction_is_refused_on_every_call():
    image = ImageFactory()
    prepared = Prepared(lambda *, image_id: Image.objects.filter(pk=image_id).select_for_update())
    with transaction.atomic():
        assert [i.pk for i in prepared.fetch(image_id=image.pk)] == [image.pk]
    with pytest.raises(TransactionManagementError):
        prepared.fetch(image_id=image.pk)  # compiled already: the check is not the compiler's any more


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_on_postgresql_the_statement_is_prepared_once_and_still_logged_with_its_values(settings):
    image, other = ImageFactory(relative_path="first.jpg"), ImageFactory(relative_path="second.jpg")
    prepared = Prepared(lambda *, image_id: Image.objects.filter(pk=image_id))
    with CaptureQueriesContext(connection) as captured:
        for each in (image, other, image):
            assert [i.relative_path for i in prepared.fetch(image_id=each.pk)] == [each.relative_path]
    assert len([s for s in _prepared_statements() if '"reviewer_image"' in s]) == 1  # planned once, run thrice
    assert all(f"= {each.pk}" in q["sql"] for q, each in zip(captured, (image, other, image), strict=True))

    settings.VEIL_DB_PREPARED_STATEMENTS = False  # for PgBouncer in transaction mode without prepared statements
    before = _prepared_statements()
    unprepared = Prepared(lambda *, path: Image.objects.filter(relative_path=path))
    assert [i.pk for i in unprepared.fetch(path="second.jpg")] == [other.pk]
    assert _prepared_statements() == before
