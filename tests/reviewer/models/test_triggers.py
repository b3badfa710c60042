"""The counter triggers in the database are the code's, on PostgreSQL and SQLite alike: every migrate puts them
right (recomputing the counters), and `manage.py check --database default` says when they differ."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from reviewer.checks import check_counter_triggers
from reviewer.models import DatasetCounter, Image, triggers
from tests.factories import DatasetFactory, ImageFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _break_image_insert_trigger() -> None:
    """Replace the image INSERT trigger with an older, wrong one (it counts nothing), as a database migrated by
    an earlier version of the code would still have it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE OR REPLACE FUNCTION veil_image_ins() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RETURN NULL; END $$;"
            )
        else:
            cursor.execute("DROP TRIGGER veil_image_ins")
            cursor.execute(
                "CREATE TRIGGER veil_image_ins AFTER INSERT ON reviewer_image FOR EACH ROW BEGIN SELECT 1; END"
            )


def _count(dataset, key: str) -> int:
    row = DatasetCounter.objects.filter(dataset=dataset, key=key).first()
    return row.value if row else 0


def test_a_migrated_database_has_exactly_the_codes_triggers():
    assert triggers.drift(connection) == []
    assert check_counter_triggers(databases=["default"]) == []


def test_a_changed_trigger_is_reported_by_the_check_and_put_right_by_migrate():
    dataset = DatasetFactory()
    _break_image_insert_trigger()
    assert triggers.drift(connection) == [
        "function veil_image_ins differs from the code" if connection.vendor == "postgresql" else
        "trigger veil_image_ins differs from the code"
    ]  # fmt: skip
    warnings = check_counter_triggers(databases=["default"])
    assert [w.id for w in warnings] == ["veil.W020"]
    assert "veil_image_ins differs from the code" in warnings[0].msg
    assert "manage.py migrate" in warnings[0].hint

    ImageFactory.create_batch(3, dataset=dataset)  # the broken trigger misses these
    assert _count(dataset, f"status:{Image.Status.NEW}") == 0

    call_command("migrate", verbosity=0)  # nothing to migrate, yet the triggers are the code's again

    assert triggers.drift(connection) == []
    assert _count(dataset, f"status:{Image.Status.NEW}") == 3  # recomputed from the rows
    ImageFactory(dataset=dataset)
    assert _count(dataset, f"status:{Image.Status.NEW}") == 4  # and counting again


def test_a_trigger_the_code_no_longer_writes_is_reported_and_dropped():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION veil_retired() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;"
            )
        else:
            cursor.execute("CREATE TRIGGER veil_retired AFTER INSERT ON reviewer_image BEGIN SELECT 1; END")
    assert any("veil_retired is not in the code" in line for line in triggers.drift(connection))

    assert triggers.ensure_installed(connection) is True

    assert triggers.drift(connection) == []
    assert triggers.ensure_installed(connection) is False  # matching triggers are left alone


def test_a_missing_trigger_is_reported():
    with connection.cursor() as cursor:
        table = " ON reviewer_batch" if connection.vendor == "postgresql" else ""
        cursor.execute(f"DROP TRIGGER veil_batch_ins{table}")
    assert triggers.drift(connection) == ["trigger veil_batch_ins is missing"]
    call_command("migrate", verbosity=0)
    assert triggers.drift(connection) == []
