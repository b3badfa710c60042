"""Admin pages and the reviewer's hot path at ImageNet scale, against the same pages at 2 k images.

Fills a dedicated PostgreSQL database (never the test one) with the ImageNet shape: 1.5 M images, 250 k of them
with 2 proposals, 7,500 batches of 200 each given to one of 500 reviewers, 100 k reviews (70 k waiting for
approval, 30 k approved), one detection run with a result per image; and a 2 k-image dataset of the same shape
(the baseline measured in the same run). The fill is INSERT ... SELECT generate_series on the server, through
the same triggers that keep the counters in production; a fill that is present is reused (--refill redoes it).

Then, for each dataset, it prints p50/p95 and the queries per call of every hot page and endpoint through
Django's test client (the whole request: middleware, session, view, template), the ratio of the 1.5 M time to
the 2 k time, and the EXPLAIN (ANALYZE) of the slowest query of each page at 1.5 M.

The detection section (bench/scale_detection.py) starts a run over each dataset through the API on a real Redis
broker, puts its chunks in the middle of a run (half done, some running, some stale, the rest waiting), and
measures the run page, the progress call, a chunk's bookkeeping and one reconcile pass.

The export section (bench/export_scale.py) times an export's plan (the approved images cut into chunks by keyset
pages) and its assembly (parts streamed into a tar with manifest.jsonl and the annotation files) on each dataset,
with tracemalloc's peak, beside the read the export did before (every approved image listed at once).

    .venv/bin/python bench/scale.py [--database-url postgres://postgres@127.0.0.1:5432/veil_scale_bench]
                                    [--images 1500000] [--refill] [--repeat 15] [--sections pages,detection,export]
                                    [--broker-url redis://127.0.0.1:6379/6]
Targets: each page p95 <= 300 ms and <= 2x its 2 k time; next image and submit p95 <= 30 ms and <= 8 queries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/veil_scale_bench"
REVIEWERS = 500
BATCH = 200
SECTIONS = ("pages", "detection", "export")

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--database-url", default=DEFAULT_URL)
parser.add_argument("--images", type=int, default=1_500_000)
parser.add_argument("--small", type=int, default=2_000)
parser.add_argument("--refill", action="store_true", help="drop and fill the datasets again")
parser.add_argument("--repeat", type=int, default=15, help="calls per page")
parser.add_argument("--hot-repeat", type=int, default=40, help="calls of next image and submit")
parser.add_argument("--sections", default="pages,detection,export", help="comma-separated: " + ", ".join(SECTIONS))
parser.add_argument(
    "--broker-url",
    default=os.environ.get("CELERY_BROKER_URL", ""),
    help="a Redis database of the bench's own (its queues are emptied): the detection section sends to it",
)
args = parser.parse_args()
if "test_" in args.database_url.rsplit("/", 1)[-1]:
    sys.exit("Refusing to fill a test database.")
sections = [name.strip() for name in args.sections.split(",") if name.strip()]
if unknown := set(sections) - set(SECTIONS):
    sys.exit(f"Unknown sections {sorted(unknown)}; choose among {', '.join(SECTIONS)}.")
if "detection" in sections and not args.broker_url.startswith("redis://"):
    sys.exit("The detection section sends to a real broker: give --broker-url redis://HOST:PORT/DB (its own DB).")


def ensure_database(url: str, *, refill: bool) -> None:
    """Create the bench database if missing; --refill drops it first (much faster than deleting 1.5 M rows)."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if refill:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            print(f"dropped database {name}")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


ensure_database(args.database_url, refill=args.refill)
os.environ["DATABASE_URL"] = args.database_url
if args.broker_url:
    os.environ["CELERY_BROKER_URL"] = args.broker_url
os.environ.setdefault("VEIL_DATA_DIR", tempfile.mkdtemp(prefix="veil-scale-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

call_command("migrate", verbosity=0)
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
from reviewer.models import Batch, Dataset, DetectionRun, Image, User, triggers


def sql(statement: str, params: dict | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or {})
        return cursor.rowcount


def ensure_users() -> tuple[User, list[int], list[int]]:
    admin, _ = User.objects.get_or_create(username="scale-admin", defaults={"role": User.Role.ADMIN})
    if not User.objects.filter(username__startswith="scale-r").exists():
        password = make_password("bench")
        sql(
            """INSERT INTO reviewer_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                 is_active, date_joined, role)
               SELECT %(pw)s, false, 'scale-r' || lpad(g::text, 3, '0'), '', '', '', false, true, now(), 'reviewer'
               FROM generate_series(0, %(n)s - 1) g
               UNION ALL
               SELECT %(pw)s, false, 'scale-s' || lpad(g::text, 3, '0'), '', '', '', false, true, now(), 'reviewer'
               FROM generate_series(0, 19) g""",
            {"pw": password, "n": REVIEWERS},
        )
    big = list(User.objects.filter(username__startswith="scale-r").order_by("username").values_list("id", flat=True))
    small = list(User.objects.filter(username__startswith="scale-s").order_by("username").values_list("id", flat=True))
    return admin, big, small


def fill(name: str, n: int, admin: User, reviewer_ids: list[int]) -> Dataset:
    """The ImageNet shape, scaled to n images, in a few INSERT ... SELECT statements."""
    existing = Dataset.objects.filter(name=name).first()
    if existing and existing.images.count() == n:
        print(f"{name}: present ({n:,} images), reused; --refill to redo it")
        return existing
    if existing:
        sys.exit(f"{name} holds another number of images than --images asks: run with --refill.")
    started = time.perf_counter()
    batches = n // BATCH
    reviews = n // 15  # 100 k of 1.5 M
    approved = reviews * 3 // 10  # 30 k approved, 70 k waiting
    p = {"n": n, "reviews": reviews, "approved": approved, "batches": batches, "admin": admin.pk}
    with transaction.atomic():
        # Foreign-key checks and the counter triggers are row triggers: off for the bulk fill (millions of
        # deferred checks made the commit take minutes), and the counters recomputed from the rows at the end.
        sql("SET LOCAL session_replication_role = replica")
        dataset = Dataset.objects.create(name=name, created_by=admin, reviews_required=1)
        run = DetectionRun.objects.create(
            dataset=dataset, detector="centerface", status=DetectionRun.Status.DONE, images_total=n,
            settings={"threshold": 0.2, "long_side": 832}, chunks_total=(n - 1) // 100 + 1,
            chunks_done=(n - 1) // 100 + 1,
        )  # fmt: skip
        dataset.current_detection_run = run
        dataset.save(update_fields=["current_detection_run"])
        p.update(d=dataset.pk, run=run.pk)
        sql(
            """INSERT INTO reviewer_image (file, relative_path, sha256, file_size, format, width, height, orientation,
                 status, is_gold, revision, created_at, updated_at, dataset_id, needs_second_look,
                 second_look_reasons, is_batched, review_attention, original_name, export_key, second_look_weight)
               SELECT 'originals/' || %(d)s || '/' || g || '.jpg',
                      'n' || lpad(((g - 1) / 1300)::text, 8, '0') || '/ILSVRC_' || lpad(g::text, 8, '0') || '.JPEG',
                      md5(%(d)s || '-' || g) || md5(g || '-' || %(d)s), 110000, 'JPEG', 500, 375, 1,
                      CASE WHEN g <= %(approved)s THEN 'approved' WHEN g <= %(reviews)s THEN 'reviewed'
                           ELSE 'detected' END,
                      false, 1, now(), now(), %(d)s,
                      g > %(approved)s AND g <= %(reviews)s AND g %% 100 = 7, '[]', true,
                      CASE WHEN g > %(reviews)s THEN 2 WHEN g %% 20 = 0 THEN 0 WHEN g %% 20 = 1 THEN 1 ELSE 2 END,
                      '', lower('n' || lpad(((g - 1) / 1300)::text, 8, '0') || '/ILSVRC_' || lpad(g::text, 8, '0')
                                || '.JPEG'),
                      CASE WHEN g > %(approved)s AND g <= %(reviews)s AND g %% 100 = 7 THEN 1 ELSE 0 END
               FROM generate_series(1, %(n)s) g""",
            p,
        )
        p["base"] = Image.objects.filter(dataset=dataset).order_by("id").values_list("id", flat=True).first()
        assert Image.objects.filter(dataset=dataset, id__lt=p["base"] + n).count() == n, "image ids not contiguous"
        sql(
            """INSERT INTO reviewer_detectionresult (status, face_count, seconds, error, created_at, run_id, image_id)
               SELECT CASE WHEN g %% 1500 = 0 THEN 'failed' ELSE 'done' END,
                      CASE WHEN g %% 6 = 0 AND g %% 1500 <> 0 THEN 2 ELSE 0 END, 0.05,
                      CASE WHEN g %% 1500 = 0 THEN 'cannot identify image file' ELSE '' END, now(), %(run)s,
                      %(base)s + g - 1
               FROM generate_series(1, %(n)s) g""",
            p,
        )
        sql(
            """INSERT INTO reviewer_proposal (x0, y0, x1, y1, ordinal, score, source, image_id, run_id)
               SELECT 10 + 120 * o, 20, 70 + 120 * o, 90, o, 0.9 - 0.5 * o, 'detector', %(base)s + g - 1, %(run)s
               FROM generate_series(6, %(n)s, 6) g CROSS JOIN generate_series(0, 1) o WHERE g %% 1500 <> 0""",
            p,
        )
        sql(
            """INSERT INTO reviewer_detectionchunk (index, image_ids, status, attempts, error, run_id)
               SELECT c, '[]', 'done', 1, '', %(run)s FROM generate_series(0, (%(n)s - 1) / 100) c""",
            p,
        )
        sql(
            """INSERT INTO reviewer_batch (name, is_pool, is_audit, created_at, created_by_id, dataset_id, size,
                 images_done)
               SELECT 'batch-' || lpad(b::text, 5, '0'), false, false, now(), %(admin)s, %(d)s, 0, 0
               FROM generate_series(1, %(batches)s) b""",
            p,
        )
        p["batch_base"] = Batch.objects.filter(dataset=dataset).order_by("id").values_list("id", flat=True).first()
        sql(
            """INSERT INTO reviewer_batchitem (position, batch_id, image_id)
               SELECT (g - 1) %% 200, %(batch_base)s + (g - 1) / 200, %(base)s + g - 1
               FROM generate_series(1, %(batches)s * 200) g""",
            p,
        )
        sql(
            """INSERT INTO reviewer_assignment (status, created_at, assigned_by_id, reviewer_id, batch_id,
                 agreement_n, agreement_sum, gold_boxes, gold_extras, gold_misses, gold_reviews, reviewed,
                 seconds_ms, unsure)
               SELECT 'active', now(), %(admin)s, (%(reviewers)s)[1 + (b - 1) %% cardinality(%(reviewers)s)],
                      %(batch_base)s + b - 1, 0, 0, 0, 0, 0, 0, 0, 0, 0
               FROM generate_series(1, %(batches)s) b""",
            {**p, "reviewers": reviewer_ids},
        )
        sql(
            """INSERT INTO reviewer_review (is_current, has_no_faces, is_unsure, seconds_spent, started_at,
                 submitted_at, assignment_id, detection_run_id, image_id, reviewer_id)
               SELECT true, false, g %% 20 = 0, 2 + g %% 17, now(), now(), a.id, %(run)s, %(base)s + g - 1,
                      a.reviewer_id
               FROM generate_series(1, %(reviews)s) g
               JOIN reviewer_assignment a ON a.batch_id = %(batch_base)s + (g - 1) / 200""",
            p,
        )
        sql(
            """INSERT INTO reviewer_reviewbox (x0, y0, x1, y1, fate, proposal_id, review_id)
               SELECT pr.x0, pr.y0, pr.x1, pr.y1, 'accepted', pr.id, r.id
               FROM reviewer_review r JOIN reviewer_proposal pr ON pr.image_id = r.image_id AND pr.run_id = %(run)s
               WHERE r.image_id BETWEEN %(base)s AND %(base)s + %(reviews)s - 1""",
            p,
        )
        sql(
            """INSERT INTO reviewer_approval (approved_at, source, is_current, note, approved_by_id, image_id)
               SELECT now(), 'reviews', true, '', %(admin)s, %(base)s + g - 1
               FROM generate_series(1, %(approved)s) g""",
            p,
        )
        sql(
            """INSERT INTO reviewer_approvedbox (x0, y0, x1, y1, approval_id)
               SELECT pr.x0, pr.y0, pr.x1, pr.y1, ap.id FROM reviewer_approval ap
               JOIN reviewer_proposal pr ON pr.image_id = ap.image_id AND pr.run_id = %(run)s
               WHERE ap.image_id BETWEEN %(base)s AND %(base)s + %(approved)s - 1""",
            p,
        )
        # Statistics first: without them the planner takes the fresh tables for empty, and the recompute's
        # correlated counts ran as nested sequential scans (over 12 minutes at 1.5 M instead of seconds).
        for table in ("image", "batchitem", "review", "reviewbox", "assignment", "batch", "detectionresult"):
            sql(f"ANALYZE reviewer_{table}")
        triggers.recompute(connection)  # the counters, from the rows: their triggers were off
    # A production database has autovacuum on (this machine's PostgreSQL has it off): vacuum once, as it would,
    # so pages read as a steady-state database's do (hint bits set, the visibility map for index-only scans)
    # instead of being dirtied by the first read after the bulk insert.
    sql("VACUUM (ANALYZE)")
    print(
        f"{name}: filled {n:,} images, {batches:,} batches, {reviews:,} reviews "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return dataset


class Recorder:
    """Keeps the SELECTs of the last call, for their EXPLAIN."""

    def __init__(self):
        self.queries: list[tuple[str, tuple]] = []

    def __call__(self, execute, statement, params, many, context):
        if statement.lstrip().upper().startswith("SELECT"):
            self.queries.append((statement, params))
        elif statement.lstrip().upper().startswith("DECLARE") and " FOR SELECT " in statement:
            # A server-side cursor (.iterator()): its SELECT runs here, and was the dataset page's slowest query.
            self.queries.append((statement[statement.index(" FOR SELECT ") + 5 :], params))
        return execute(statement, params, many, context)


def statements(captured: CaptureQueriesContext) -> int:
    """Queries of a call as tests/reviewer/views/test_query_counts.py pins them (session and user included):
    the transaction's own BEGIN and COMMIT, which Django logs too, are not queries."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
    return sum(not q["sql"].startswith(control) for q in captured.captured_queries)


def measure(label: str, call, repeat: int) -> dict:
    call()  # warm: templates, caches, the first connection
    times, counts, cpu = [], [], []
    for _ in range(repeat):
        recorder = Recorder()
        with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(recorder):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = call()
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code in (200, 201), f"{label}: {response.status_code} {response.content[:300]!r}"
        counts.append(statements(captured))
    return summary(times, counts, cpu, recorder.queries)


def summary(times: list[float], counts: list[int], cpu: list[float], selects) -> dict:
    """Wall p50/p95, and the two figures a loaded machine does not inflate: Python CPU per call (median) and the
    database's own execution time of the call's SELECTs (EXPLAIN ANALYZE, summed)."""
    times.sort()
    db_ms = sum(explain(statement, params)[0] for statement, params in selects)
    return {
        "p50": statistics.median(times),
        "p95": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
        "queries": max(counts),
        "cpu": statistics.median(cpu),
        "db": db_ms,
        "selects": selects,
    }


def pages_of(dataset: Dataset, admin_client: Client) -> dict[str, dict]:
    run_id = dataset.current_detection_run_id
    deep = Image.objects.filter(dataset=dataset).order_by("relative_path").values_list("id", flat=True)
    deep_after = deep[Image.objects.filter(dataset=dataset).count() * 2 // 3]
    queue_after = (
        Image.objects.filter(dataset=dataset, status=Image.Status.REVIEWED, review_attention=2)
        .order_by("relative_path")
        .values_list("id", flat=True)[30]
    )
    # A reviewer whose batch still has images to review; the home page of one who holds the dataset's batches.
    # Each run reviews about 2 x hot-repeat images of it (--refill restores them).
    open_batch = Batch.objects.filter(dataset=dataset, images_done__lt=BATCH // 2).order_by("-id").first()
    holder = open_batch.assignments.get().reviewer
    reviewer_client = Client()
    reviewer_client.force_login(holder)
    urls = {
        "dataset list": "/datasets/",
        "dataset page": f"/datasets/{dataset.pk}/",
        "dataset page, deep": f"/datasets/{dataset.pk}/?after={deep_after}",
        "approval queue": f"/datasets/{dataset.pk}/approve/",
        "approval queue, deep": f"/datasets/{dataset.pk}/approve/?after={queue_after}",
        "approved list": f"/datasets/{dataset.pk}/approve/?show=approved",
        "quality page": f"/datasets/{dataset.pk}/quality/",
        "detection run page": f"/detection/runs/{run_id}/",
        "batches page": f"/datasets/{dataset.pk}/batches/",
    }
    results = {label: measure(label, lambda u=url: admin_client.get(u), args.repeat) for label, url in urls.items()}
    results["reviewer home"] = measure("reviewer home", lambda: reviewer_client.get("/review/"), args.repeat)

    state: dict = {"batch": open_batch, "client": reviewer_client}

    def use_another_batch() -> None:
        """A batch not used yet in this run, and its reviewer: one batch has too few images left for both runs of
        submits at a larger --hot-repeat."""
        batch = (
            Batch.objects.filter(dataset=dataset, images_done__lt=BATCH // 2)
            .exclude(pk=state["batch"].pk)
            .order_by("-id")
            .first()
        )
        state["client"] = Client()
        state["client"].force_login(batch.assignments.get().reviewer)
        state["batch"], state["image"] = batch, None

    def next_image():
        response = state["client"].post(
            f"/api/review/batches/{state['batch'].pk}/next",
            {"after": None, "exclude": []},
            content_type="application/json",
        )
        state["image"] = response.json()["image"]
        return response

    def submit():
        image = state.get("image") or next_image().json()["image"]
        state["image"] = None
        return state["client"].post(
            f"/api/review/batches/{state['batch'].pk}/images/{image['id']}/review",
            {
                "lease_token": image["lease"]["token"],
                "revision": image["revision"],
                "boxes": [{"proposal": p["id"], "fate": "accepted"} for p in image["proposals"]],
                "seconds_spent": 3.5,
            },
            content_type="application/json",
        )

    results["next image"] = measure("next image", next_image, args.hot_repeat)

    def next_then_submit():
        next_image()
        return submit()

    def timed_submits() -> dict:
        """Submit timed alone: the next image it saves is leased outside the timed part. Also keeps the COMMIT's
        own time of each call (Django logs it beside the statements)."""
        times, counts, cpu, commits = [], [], [], []
        next_then_submit()
        # Django logs a COMMIT's time in whole milliseconds: time it here instead, on this thread's connection.
        commit, during = connection._commit, []

        def timed_commit():
            began = time.perf_counter()
            try:
                return commit()
            finally:
                during.append((time.perf_counter() - began) * 1000)

        connection._commit = timed_commit
        for _ in range(args.hot_repeat):
            next_image()
            recorder = Recorder()
            during.clear()
            with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(recorder):
                started, started_cpu = time.perf_counter(), time.process_time()
                response = submit()
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == 201, response.content[:300]
            counts.append(statements(captured))
            commits.append(sum(during))
        del connection._commit  # back to the class's own
        return {
            **summary(times, counts, cpu, recorder.queries),
            "commit": _p95(commits),
            "commit_p50": _median(commits),
        }

    before = _checkpoints()
    results["submit"] = timed_submits()
    # The same submits with this session's commits not waiting for the WAL flush (a scratch setting of this bench's
    # own connection only; the server's default stays): the difference is the disk's commit latency.
    # Set at connect time: a persistent connection is replaced once it is CONN_MAX_AGE old, and a SET with it.
    use_another_batch()
    options = connection.settings_dict["OPTIONS"]
    connection.close()
    options["options"] = "-c synchronous_commit=off"
    results["submit, no WAL flush wait"] = timed_submits()
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        mode = cursor.fetchone()[0]
        assert mode == "off", mode
    connection.close()
    del options["options"]
    results["submit"]["checkpoints"] = _checkpoints(since=before)
    return results


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else 0.0


def _checkpoints(since: dict | None = None) -> dict:
    """PostgreSQL's checkpoint counters (pg_stat_bgwriter), or their change since `since`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time, "
            "buffers_checkpoint, buffers_backend FROM pg_stat_bgwriter"
        )
        names = [c.name for c in cursor.description]
        now = dict(zip(names, cursor.fetchone(), strict=True))
    return now if since is None else {k: now[k] - since[k] for k in now}


def explain(statement: str, params) -> tuple[float, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params)
        lines = [row[0] for row in cursor.fetchall()]
    ms = next((float(line.split(":")[1].split()[0]) for line in lines if line.startswith("Execution Time")), 0.0)
    return ms, lines


def heaviest(selects) -> tuple[float, str, list[str]] | None:
    """The SELECT of a call whose EXPLAIN ANALYZE takes longest (wall times on a shared machine are noise)."""
    plans = [(*explain(statement, params), statement) for statement, params in selects]
    if not plans:
        return None
    ms, lines, statement = max(plans, key=lambda p: p[0])
    return ms, statement, lines


def pages_section(small: Dataset, big: Dataset, admin: User) -> list[str]:
    """Every hot page and endpoint at 2 k and 1.5 M; returns the labels that missed their target."""
    admin_client = Client()
    admin_client.force_login(admin)
    # No transaction around the calls: production has none, and savepoints would add queries.
    measured = {dataset.name: pages_of(dataset, admin_client) for dataset in (small, big)}
    small_r, big_r = measured[small.name], measured[big.name]
    print()
    print(f"{'page or endpoint':22} {'2k p50':>7} {'2k p95':>7} {'1.5M p50':>8} {'1.5M p95':>8} {'ratio':>6} "
          f"{'queries':>8} {'cpu ms 2k/1.5M':>15} {'db ms 2k/1.5M':>14}  target")  # fmt: skip
    failures = []
    for label, b in big_r.items():
        s = small_r[label]
        ratio = b["p95"] / s["p95"] if s["p95"] else float("inf")
        hot = label.startswith(("next image", "submit"))
        ok = b["p95"] <= 30 and b["queries"] <= 8 if hot else b["p95"] <= 300 and ratio <= 2
        failures += [] if ok else [label]
        target = "p95<=30ms, <=8 queries" if hot else "p95<=300ms, <=2x"
        print(
            f"{label:22} {s['p50']:7.1f} {s['p95']:7.1f} {b['p50']:8.1f} {b['p95']:8.1f} {ratio:5.2f}x "
            f"{s['queries']:>3} /{b['queries']:>3} {s['cpu']:7.1f} /{b['cpu']:6.1f} {s['db']:6.2f} /{b['db']:6.2f}"
            f"  {'ok' if ok else 'MISSED'} ({target})"
        )
    for label in ("submit", "submit, no WAL flush wait"):
        small_c, big_c = small_r[label], big_r[label]
        print(f"{label:26} COMMIT alone p50 / p95: 2k {small_c['commit_p50']:.1f} / {small_c['commit']:.1f} ms,"
              f" 1.5M {big_c['commit_p50']:.1f} / {big_c['commit']:.1f} ms")  # fmt: skip
    changed = {
        k: small_r["submit"]["checkpoints"][k] + big_r["submit"]["checkpoints"][k]
        for k in small_r["submit"]["checkpoints"]
    }
    print(f"PostgreSQL during the submits (pg_stat_bgwriter): {changed}")
    print("\nEXPLAIN (ANALYZE) of the heaviest query of each page and endpoint at 1.5 M:")
    with transaction.atomic():
        for label, b in big_r.items():
            found = heaviest(b["selects"])
            if found is None:
                continue
            ms, statement, lines = found
            print(f"\n--- {label}: {ms:.2f} ms in the database: {' '.join(statement.split())[:240]}")
            for line in lines[:14]:
                print(f"    {line}")
        transaction.set_rollback(True)
    return failures


def detection_section(small: Dataset, big: Dataset, admin: User) -> list[str]:
    from bench.scale_detection import detection_bench

    return detection_bench(small, big, admin, measure=measure, heaviest=heaviest, repeat=args.repeat)


def export_section(small: Dataset, big: Dataset, admin: User) -> list[str]:
    """The export's read and manifest path at both sizes (bench/export_scale.py): figures, no target."""
    from bench.export_scale import export_paths, print_export_paths

    print_export_paths(export_paths([small, big], admin))
    return []


def main() -> None:
    started = time.perf_counter()
    admin, big_reviewers, small_reviewers = ensure_users()
    big = fill("imagenet-1.5m", args.images, admin, big_reviewers)
    small = fill("imagenet-2k", args.small, admin, small_reviewers)
    run = {"pages": pages_section, "detection": detection_section, "export": export_section}
    failures = [label for name in sections for label in run[name](small, big, admin)]
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine inflates wall times)")
    print(f"\n{'all targets met' if not failures else 'targets missed: ' + ', '.join(failures)}; "
          f"{time.perf_counter() - started:.0f} s in all")  # fmt: skip
    print("Reproduce: .venv/bin/python bench/scale.py " + " ".join(sys.argv[1:]))


main()
