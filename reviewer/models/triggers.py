"""Triggers that keep the counters and summary columns (DatasetCounter, Batch.size and images_done, the
Assignment review sums, DetectionRun counts). Installed on every migrate (reviewer/apps.py: SQLite takes them off
and puts them back; PostgreSQL reinstalls them when they differ from this code), checked by `manage.py check
--database default` (veil.W020).

PostgreSQL: statement-level triggers over transition tables, so a bulk write (an import, approving 70 k images,
cutting 7,500 batches) costs one aggregate per statement, and counters are upserted in key order so concurrent
writers lock them in the same order. SQLite (the embedded default): row-level triggers.
"""

import re

from django.db import transaction

DONE = "('reviewed', 'approved')"

# --- PostgreSQL ----------------------------------------------------------------------------------------------

_PG_IMAGE_DELTAS = {
    "new": ("new_rows", 1),
    "old": ("old_rows", -1),
}


def _pg_image_terms(side: str) -> list[str]:
    table, sign = _PG_IMAGE_DELTAS[side]
    return [
        f"SELECT dataset_id, 'status:' || status AS key, {sign} AS delta FROM {table}",
        f"SELECT dataset_id, 'gold', {sign} FROM {table} WHERE is_gold",
        f"SELECT dataset_id, 'unbatched', {sign} FROM {table} WHERE NOT is_gold AND NOT is_batched",
    ]


def _pg_counter_upsert(terms: list[str]) -> str:
    union = "\n      UNION ALL ".join(terms)
    return f"""
    INSERT INTO reviewer_datasetcounter (dataset_id, key, value)
    SELECT dataset_id, key, sum(delta) FROM (
      {union}
    ) d GROUP BY dataset_id, key HAVING sum(delta) <> 0 ORDER BY dataset_id, key
    ON CONFLICT (dataset_id, key) DO UPDATE SET value = reviewer_datasetcounter.value + EXCLUDED.value;"""


def _pg_source(body: str) -> str:
    """A trigger function's source as PostgreSQL keeps it (pg_proc.prosrc): what the drift check compares."""
    return f"\nBEGIN{body}\n  RETURN NULL;\nEND "


def _pg_function(name: str, body: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $${_pg_source(body)}$$;"""


def _pg_review_terms(table: str, sign: int) -> str:
    # A current review counts for every assignment of its reviewer whose batch holds its image.
    return f"""
      SELECT reviewer_id, image_id,
             {sign} AS reviewed,
             {sign} * round(seconds_spent * 1000)::bigint AS seconds_ms,
             {sign} * is_unsure::int AS unsure,
             {sign} * (gold_misses IS NOT NULL)::int AS gold_reviews,
             {sign} * CASE WHEN gold_misses IS NULL THEN 0
                      ELSE (SELECT count(*) FROM reviewer_goldbox g WHERE g.image_id = r.image_id) END AS gold_boxes,
             {sign} * coalesce(gold_misses, 0) AS gold_misses,
             {sign} * coalesce(gold_extras, 0) AS gold_extras
      FROM {table} r WHERE is_current"""


def _pg_review_update(terms: list[str]) -> str:
    union = "\n      UNION ALL ".join(terms)
    return f"""
    UPDATE reviewer_assignment a SET
      reviewed = a.reviewed + d.reviewed, seconds_ms = a.seconds_ms + d.seconds_ms, unsure = a.unsure + d.unsure,
      gold_reviews = a.gold_reviews + d.gold_reviews, gold_boxes = a.gold_boxes + d.gold_boxes,
      gold_misses = a.gold_misses + d.gold_misses, gold_extras = a.gold_extras + d.gold_extras
    FROM (
      SELECT x.id AS assignment_id, sum(t.reviewed) AS reviewed, sum(t.seconds_ms) AS seconds_ms,
             sum(t.unsure) AS unsure, sum(t.gold_reviews) AS gold_reviews, sum(t.gold_boxes) AS gold_boxes,
             sum(t.gold_misses) AS gold_misses, sum(t.gold_extras) AS gold_extras
      FROM ({union}) t
      JOIN reviewer_batchitem bi ON bi.image_id = t.image_id
      JOIN reviewer_assignment x ON x.batch_id = bi.batch_id AND x.reviewer_id = t.reviewer_id
      GROUP BY x.id ORDER BY x.id
    ) d WHERE a.id = d.assignment_id;"""


def _pg_result_update(terms: list[str]) -> str:
    union = "\n      UNION ALL ".join(terms)
    return f"""
    UPDATE reviewer_detectionrun r SET
      results_done = r.results_done + d.done, results_failed = r.results_failed + d.failed,
      faces_found = r.faces_found + d.faces
    FROM (
      SELECT run_id, sum(done) AS done, sum(failed) AS failed, sum(faces) AS faces FROM ({union}) t GROUP BY run_id
    ) d WHERE r.id = d.run_id;"""


def _pg_result_terms(table: str, sign: int) -> str:
    return (
        f"SELECT run_id, {sign} * (status = 'done')::int AS done, {sign} * (status = 'failed')::int AS failed, "
        f"{sign} * face_count::bigint AS faces FROM {table}"
    )


def _pg_batch_items(table: str, sign: int) -> str:
    flag = "true" if sign > 0 else "EXISTS (SELECT 1 FROM reviewer_batchitem o WHERE o.image_id = i.id)"
    return f"""
    UPDATE reviewer_batch b SET size = b.size + d.n, images_done = b.images_done + d.done
    FROM (
      SELECT t.batch_id, {sign} * count(*) AS n, {sign} * count(*) FILTER (WHERE i.status IN {DONE}) AS done
      FROM {table} t LEFT JOIN reviewer_image i ON i.id = t.image_id GROUP BY t.batch_id ORDER BY t.batch_id
    ) d WHERE b.id = d.batch_id;
    UPDATE reviewer_image i SET is_batched = {flag}
    WHERE i.id IN (SELECT image_id FROM {table}) AND i.is_batched IS DISTINCT FROM {flag};"""


_PG_IMAGE_DONE = f"""
    UPDATE reviewer_batch b SET images_done = b.images_done + d.delta
    FROM (
      SELECT bi.batch_id, sum((n.status IN {DONE})::int - (o.status IN {DONE})::int) AS delta
      FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN reviewer_batchitem bi ON bi.image_id = n.id
      WHERE (o.status IN {DONE}) <> (n.status IN {DONE})
      GROUP BY bi.batch_id ORDER BY bi.batch_id
    ) d WHERE b.id = d.batch_id;"""


def _pg_trigger(table: str, name: str, event: str, function: str) -> str:
    refs = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows"}.get(
        event, "OLD TABLE AS old_rows NEW TABLE AS new_rows"
    )
    return f"""
DROP TRIGGER IF EXISTS {name} ON {table};
CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {refs}
  FOR EACH STATEMENT EXECUTE FUNCTION {function}();"""


LIVE = "('active', 'done')"


def _pg_batch_terms(table: str, sign: int) -> list[str]:
    return [
        f"SELECT dataset_id, 'batches' AS key, {sign} AS delta FROM {table}",
        f"SELECT dataset_id, 'pool_batches', {sign} FROM {table} WHERE is_pool",
    ]


def _pg_assignment_terms(table: str, sign: int) -> list[str]:
    return [
        f"SELECT b.dataset_id, 'assignments' AS key, {sign} AS delta FROM {table} t "
        f"JOIN reviewer_batch b ON b.id = t.batch_id WHERE t.status IN {LIVE}"
    ]


def _pg_functions() -> list[tuple[str, str]]:
    """(name, body) of every counter trigger function."""
    return [
        ("veil_batch_ins", _pg_counter_upsert(_pg_batch_terms("new_rows", 1))),
        ("veil_batch_del", _pg_counter_upsert(_pg_batch_terms("old_rows", -1))),
        ("veil_batch_upd", _pg_counter_upsert(_pg_batch_terms("old_rows", -1) + _pg_batch_terms("new_rows", 1))),
        ("veil_assignment_ins", _pg_counter_upsert(_pg_assignment_terms("new_rows", 1))),
        ("veil_assignment_del", _pg_counter_upsert(_pg_assignment_terms("old_rows", -1))),
        (
            "veil_assignment_upd",
            _pg_counter_upsert(_pg_assignment_terms("old_rows", -1) + _pg_assignment_terms("new_rows", 1)),
        ),
        ("veil_image_ins", _pg_counter_upsert(_pg_image_terms("new"))),
        ("veil_image_del", _pg_counter_upsert(_pg_image_terms("old"))),
        ("veil_image_upd", _pg_counter_upsert(_pg_image_terms("old") + _pg_image_terms("new")) + _PG_IMAGE_DONE),
        ("veil_batchitem_ins", _pg_batch_items("new_rows", 1)),
        ("veil_batchitem_del", _pg_batch_items("old_rows", -1)),
        ("veil_review_ins", _pg_review_update([_pg_review_terms("new_rows", 1)])),
        ("veil_review_del", _pg_review_update([_pg_review_terms("old_rows", -1)])),
        (
            "veil_review_upd",
            _pg_review_update([_pg_review_terms("old_rows", -1), _pg_review_terms("new_rows", 1)]),
        ),
        ("veil_result_ins", _pg_result_update([_pg_result_terms("new_rows", 1)])),
        ("veil_result_del", _pg_result_update([_pg_result_terms("old_rows", -1)])),
        (
            "veil_result_upd",
            _pg_result_update([_pg_result_terms("old_rows", -1), _pg_result_terms("new_rows", 1)]),
        ),
        (
            "veil_dataset_del",
            "\n    DELETE FROM reviewer_datasetcounter WHERE dataset_id IN (SELECT id FROM old_rows);",
        ),
    ]


def _pg_triggers() -> list[tuple[str, str, str]]:
    """(table, trigger name, event) of every counter trigger; each runs the function of its name."""
    specs = []
    for table, short in (
        ("reviewer_batch", "batch"),
        ("reviewer_assignment", "assignment"),
        ("reviewer_image", "image"),
        ("reviewer_batchitem", "batchitem"),
        ("reviewer_review", "review"),
        ("reviewer_detectionresult", "result"),
    ):
        specs.append((table, f"veil_{short}_ins", "INSERT"))
        specs.append((table, f"veil_{short}_del", "DELETE"))
        if short != "batchitem":
            specs.append((table, f"veil_{short}_upd", "UPDATE"))
    specs.append(("reviewer_dataset", "veil_dataset_del", "DELETE"))
    return specs


def postgresql_sql() -> str:
    parts = [_pg_function(name, body) for name, body in _pg_functions()]
    parts += [_pg_trigger(table, name, event, name) for table, name, event in _pg_triggers()]
    return "\n".join(parts)


POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS veil_batch_ins ON reviewer_batch; DROP TRIGGER IF EXISTS veil_batch_del ON reviewer_batch;
DROP TRIGGER IF EXISTS veil_batch_upd ON reviewer_batch;
DROP TRIGGER IF EXISTS veil_assignment_ins ON reviewer_assignment;
DROP TRIGGER IF EXISTS veil_assignment_del ON reviewer_assignment;
DROP TRIGGER IF EXISTS veil_assignment_upd ON reviewer_assignment;
DROP TRIGGER IF EXISTS veil_image_ins ON reviewer_image; DROP TRIGGER IF EXISTS veil_image_del ON reviewer_image;
DROP TRIGGER IF EXISTS veil_image_upd ON reviewer_image;
DROP TRIGGER IF EXISTS veil_batchitem_ins ON reviewer_batchitem;
DROP TRIGGER IF EXISTS veil_batchitem_del ON reviewer_batchitem;
DROP TRIGGER IF EXISTS veil_review_ins ON reviewer_review; DROP TRIGGER IF EXISTS veil_review_del ON reviewer_review;
DROP TRIGGER IF EXISTS veil_review_upd ON reviewer_review;
DROP TRIGGER IF EXISTS veil_result_ins ON reviewer_detectionresult;
DROP TRIGGER IF EXISTS veil_result_del ON reviewer_detectionresult;
DROP TRIGGER IF EXISTS veil_result_upd ON reviewer_detectionresult;
DROP TRIGGER IF EXISTS veil_dataset_del ON reviewer_dataset;
"""

# --- SQLite --------------------------------------------------------------------------------------------------


def _sq_count(row: str, key: str, delta: int, condition: str = "1") -> str:
    return (
        f"INSERT INTO reviewer_datasetcounter (dataset_id, key, value) SELECT {row}.dataset_id, {key}, {delta} "
        f"WHERE {condition} ON CONFLICT (dataset_id, key) DO UPDATE SET value = value + excluded.value;"
    )


def _sq_image(row: str, sign: int) -> list[str]:
    return [
        _sq_count(row, f"'status:' || {row}.status", sign),
        _sq_count(row, "'gold'", sign, f"{row}.is_gold"),
        _sq_count(row, "'unbatched'", sign, f"NOT {row}.is_gold AND NOT {row}.is_batched"),
    ]


def _sq_review(row: str, sign: int) -> str:
    gold_boxes = (
        f"CASE WHEN {row}.gold_misses IS NULL THEN 0 ELSE "
        f"(SELECT count(*) FROM reviewer_goldbox g WHERE g.image_id = {row}.image_id) END"
    )
    return (
        f"UPDATE reviewer_assignment SET reviewed = reviewed + {sign}, "
        f"seconds_ms = seconds_ms + {sign} * CAST(round({row}.seconds_spent * 1000) AS INTEGER), "
        f"unsure = unsure + {sign} * {row}.is_unsure, "
        f"gold_reviews = gold_reviews + {sign} * ({row}.gold_misses IS NOT NULL), "
        f"gold_boxes = gold_boxes + {sign} * {gold_boxes}, "
        f"gold_misses = gold_misses + {sign} * coalesce({row}.gold_misses, 0), "
        f"gold_extras = gold_extras + {sign} * coalesce({row}.gold_extras, 0) "
        f"WHERE reviewer_id = {row}.reviewer_id AND {row}.is_current "
        f"AND batch_id IN (SELECT batch_id FROM reviewer_batchitem WHERE image_id = {row}.image_id);"
    )


def _sq_result(row: str, sign: int) -> str:
    return (
        f"UPDATE reviewer_detectionrun SET results_done = results_done + {sign} * ({row}.status = 'done'), "
        f"results_failed = results_failed + {sign} * ({row}.status = 'failed'), "
        f"faces_found = faces_found + {sign} * {row}.face_count WHERE id = {row}.run_id;"
    )


def _sq_batch_item(row: str, sign: int) -> list[str]:
    flag = "1" if sign > 0 else f"EXISTS (SELECT 1 FROM reviewer_batchitem o WHERE o.image_id = {row}.image_id)"
    return [
        f"UPDATE reviewer_batch SET size = size + {sign}, images_done = images_done + {sign} * "
        f"coalesce((SELECT status IN {DONE} FROM reviewer_image WHERE id = {row}.image_id), 0) "
        f"WHERE id = {row}.batch_id;",
        f"UPDATE reviewer_image SET is_batched = {flag} WHERE id = {row}.image_id AND is_batched IS NOT {flag};",
    ]


def _sq_trigger(name: str, event: str, table: str, statements: list[str], when: str = "") -> list[str]:
    body = "\n  ".join(statements)
    when_sql = f" WHEN {when}" if when else ""
    return [
        f"DROP TRIGGER IF EXISTS {name}",
        f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when_sql}\nBEGIN\n  {body}\nEND",
    ]


def sqlite_statements() -> list[str]:
    image_changed = (
        "OLD.status IS NOT NEW.status OR OLD.is_gold IS NOT NEW.is_gold OR OLD.is_batched IS NOT NEW.is_batched"
    )
    done_changed = f"(OLD.status IN {DONE}) IS NOT (NEW.status IN {DONE})"
    images_done = (
        f"UPDATE reviewer_batch SET images_done = images_done + (NEW.status IN {DONE}) - (OLD.status IN {DONE}) "
        "WHERE id IN (SELECT batch_id FROM reviewer_batchitem WHERE image_id = NEW.id);"
    )
    review_changed = " OR ".join(
        f"OLD.{c} IS NOT NEW.{c}"
        for c in ("is_current", "reviewer_id", "image_id", "seconds_spent", "is_unsure", "gold_misses", "gold_extras")
    )

    def batch(row: str, sign: int) -> list[str]:
        return [_sq_count(row, "'batches'", sign), _sq_count(row, "'pool_batches'", sign, f"{row}.is_pool")]

    def assignment(row: str, sign: int) -> list[str]:
        return [
            "INSERT INTO reviewer_datasetcounter (dataset_id, key, value) SELECT b.dataset_id, 'assignments', "
            f"{sign} FROM reviewer_batch b WHERE b.id = {row}.batch_id AND {row}.status IN {LIVE} "
            "ON CONFLICT (dataset_id, key) DO UPDATE SET value = value + excluded.value;"
        ]

    return [
        *_sq_trigger("veil_batch_ins", "INSERT", "reviewer_batch", batch("NEW", 1)),
        *_sq_trigger("veil_batch_del", "DELETE", "reviewer_batch", batch("OLD", -1)),
        *_sq_trigger("veil_batch_upd", "UPDATE OF is_pool", "reviewer_batch", batch("OLD", -1) + batch("NEW", 1)),
        *_sq_trigger("veil_assignment_ins", "INSERT", "reviewer_assignment", assignment("NEW", 1)),
        *_sq_trigger("veil_assignment_del", "DELETE", "reviewer_assignment", assignment("OLD", -1)),
        *_sq_trigger(
            "veil_assignment_upd",
            "UPDATE OF status, batch_id",
            "reviewer_assignment",
            assignment("OLD", -1) + assignment("NEW", 1),
        ),
        *_sq_trigger("veil_image_ins", "INSERT", "reviewer_image", _sq_image("NEW", 1)),
        *_sq_trigger("veil_image_del", "DELETE", "reviewer_image", _sq_image("OLD", -1)),
        *_sq_trigger(
            "veil_image_upd", "UPDATE", "reviewer_image", _sq_image("OLD", -1) + _sq_image("NEW", 1), image_changed
        ),
        *_sq_trigger("veil_image_done", "UPDATE OF status", "reviewer_image", [images_done], done_changed),
        *_sq_trigger("veil_batchitem_ins", "INSERT", "reviewer_batchitem", _sq_batch_item("NEW", 1)),
        *_sq_trigger("veil_batchitem_del", "DELETE", "reviewer_batchitem", _sq_batch_item("OLD", -1)),
        *_sq_trigger("veil_review_ins", "INSERT", "reviewer_review", [_sq_review("NEW", 1)]),
        *_sq_trigger("veil_review_del", "DELETE", "reviewer_review", [_sq_review("OLD", -1)]),
        *_sq_trigger(
            "veil_review_upd",
            "UPDATE",
            "reviewer_review",
            [_sq_review("OLD", -1), _sq_review("NEW", 1)],
            review_changed,
        ),
        *_sq_trigger("veil_result_ins", "INSERT", "reviewer_detectionresult", [_sq_result("NEW", 1)]),
        *_sq_trigger("veil_result_del", "DELETE", "reviewer_detectionresult", [_sq_result("OLD", -1)]),
        *_sq_trigger(
            "veil_result_upd", "UPDATE", "reviewer_detectionresult", [_sq_result("OLD", -1), _sq_result("NEW", 1)]
        ),
        *_sq_trigger(
            "veil_dataset_del",
            "DELETE",
            "reviewer_dataset",
            ["DELETE FROM reviewer_datasetcounter WHERE dataset_id = OLD.id;"],
        ),
    ]


SQLITE_TRIGGERS = [
    *("veil_batch_ins", "veil_batch_del", "veil_batch_upd", "veil_assignment_ins", "veil_assignment_del"),
    "veil_assignment_upd",
    *("veil_image_ins", "veil_image_del", "veil_image_upd", "veil_image_done"),
    *("veil_batchitem_ins", "veil_batchitem_del", "veil_review_ins", "veil_review_del", "veil_review_upd"),
    *("veil_result_ins", "veil_result_del", "veil_result_upd", "veil_dataset_del"),
]


def install(connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(postgresql_sql())
        elif connection.vendor == "sqlite":
            for statement in sqlite_statements():
                cursor.execute(statement)
        else:
            raise NotImplementedError(f"Veil's counters have no triggers for {connection.vendor}.")


def uninstall(connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRESQL_DROP)
        else:
            for name in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def _expected(vendor: str) -> dict[str, str]:
    """What the code installs, by object name: each function's source and each trigger's table and event
    (PostgreSQL), or each trigger's CREATE statement (SQLite, which keeps the text as given)."""
    if vendor == "postgresql":
        functions = {f"function {name}": _pg_source(body) for name, body in _pg_functions()}
        return functions | {f"trigger {name}": f"AFTER {event} ON {table}" for table, name, event in _pg_triggers()}
    creates = [sql for sql in sqlite_statements() if sql.startswith("CREATE TRIGGER ")]
    return {f"trigger {sql.split()[2]}": sql for sql in creates}


def _installed(connection) -> dict[str, str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(r"SELECT proname, prosrc FROM pg_proc WHERE proname LIKE 'veil\_%'")
            found = {f"function {name}": source for name, source in cursor.fetchall()}
            cursor.execute(
                r"SELECT tgname, tgrelid::regclass::text, pg_get_triggerdef(oid) FROM pg_trigger "
                r"WHERE tgname LIKE 'veil\_%' AND NOT tgisinternal"
            )
            for name, table, definition in cursor.fetchall():
                event = re.search(r" AFTER (\w+) ON ", definition)
                found[f"trigger {name}"] = f"AFTER {event[1] if event else '?'} ON {table.rsplit('.', 1)[-1]}"
            return found
        cursor.execute(r"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'veil\_%' ESCAPE '\'")
        return {f"trigger {name}": sql for name, sql in cursor.fetchall()}


def drift(connection) -> list[str]:
    """How the counter triggers in the database differ from this code: one line per object missing, changed or
    not written by this code (empty when they match). Only for PostgreSQL and SQLite."""
    expected, installed = _expected(connection.vendor), _installed(connection)
    lines = [f"{name} is missing" for name in expected.keys() - installed.keys()]
    lines += [
        f"{name} differs from the code"
        for name in expected.keys() & installed.keys()
        if expected[name] != installed[name]
    ]
    lines += [f"{name} is not in the code" for name in installed.keys() - expected.keys()]
    return sorted(lines)


def ensure_installed(connection) -> bool:
    """Install the counter triggers as this code writes them when the database's differ (or are missing), and
    then recompute every counter from the rows, since a trigger that was wrong or absent may have missed
    writes. Returns whether anything was installed. A database whose triggers match is left alone (one read)."""
    lines = drift(connection)
    if not lines:
        return False
    unknown = [line.split()[1] for line in lines if line.endswith("is not in the code")]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for name in unknown:  # left by an older version of this code: names come from the catalogue, veil_*
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP FUNCTION IF EXISTS {name}() CASCADE")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        uninstall(connection)
        install(connection)
        recompute(connection)
    return True


# --- recomputing everything from the rows (the migration, and manage.py counters_reconcile) ------------------

_MINE = (
    "r.reviewer_id = reviewer_assignment.reviewer_id AND r.is_current AND r.image_id IN "
    "(SELECT bi.image_id FROM reviewer_batchitem bi WHERE bi.batch_id = reviewer_assignment.batch_id)"
)

RECOMPUTE_SQL = [
    # is_batched first: changing it fires the image trigger, whose counters are rebuilt just after.
    """UPDATE reviewer_image SET is_batched = NOT is_batched
       WHERE is_batched <> EXISTS (SELECT 1 FROM reviewer_batchitem b WHERE b.image_id = reviewer_image.id)""",
    "DELETE FROM reviewer_datasetcounter",
    """INSERT INTO reviewer_datasetcounter (dataset_id, key, value)
       SELECT dataset_id, 'status:' || status, count(*) FROM reviewer_image GROUP BY dataset_id, status
       UNION ALL SELECT dataset_id, 'gold', count(*) FROM reviewer_image WHERE is_gold GROUP BY dataset_id
       UNION ALL SELECT dataset_id, 'unbatched', count(*) FROM reviewer_image
                 WHERE NOT is_gold AND NOT is_batched GROUP BY dataset_id
       UNION ALL SELECT dataset_id, 'batches', count(*) FROM reviewer_batch GROUP BY dataset_id
       UNION ALL SELECT dataset_id, 'pool_batches', count(*) FROM reviewer_batch WHERE is_pool GROUP BY dataset_id
       UNION ALL SELECT b.dataset_id, 'assignments', count(*) FROM reviewer_assignment a
                 JOIN reviewer_batch b ON b.id = a.batch_id WHERE a.status IN ('active', 'done')
                 GROUP BY b.dataset_id""",
    f"""UPDATE reviewer_batch SET
         size = (SELECT count(*) FROM reviewer_batchitem bi WHERE bi.batch_id = reviewer_batch.id),
         images_done = (SELECT count(*) FROM reviewer_batchitem bi JOIN reviewer_image i ON i.id = bi.image_id
                        WHERE bi.batch_id = reviewer_batch.id AND i.status IN {DONE})""",
    f"""UPDATE reviewer_assignment SET
         reviewed = (SELECT count(*) FROM reviewer_review r WHERE {_MINE}),
         seconds_ms = (SELECT coalesce(sum(round(r.seconds_spent * 1000)), 0) FROM reviewer_review r WHERE {_MINE}),
         unsure = (SELECT count(*) FROM reviewer_review r WHERE {_MINE} AND r.is_unsure),
         gold_reviews = (SELECT count(*) FROM reviewer_review r WHERE {_MINE} AND r.gold_misses IS NOT NULL),
         gold_misses = (SELECT coalesce(sum(r.gold_misses), 0) FROM reviewer_review r WHERE {_MINE}),
         gold_extras = (SELECT coalesce(sum(r.gold_extras), 0) FROM reviewer_review r WHERE {_MINE}),
         gold_boxes = (SELECT count(*) FROM reviewer_review r JOIN reviewer_goldbox g ON g.image_id = r.image_id
                       WHERE {_MINE} AND r.gold_misses IS NOT NULL)""",
    """UPDATE reviewer_detectionrun SET
         results_done = (SELECT count(*) FROM reviewer_detectionresult d WHERE d.run_id = reviewer_detectionrun.id
                         AND d.status = 'done'),
         results_failed = (SELECT count(*) FROM reviewer_detectionresult d
                           WHERE d.run_id = reviewer_detectionrun.id AND d.status = 'failed'),
         faces_found = (SELECT coalesce(sum(d.face_count), 0) FROM reviewer_detectionresult d
                        WHERE d.run_id = reviewer_detectionrun.id)""",
]


def recompute(connection) -> None:
    """Rebuild every trigger-kept counter and summary column from the rows (the review agreement and the
    approval queue's review_attention need geometry: services/summaries.py does those)."""
    with connection.cursor() as cursor:
        for statement in RECOMPUTE_SQL:
            cursor.execute(statement)
