"""The window both feeders keep: at most `limit` chunks of one run or export in flight (sent and queued, or
running), the next ones picked in index order from those waiting in the database. Detection runs
(reviewer/services/detection_feed.py) and exports (reviewer/services/export_chunks.py) both send their chunks
through it; each locks its parent row first, so two chunks ending at once do not both fill the same room."""

from __future__ import annotations

from django.db.models import Q, QuerySet


def next_in_window(chunks: QuerySet, *, in_flight: Q, waiting: Q, limit: int) -> list[int]:
    """Ids of the waiting `chunks` to send now, lowest index first, so that no more than `limit` are in flight.
    `in_flight` and `waiting` are the models' conditions, which repeat their partial indexes: two small index
    reads, whatever the number of chunks done or waiting behind them."""
    room = int(limit) - chunks.filter(in_flight).count()
    if room <= 0:
        return []
    return list(chunks.filter(waiting).order_by("index").values_list("pk", flat=True)[:room])
