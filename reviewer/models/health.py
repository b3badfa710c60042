"""What the health views read: when each periodic step last ran, one row per step, written by the step itself."""

from django.db import models


class PeriodicRun(models.Model):
    """The last run of a periodic step ("reconcile"): when it started and finished, and what it reported.

    One row per step, updated in place, so the health check reads one row whatever the size of the data.
    """

    RECONCILE = "reconcile"

    name = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)  # the last run that ended without an error
    failed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)  # the last failure's reason, kept until a run succeeds
    report = models.JSONField(default=dict, blank=True)  # what the last successful run did, in counts

    def __str__(self) -> str:
        return f"{self.name} (finished {self.finished_at})"
