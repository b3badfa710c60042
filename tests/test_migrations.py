"""One migration history: the models and the migrations agree, and every app (reviewer, crowd) has one line of
migrations (one leaf), so parallel branches cannot leave two heads for a deployment to trip over. crowd builds on
reviewer's tables; reviewer's migrations never depend on crowd's, as its code imports only crowd.interface."""

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
    assert {"reviewer", "crowd"} <= leaves.keys()  # both of Veil's apps have migrations, one line each


@pytest.mark.django_db
def test_the_crowd_app_migrates_after_the_core_it_builds_on_and_never_the_reverse():
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    first = loader.graph.nodes[("crowd", "0001_initial")]
    assert ("reviewer", "0001_initial") in first.dependencies
    assert not any(
        app == "crowd"
        for migration in loader.graph.nodes.values()
        if migration.app_label == "reviewer"
        for app, _name in migration.dependencies
    )
