"""Counters per dataset, so pages cost the same at 2 k and 1.5 M images.

Kept by database triggers (reviewer/models/triggers.py) in the same transaction as every write to images and
reviews, whichever service (or bulk update) makes it; `manage.py counters_reconcile` recomputes them from the
rows. Keys: "status:<image status>", "gold", "unbatched", and review sums "reviews", "review_ms", "unsure",
"gold_reviews", "gold_boxes", "gold_misses", "gold_extras".
"""

from django.db import models
from django.db.models import UniqueConstraint


class DatasetCounter(models.Model):
    # No database foreign key: triggers write here while Django's cascade deletes a dataset's rows in an order
    # of its choosing; a trigger on the dataset table deletes its counters instead.
    dataset = models.ForeignKey(
        "reviewer.Dataset", on_delete=models.DO_NOTHING, db_constraint=False, related_name="counters"
    )
    key = models.CharField(max_length=32)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [UniqueConstraint(fields=["dataset", "key"], name="dataset_counter_unique_key")]

    def __str__(self) -> str:
        return f"{self.dataset_id} {self.key}={self.value}"
