"""Querysets built and compiled once per process, then run with new values: the reviewer's hot path.

Django builds a queryset (filter, annotate, subqueries) and compiles it to SQL on every call. For the few large
queries behind "next image" and "submit" that was most of the request's CPU (bench/scale.py and bench/load.py
print what each call costs now), and it is the same work every time:
only the ids, the clock and the tokens change. `Prepared` builds the queryset once per shape with marker values,
compiles it, remembers where each marker landed among the SQL's parameters, and from then on runs the same SQL
with the call's values through Django's own compiler and iterables, so rows come back as the queryset would
return them (model instances with their select_related objects and annotations, or values_list tuples). On
PostgreSQL the SQL runs as a prepared statement (VEIL_DB_PREPARED_STATEMENTS, on by default): planning was most
of PostgreSQL's time on these queries.

The queryset stays the one source of truth: what runs is exactly the SQL Django compiled for it (the tests
compare both on the same rows). Values that change the SQL's shape (None, booleans, the length of a list) are
not markers: they are passed as `shape` and key the cache. Markers are ints, strings and aware datetimes; a
value of another type is refused, and a build that drops a marker (its value never reached the SQL) is refused
when it is first compiled, so a query can never silently run with a stale value.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet
from django.db.transaction import TransactionManagementError

# This module leans on private parts of Django's SQL compiler (as_sql, get_converters, select, col_count,
# has_extra_select, the queryset's _iterable_class and _fields), of its PostgreSQL backend (ServerBindingCursor,
# register_tzloader, _prepare_cursor) and of psycopg (prepare_threshold, the cursor's _query). It was verified
# with these releases (major.minor): `manage.py check` refuses others (veil.E021) until tests/reviewer/
# test_prepared.py has passed on them and they are added here.
VERIFIED_WITH = {"django": ("5.2",), "psycopg": ("3.3",)}

# A few shapes per query (after given or not, how many ids excluded): more than this and the oldest goes.
MAX_SHAPES = 32
# Inside every integer column's range (Django drops a comparison with an out-of-range int), and far above the
# ids and counts these queries compare; a marker that went missing anyway is refused when compiled.
_MARKER_INT = 2_147_000_000
_MARKER_TIME = datetime(1901, 2, 3, tzinfo=UTC)


class Prepared:
    """`build(**shape, **values)` returns the queryset; `fetch(shape=..., **values)` returns its rows as a list."""

    def __init__(self, build: Callable[..., QuerySet]):
        self._build = build
        self._local = threading.local()  # a compiler holds its connection: one cache per thread and connection

    def fetch(self, *, shape: dict[str, Any] | None = None, **values) -> list:
        shape = shape or {}
        alias = "default"
        connection = connections[alias]
        kinds = tuple((name, _kind(name, value)) for name, value in sorted(values.items()))
        key = (alias, id(connection), tuple(sorted(shape.items())), kinds)
        cache = self._cache()
        template = cache.get(key)
        if template is None:
            template = _Template(self._build, shape, dict(kinds), connection)
            cache[key] = template
            if len(cache) > MAX_SHAPES:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return template.run(connection, values)

    def _cache(self) -> OrderedDict:
        cache = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = OrderedDict()
        return cache


def _kind(name: str, value) -> str:
    if isinstance(value, bool) or value is None:
        raise TypeError(f"{name}={value!r} changes the SQL's shape: pass it in shape=, not as a value")
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "str"
    if isinstance(value, datetime) and value.tzinfo is not None:
        return "datetime"
    raise TypeError(f"{name}: only ints, strings and aware datetimes are values; got {type(value).__name__}")


class _Template:
    def __init__(self, build, shape: dict, kinds: dict[str, str], connection):
        markers = {}
        for index, (name, kind) in enumerate(sorted(kinds.items())):
            if kind == "int":
                markers[name] = _MARKER_INT + index
            elif kind == "str":
                markers[name] = f"\x1fveil-marker-{index}\x1f"
            else:
                markers[name] = _MARKER_TIME + timedelta(microseconds=index + 1)
        self.kinds = kinds
        self.queryset = build(**shape, **markers)
        compiler = self.queryset.query.get_compiler(using=self.queryset.db)
        self.sql, params = compiler.as_sql()  # also refuses select_for_update outside a transaction
        # What results_iter would work out again on every call (its thread's connection is this one).
        converters = compiler.get_converters([s[0] for s in compiler.select[0 : compiler.col_count]])
        compiler.get_converters = lambda expressions: converters
        self.compiler = compiler
        self.for_update = self.queryset.query.select_for_update
        prepared = {name: _prepare(connection, kinds[name], marker) for name, marker in markers.items()}
        by_value = {value: name for name, value in prepared.items()}
        self.slots: list[tuple[str | None, Any]] = []
        for param in params:
            name = by_value.get(param) if isinstance(param, int | str | datetime) else None
            self.slots.append((name, None if name else param))
        missing = set(markers) - {name for name, _ in self.slots if name}
        if missing:
            raise ValueError(f"the queryset never used {sorted(missing)}: pass what changes its shape in shape=")

    def run(self, connection, values: dict) -> list:
        if self.for_update and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        prepared = {name: _prepare(connection, self.kinds[name], value) for name, value in values.items()}
        params = tuple(prepared[name] if name else constant for name, constant in self.slots)
        compiler = copy.copy(self.compiler)  # the cache is per thread and connection: compiled on this one
        sql = self.sql
        compiler.as_sql = lambda *args, **kwargs: (sql, params)
        if connection.vendor == "postgresql" and settings.VEIL_DB_PREPARED_STATEMENTS:
            compiler.execute_sql = lambda *args, **kwargs: _execute_prepared(compiler, connection, sql, params)
        return list(self.queryset._iterable_class(_CompiledQuerySet(self.queryset, compiler)))


def _execute_prepared(compiler, connection, sql: str, params: tuple) -> list[list[tuple]]:
    """compiler.execute_sql(MULTI) as a PostgreSQL prepared statement: planned once per connection instead of on
    every call (the planner's work was most of PostgreSQL's time on these queries). Through Django's cursor
    wrapper, so the query log, execute_wrappers and error translation see it as any other query."""
    with _preparing_cursor(connection) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if compiler.has_extra_select:
        rows = [row[: compiler.col_count] for row in rows]
    return [rows]


def _preparing_cursor(connection):
    """connection.cursor(), with a psycopg cursor that binds parameters on the server (Django's is client-side,
    which never prepares). Only these cursors consult the threshold set here: every other query stays as it was."""
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, register_tzloader
    from psycopg.pq import Format

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = connection.connection
        if raw.prepare_threshold is None:
            raw.prepare_threshold = 0  # prepare at the first call: these statements run again and again
        cursor = _preparing_cursor_class()(raw)
        cursor.veil_connection = connection
        if connection.timezone != raw.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone:
            register_tzloader(connection.timezone, cursor)  # as Django's own create_cursor does
        return connection._prepare_cursor(cursor)


@functools.cache
def _preparing_cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query, params=None, **kwargs):
            result = super().execute(query, params, **kwargs)
            connection = self.veil_connection
            if self._query is None and connection.queries_logged:
                # psycopg keeps no query text for a prepared execution; Django's query log reads it from here
                # (last_executed_query), so it gets the statement with its values, as for any other query.
                self._query = _LoggedQuery(connection.ops.compose_sql(query, params).encode())
            return result

    return PreparingCursor


class _LoggedQuery:
    def __init__(self, query: bytes):
        self.query = query


def _prepare(connection, kind: str, value):
    if kind == "int":
        return int(value)
    if kind == "str":
        return str(value)
    return connection.ops.adapt_datetimefield_value(value)


class _CompiledQuerySet:
    """What Django's iterables read from a queryset, with the compiler that carries the SQL to run."""

    def __init__(self, queryset: QuerySet, compiler):
        self.db = queryset.db
        self.model = queryset.model
        self._known_related_objects = {}
        self._fields = queryset._fields
        self.query = _CompiledQuery(queryset.query, compiler)


class _CompiledQuery:
    def __init__(self, query, compiler):
        self._query = query
        self._compiler = compiler

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        return self._compiler

    def __getattr__(self, name):  # the iterables read a few attributes of the query (values_select, ...)
        return getattr(self._query, name)
