"""Recompute every counter and summary the pages read from the rows (after a restore, a manual SQL fix, or
to check that nothing drifted: running it on a healthy database changes nothing)."""

import time

from django.core.management.base import BaseCommand

from reviewer.models import DatasetCounter
from reviewer.services.summaries import counters_reconcile


class Command(BaseCommand):
    help = (
        "Recompute the per-dataset counters, batch and assignment summaries, detection run counts, review "
        "agreement and approval-queue order from the rows, in one transaction."
    )

    def handle(self, *args, **options):
        started = time.perf_counter()
        counters_reconcile()
        datasets = DatasetCounter.objects.values("dataset_id").distinct().count()
        self.stdout.write(f"Counters recomputed for {datasets} dataset(s) in {time.perf_counter() - started:.1f} s.")
