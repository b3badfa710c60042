"""The detection section of bench/scale.py: a run's cost at 2 k and at 1.5 M images (about 94 k chunks of 16).

For each dataset, on the broker given to bench/scale.py (a real Redis; its queues are emptied first):
- start: POST /api/datasets/<id>/detection-runs/ through the test client (the whole request, commit and sends
  included): wall time, queries, peak resident memory added by the call (the kernel's VmHWM, reset before it),
  messages left on the Redis queues and the Redis memory they take;
- the middle of a run, written over the run's chunks in SQL: half of them done, 32 running with a fresh heartbeat,
  8 running with a stale one (their worker was killed), 8 sent two hours ago (their message was lost), 8 never
  sent (the broker was down when they were due), the rest waiting (sent at once before the feeder; waiting for
  their turn with it);
- in that state: the run page and the progress call the page polls (p50/p95, queries); a chunk's bookkeeping as
  a worker runs it (marked running, its 16 images, whose files do not exist here, written as failed results,
  marked done, the run's completion check and the next chunk sent), and one reconcile pass (detection only),
  from that same state each time.
The run is deleted afterwards, so the datasets stay as the fill left them.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviewer.imaging.detectors import get_detector
from reviewer.models import Dataset, DetectionRun, User
from reviewer.services import detection as detection_services
from reviewer.services.reconcile import detection_reconcile

DETECTOR = "centerface"
FRESH_RUNNING, STALE_RUNNING, LOST, NEVER_SENT = 32, 8, 8, 8
CHUNK_CALLS = 15


def detection_bench(small: Dataset, big: Dataset, admin: User, *, measure, heaviest, repeat: int) -> list[str]:
    """Prints the detection figures of both datasets and their ratios; returns the labels that missed a target."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    get_detector(DETECTOR)  # the weights, loaded once per process as in a web worker: not part of the start
    client = Client()
    client.force_login(admin)
    # Warm: a first start imports and builds what every later request finds ready (32 MB in this process).
    _drop_bench_runs(small)
    client.post(f"/api/datasets/{small.pk}/detection-runs/", {"detector": DETECTOR}, content_type="application/json")
    _drop_bench_runs(small)
    _purge(broker)
    feeder = getattr(settings, "VEIL_DETECTION_IN_FLIGHT", None)
    sending = f"at most {feeder} chunks in flight per run" if feeder else "every chunk sent at start"
    print(
        f"\nDetection: broker {settings.CELERY_BROKER_URL}, chunks of {settings.VEIL_DETECTION_CHUNK_SIZE}, {sending}"
    )
    results = {}
    for dataset in (small, big):
        _drop_bench_runs(dataset)
        results[dataset.name] = _one_dataset(dataset, client, broker, measure=measure, repeat=repeat)
    small_r, big_r = results[small.name], results[big.name]
    print(f"\n{'detection':34} {'2k p50':>8} {'2k p95':>8} {'1.5M p50':>9} {'1.5M p95':>9} {'ratio':>7} "
          f"{'queries 2k/1.5M':>16} {'db ms 2k/1.5M':>14}  target")  # fmt: skip
    failures = []
    for label, b in big_r["timed"].items():
        s = small_r["timed"][label]
        ratio = b["p95"] / s["p95"] if s["p95"] else float("inf")
        ok = b["p95"] <= 300 and ratio <= 2 and b["queries"] <= s["queries"] + 2
        failures += [] if ok else [f"detection: {label}"]
        print(
            f"{label:34} {s['p50']:8.1f} {s['p95']:8.1f} {b['p50']:9.1f} {b['p95']:9.1f} {ratio:6.2f}x "
            f"{s['queries']:>7} /{b['queries']:>6} {_db_ms(s):6.2f} /{_db_ms(b):6.2f}"
            f"  {'ok' if ok else 'MISSED'} (p95<=300ms, <=2x, same queries)"
        )
    print()
    for name, r in ((small.name, small_r), (big.name, big_r)):
        start = r["start"]
        print(
            f"{name}: start {start['ms']:.0f} ms, {start['queries']} queries, peak memory +{start['peak_mb']:.0f} MB, "
            f"{start['messages']:,} messages on the queue ({start['redis_mb']:.1f} MB of Redis) for "
            f"{r['chunks']:,} chunks; reconcile sent {r['reconcile_sent']} chunk(s) "
            f"({r['reconcile_messages']} messages)"
        )
    ratio = big_r["start"]["ms"] / small_r["start"]["ms"] if small_r["start"]["ms"] else float("inf")
    print(f"start 1.5M / 2k: {ratio:.1f}x the time for {big_r['chunks'] / small_r['chunks']:.0f}x the chunks")
    print("\nEXPLAIN (ANALYZE) of the heaviest query of each detection call at 1.5 M (run state as measured):")
    print(big_r["explained"])
    return failures


def _one_dataset(dataset: Dataset, client: Client, broker, *, measure, repeat: int) -> dict:
    _purge(broker)
    memory_before = broker.info("memory")["used_memory"]
    _reset_peak_memory()
    rss_before = _status_kb("VmRSS")
    statements = []  # counted, not kept: a kept 94 k-row INSERT would add its own text to the peak memory

    def count(execute, sql, params, many, context):
        statements.append(1)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        started = time.perf_counter()
        response = client.post(
            f"/api/datasets/{dataset.pk}/detection-runs/", {"detector": DETECTOR}, content_type="application/json"
        )
        start_ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 201, response.content[:300]
    start = {
        "ms": start_ms,
        "queries": len(statements),
        "peak_mb": (_status_kb("VmHWM") - rss_before) / 1024,
        "messages": _queued(broker),
        "redis_mb": (broker.info("memory")["used_memory"] - memory_before) / 2**20,
    }
    run = DetectionRun.objects.get(pk=response.json()["id"])
    chunks = run.chunks.count()
    _purge(broker)

    _mid_run(run)
    timed = {
        "run page": measure("run page", lambda: client.get(f"/detection/runs/{run.pk}/"), repeat),
        "progress API (polled)": measure("progress API", lambda: client.get(f"/api/detection-runs/{run.pk}/"), repeat),
    }
    timed["a chunk's bookkeeping (worker)"] = _chunk_calls(run)
    _mid_run(run)
    sent = []
    times, counts, selects = [], [], []
    for _ in range(3):
        _mid_run(run)
        _purge(broker)
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            report = detection_reconcile()
            times.append((time.perf_counter() - started) * 1000)
        counts.append(len(captured.captured_queries))
        selects = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
        sent.append(len(report.requeued))
    timed["reconcile pass (detection)"] = {
        "p50": statistics.median(times),
        "p95": max(times),
        "queries": max(counts),
        "selects": [(q, None) for q in selects],
    }
    reconcile_messages = _queued(broker)
    _purge(broker)
    _mid_run(run)  # the state each call was measured in, for the database's own time of their SELECTs
    for figures in timed.values():
        _db_ms(figures)
    explained = _explain(timed) if dataset.images.count() > 100_000 else ""
    _drop_bench_runs(dataset)
    return {
        "start": start,
        "chunks": chunks,
        "timed": timed,
        "reconcile_sent": sent[-1],
        "reconcile_messages": reconcile_messages,
        "explained": explained,
    }


def _mid_run(run: DetectionRun) -> None:
    """The run's chunks in the middle of a run (see the module's docstring), whatever they were before."""
    feeder = getattr(settings, "VEIL_DETECTION_IN_FLIGHT", None)
    now = timezone.now()
    total = run.chunks.count()
    half = total // 2
    edges = {}
    edge = half
    for name, n in (("fresh", FRESH_RUNNING), ("stale", STALE_RUNNING), ("lost", LOST), ("never", NEVER_SENT)):
        edges[name] = (edge, edge + n)
        edge += n
    # With the feeder only a bounded number of chunks is out; the others wait, unsent, for their turn.
    sent_until = edge + max(0, feeder - FRESH_RUNNING - STALE_RUNNING - LOST) if feeder else total
    p = {
        "run": run.pk,
        "half": half,
        "now": now,
        "old": now - timedelta(hours=2),
        "recent": now - timedelta(seconds=20),
        "sent_until": sent_until,
        **{f"{k}_lo": v[0] for k, v in edges.items()},
        **{f"{k}_hi": v[1] for k, v in edges.items()},
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """UPDATE reviewer_detectionchunk SET
                 status = CASE WHEN index < %(half)s THEN 'done'
                               WHEN index < %(stale_hi)s THEN 'running' ELSE 'queued' END,
                 attempts = CASE WHEN index < %(stale_hi)s THEN 1 ELSE 0 END,
                 queued_at = CASE WHEN index >= %(lost_lo)s AND index < %(lost_hi)s THEN %(old)s
                                  WHEN index >= %(never_lo)s AND index < %(never_hi)s THEN NULL
                                  WHEN index < %(sent_until)s THEN %(old)s ELSE NULL END,
                 started_at = CASE WHEN index < %(fresh_hi)s THEN %(recent)s
                                   WHEN index < %(stale_hi)s THEN %(old)s ELSE NULL END,
                 heartbeat_at = CASE WHEN index < %(fresh_lo)s THEN %(recent)s WHEN index < %(fresh_hi)s THEN %(now)s
                                     WHEN index < %(stale_hi)s THEN %(old)s ELSE NULL END,
                 finished_at = CASE WHEN index < %(half)s THEN %(recent)s ELSE NULL END, error = ''
               WHERE run_id = %(run)s""",
            p,
        )
        # Waiting chunks that were sent (all of them before the feeder) were sent just now, not two hours ago.
        cursor.execute(
            """UPDATE reviewer_detectionchunk SET queued_at = %(now)s WHERE run_id = %(run)s AND status = 'queued'
                 AND queued_at IS NOT NULL AND NOT (index >= %(lost_lo)s AND index < %(lost_hi)s)""",
            p,
        )
        cursor.execute("DELETE FROM reviewer_proposal WHERE run_id = %(run)s", p)
        cursor.execute("DELETE FROM reviewer_candidate WHERE run_id = %(run)s", p)
        cursor.execute("DELETE FROM reviewer_detectionresult WHERE run_id = %(run)s", p)
        images = settings.VEIL_DETECTION_CHUNK_SIZE * half
        counters = ["results_done = %(images)s", "results_failed = 0", "faces_found = %(images)s / 6"]
        if feeder:  # the feeder's run counters
            counters += ["chunks_done = %(half)s", "chunks_failed = 0"]
        cursor.execute(
            f"UPDATE reviewer_detectionrun SET status = 'running', started_at = %(old)s, finished_at = NULL, "
            f"{', '.join(counters)} WHERE id = %(run)s",
            {**p, "images": images},
        )
    # Vacuumed as autovacuum would (this machine's PostgreSQL has it off): rewriting every chunk of the run leaves a
    # dead index entry per chunk, which a real run leaves a few at a time and its own scans mark dead as they pass.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) reviewer_detectionchunk")


def _chunk_calls(run: DetectionRun) -> dict:
    """detection_chunk_process on sent chunks that wait, as a worker runs it (its images' files are missing here,
    so each image becomes a failed result: the per-image writes are in the figure, the detector is not)."""
    waiting = list(
        run.chunks.filter(status="queued", queued_at__isnull=False).order_by("-index").values_list("pk", flat=True)
    )[:CHUNK_CALLS]
    detector = get_detector(DETECTOR)
    times, counts = [], []
    for chunk_id in waiting:
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            detection_services.detection_chunk_process(chunk_id=chunk_id, detector=detector)
            times.append((time.perf_counter() - started) * 1000)
        counts.append(len(captured.captured_queries))
        selects = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
        "queries": max(counts),
        "selects": [(q, None) for q in selects],
    }


def _db_ms(figures: dict) -> float:
    """The database's own time for the call's SELECTs (EXPLAIN ANALYZE, summed): what a loaded machine's wall
    times hide. Locking reads are left out (EXPLAIN ANALYZE would take their locks)."""
    if "db" not in figures:
        total = 0.0
        with transaction.atomic():
            for statement, params in figures["selects"]:
                if "FOR UPDATE" in statement:
                    continue
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + statement, params)
                    plan = [row[0] for row in cursor.fetchall()]
                total += next((float(x.split(":")[1].split()[0]) for x in plan if x.startswith("Execution Time")), 0)
            transaction.set_rollback(True)
        figures["db"] = total
    return figures["db"]


def _explain(timed: dict) -> str:
    lines = []
    with transaction.atomic():
        for label, figures in timed.items():
            plans = []
            for statement, params in figures["selects"]:
                if "FOR UPDATE" in statement:
                    continue
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params)
                    plan = [row[0] for row in cursor.fetchall()]
                ms = next((float(x.split(":")[1].split()[0]) for x in plan if x.startswith("Execution Time")), 0.0)
                plans.append((ms, statement, plan))
            if not plans:
                continue
            ms, statement, plan = max(plans, key=lambda p: p[0])
            lines.append(f"\n--- {label}: {ms:.2f} ms in the database: {' '.join(statement.split())[:240]}")
            lines += [f"    {line}" for line in plan[:12]]
        transaction.set_rollback(True)
    return "\n".join(lines)


def _drop_bench_runs(dataset: Dataset) -> None:
    """Runs this section started (every run but the fill's current one), in SQL: a cascade through the ORM would
    load each of 94 k chunks."""
    runs = list(dataset.detection_runs.exclude(pk=dataset.current_detection_run_id).values_list("pk", flat=True))
    if not runs:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        for table in ("proposal", "candidate", "detectionresult", "detectionchunk"):
            cursor.execute(f"DELETE FROM reviewer_{table} WHERE run_id = ANY(%s)", [runs])
        cursor.execute("DELETE FROM reviewer_detectionrun WHERE id = ANY(%s)", [runs])


def _queues(broker) -> list[bytes]:
    """The Redis lists of Celery's queues (kombu keeps one per priority step: 'celery', 'celery\\x06\\x163'...)."""
    return [key for key in broker.scan_iter(match="celery*") if broker.type(key) == b"list"] + [
        key for key in broker.scan_iter(match="reconcile*") if broker.type(key) == b"list"
    ]


def _queued(broker) -> int:
    return sum(broker.llen(key) for key in _queues(broker))


def _purge(broker) -> None:
    for key in _queues(broker):
        broker.delete(key)


def _reset_peak_memory() -> None:
    """Resets this process's VmHWM to its current resident size (Linux 4.0+), so VmHWM after a call is its peak."""
    Path("/proc/self/clear_refs").write_text("5")


def _status_kb(field: str) -> int:
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)
