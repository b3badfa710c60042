"""One migration history: the models and the migrations agree, and every app has one line of migrations (one
leaf), so parallel branches cannot leave two heads for a deployment to trip over."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader


@pytest.mark.django_db
def test_the_models_need_no_migration_that_is_not_written():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:
        pytest.fail(f"the models have changes with no migration (run manage.py makemigrations):\n{out.getvalue()}")
        raise AssertionError from exc


@pytest.mark.django_db
def test_every_app_has_one_leaf_migration():
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    leaves: dict[str, list[str]] = {}
    for app, name in loader.graph.leaf_nodes():
        leaves.setdefault(app, []).append(name)
    assert {app: names for app, names in leaves.items() if len(names) > 1} == {}
