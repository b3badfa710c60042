"""Daily snapshot rows the dashboards read: small tables written by the periodic snapshot step, so a chart costs
the same at 2 k and 1.5 M images (it reads one row per day, never the images)."""

from django.conf import settings
from django.db import models
from django.db.models import UniqueConstraint


class DatasetDay(models.Model):
    """How many images of a dataset were at each stage at the end of a day (or now, for today)."""

    dataset = models.ForeignKey("reviewer.Dataset", on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    new = models.PositiveIntegerField(default=0)
    detected = models.PositiveIntegerField(default=0)
    in_review = models.PositiveIntegerField(default=0)
    reviewed = models.PositiveIntegerField(default=0)
    approved = models.PositiveIntegerField(default=0)
    written_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset_id", "day"]
        constraints = [UniqueConstraint(fields=["dataset", "day"], name="dataset_day_unique")]


class ReviewerDay(models.Model):
    """What one reviewer did on one dataset on one day: reviews submitted that day, their time and quality."""

    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="days")
    dataset = models.ForeignKey("reviewer.Dataset", on_delete=models.CASCADE, related_name="reviewer_days")
    day = models.DateField()
    reviews = models.PositiveIntegerField(default=0)
    seconds_median = models.FloatField(null=True, blank=True)
    seconds_total = models.FloatField(default=0)
    gold_reviews = models.PositiveIntegerField(default=0)
    gold_boxes = models.PositiveIntegerField(default=0)  # known faces shown on the gold images reviewed
    gold_misses = models.PositiveIntegerField(default=0)
    gold_extras = models.PositiveIntegerField(default=0)  # boxes drawn on gold images that match no known face
    agreement_sum = models.FloatField(default=0)  # sum of F1 against each other reviewer of the same image
    agreement_pairs = models.PositiveIntegerField(default=0)
    written_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset_id", "reviewer_id", "day"]
        constraints = [UniqueConstraint(fields=["reviewer", "dataset", "day"], name="reviewer_day_unique")]
        indexes = [models.Index(fields=["dataset", "day"], name="reviewer_day_dataset_day")]
