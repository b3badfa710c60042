"""PostgreSQL connections the server dropped are replaced at the next request, not turned into errors."""

from __future__ import annotations

import psycopg
import pytest
from django.core.signals import request_started
from django.db import OperationalError, connection
from django.db.utils import InterfaceError

from reviewer.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _terminate_own_backend() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:  # as a DBA or a failover would
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL); CI runs it")


def test_health_checks_are_on_for_a_database_url(postgres):
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert connection.settings_dict["CONN_MAX_AGE"] > 0  # persistent connections are what can go stale


def test_a_terminated_connection_is_replaced_at_the_next_request(postgres):
    UserFactory(username="kept")
    _terminate_own_backend()
    request_started.send(sender=None)  # what every request begins with (close_old_connections)
    assert User.objects.filter(username="kept").exists()


def test_without_health_checks_the_same_request_would_fail(postgres, monkeypatch):
    UserFactory(username="kept")
    connection.ensure_connection()
    monkeypatch.setattr(connection, "health_check_enabled", False)
    _terminate_own_backend()
    request_started.send(sender=None)
    with pytest.raises((OperationalError, InterfaceError)):
        User.objects.filter(username="kept").exists()
    connection.close()


def test_a_prepared_hot_query_survives_a_terminated_connection_too(postgres):
    from reviewer.prepared import Prepared

    by_name = Prepared(lambda *, username: User.objects.filter(username=username))
    UserFactory(username="kept")
    assert [u.username for u in by_name.fetch(username="kept")] == ["kept"]  # prepared on this connection
    _terminate_own_backend()
    request_started.send(sender=None)
    assert [u.username for u in by_name.fetch(username="kept")] == ["kept"]  # prepared again on the new one
