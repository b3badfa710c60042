"""Cutting a detection run into chunks and sending them to the workers, a bounded number at a time.

A run over 1.5 M images has 94 k chunks of 16. They are written in bulk when the run starts, but only
VEIL_DETECTION_IN_FLIGHT of them are sent: the others wait in the database (queued, no queued_at) and the feeder
sends the next ones, in index order, as chunks finish (the worker that finishes one calls it). Reconcile calls
it too, so a run whose chain broke (a worker killed, the broker down when a chunk finished) is topped up at its
next pass. Starting a run therefore costs a few hundred messages, not 94 k; the broker holds a few hundred small
messages per run; and reconcile never has more than that many chunks of a run to look at.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from reviewer import jobs
from reviewer.models import DetectionChunk, DetectionRun
from reviewer.services.feed_window import next_in_window

logger = logging.getLogger(__name__)

# Chunks written per INSERT when a run is cut in Python (not PostgreSQL): 1,000 chunks of 16 ids read and written
# at a time, so the web process holds 16 k ids, never the dataset's 1.5 M.
CHUNKS_PER_INSERT = 1000


def in_flight_limit() -> int:
    return int(settings.VEIL_DETECTION_IN_FLIGHT)


def detection_chunks_create(
    *, run: DetectionRun, image_ids: QuerySet, key: str = "pk", first_index: int = 0
) -> tuple[int, int]:
    """Write `run`'s chunks over `image_ids` (a flat values_list of image ids in field `key`), cut in `key` order
    into chunks of VEIL_DETECTION_CHUNK_SIZE numbered from `first_index`, all waiting to be sent; add them to
    run.chunks_total. Returns (chunks, images) written.

    On PostgreSQL one INSERT ... SELECT cuts and writes them in the database (3 s for 1.5 M images where 94 k
    model instances took 12 s, and no id comes to Python); elsewhere (SQLite, the embedded default) the ids are
    read a page at a time (keyset) and written one INSERT per page. Call it inside the transaction that creates
    the run (or adds the retry), so no worker and no reconcile pass sees a run with part of its chunks.
    """
    size = settings.VEIL_DETECTION_CHUNK_SIZE
    if _cut_in_database():
        chunks, images = _create_in_database(run, image_ids, size=size, first_index=first_index)
    else:
        chunks, images = _create_in_pages(run, image_ids, key=key, size=size, first_index=first_index)
    DetectionRun.objects.filter(pk=run.pk).update(chunks_total=F("chunks_total") + chunks)
    return chunks, images


def _cut_in_database() -> bool:
    return connection.vendor == "postgresql"


def _create_in_database(run: DetectionRun, image_ids: QuerySet, *, size: int, first_index: int) -> tuple[int, int]:
    ids_sql, ids_params = image_ids.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH ids AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM ({ids_sql}) AS source (id)),
                     made AS (
                       INSERT INTO reviewer_detectionchunk (run_id, index, image_ids, status, attempts, error)
                       SELECT %s, %s + (n - 1) / %s, jsonb_agg(id ORDER BY id), %s, 0, '' FROM ids
                       GROUP BY (n - 1) / %s
                       RETURNING jsonb_array_length(image_ids) AS images)
                SELECT count(*), coalesce(sum(images), 0) FROM made""",
            [*ids_params, run.pk, first_index, size, DetectionChunk.Status.QUEUED, size],
        )
        chunks, images = cursor.fetchone()
    return int(chunks), int(images)


def _create_in_pages(run: DetectionRun, image_ids: QuerySet, *, key: str, size: int, first_index: int):
    chunks = images = 0
    for page in _pages(image_ids, key, size * CHUNKS_PER_INSERT):
        made = DetectionChunk.objects.bulk_create(
            DetectionChunk(run=run, index=first_index + chunks + i, image_ids=page[start : start + size])
            for i, start in enumerate(range(0, len(page), size))
        )
        chunks += len(made)
        images += len(page)
    return chunks, images


def _pages(ids: QuerySet, key: str, per_page: int) -> Iterator[list[int]]:
    """The ids in increasing order, `per_page` at a time (keyset: each page starts after the last id of the one
    before, so a page costs the same at the end of 1.5 M as at the start)."""
    last = None
    while True:
        page = ids if last is None else ids.filter(**{f"{key}__gt": last})
        page = list(page.order_by(key)[:per_page])
        if not page:
            return
        yield page
        if len(page) < per_page:
            return
        last = page[-1]


def detection_run_feed(*, run_id: int, now=None) -> list[int]:
    """Send `run_id`'s next waiting chunks, in index order, so that at most VEIL_DETECTION_IN_FLIGHT of its chunks
    are in flight (sent and queued, or running). Returns the ids sent (none for a finished or missing run).

    The run's row is locked while it counts and picks, so two workers finishing at once do not both fill the same
    room. The messages go when the transaction commits; if the broker cannot be reached, the chunks not sent lose
    their queued_at again (they wait, and reconcile's next pass feeds them) and BrokerUnavailable is raised.
    """
    now = now or timezone.now()
    with transaction.atomic():
        run = (
            DetectionRun.objects.select_for_update()
            .filter(pk=run_id)
            .exclude(status__in=DetectionRun.FINISHED)
            .only("pk")
            .first()
        )
        if run is None:
            return []
        chosen = next_in_window(
            DetectionChunk.objects.filter(run_id=run_id),
            in_flight=DetectionChunk.IN_FLIGHT, waiting=DetectionChunk.WAITING, limit=in_flight_limit(),
        )  # fmt: skip
        if chosen:
            DetectionChunk.objects.filter(pk__in=chosen).update(queued_at=now)
            detection_chunks_enqueue(chosen, run_id=run_id)
    return chosen


def detection_chunks_enqueue(chunk_ids: list[int], *, run_id: int | None = None) -> None:
    """One detect_chunk task per chunk, sent when the current transaction commits (at once outside one).

    If the broker cannot be reached, the chunks not sent go back to waiting (no queued_at: the feeder, run by
    reconcile's next pass, sends them) and BrokerUnavailable (503) is raised after the commit, naming the run.
    """

    def not_sent(sent: int) -> None:
        DetectionChunk.objects.filter(pk__in=chunk_ids[sent:], status=DetectionChunk.Status.QUEUED).update(
            queued_at=None
        )

    what = f"Detection run {run_id}" if run_id else "The detection work"
    jobs.enqueue_on_commit(
        jobs.DETECT_CHUNK,
        many=[(chunk_id,) for chunk_id in chunk_ids],
        on_broker_down=not_sent,
        message=f"{what} is saved as queued, but the task queue cannot be reached right now. It starts by itself "
        "when the queue is back; starting it again will not make a second run.",
        extra={"run": run_id} if run_id else None,
    )
