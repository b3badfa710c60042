"""Batches, assignments, leases, reviews and the fate of every box; gold boxes for quality control."""

from django.conf import settings
from django.db import models
from django.db.models import CheckConstraint, Q, UniqueConstraint

from reviewer.models.base import BoxFields, box_constraints


class Batch(models.Model):
    """An ordered slice of a dataset's images, handed to reviewers as a unit."""

    dataset = models.ForeignKey("reviewer.Dataset", on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(max_length=200)
    # A pool batch can be taken by any reviewer; others only by the reviewers assigned to them.
    is_pool = models.BooleanField(default=False)
    # A blind audit: approved images reviewed again by someone who did not review them (the release gate).
    is_audit = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    images = models.ManyToManyField("reviewer.Image", through="BatchItem", related_name="batches")
    # Summary columns kept by database triggers (reviewer/models/triggers.py): items, and items whose image
    # is reviewed or approved. Pages read them instead of counting BatchItem rows.
    size = models.IntegerField(default=0, editable=False)
    images_done = models.IntegerField(default=0, editable=False)

    class Meta:
        ordering = ["dataset_id", "id"]
        constraints = [UniqueConstraint(fields=["dataset", "name"], name="batch_unique_name_per_dataset")]

    def __str__(self) -> str:
        return self.name


class BatchItem(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    image = models.ForeignKey("reviewer.Image", on_delete=models.CASCADE, related_name="batch_items")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["batch_id", "position"]
        constraints = [
            UniqueConstraint(fields=["batch", "image"], name="batch_item_unique_image"),
            UniqueConstraint(fields=["batch", "position"], name="batch_item_unique_position"),
        ]


class Assignment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DONE = "done", "Done"
        REVOKED = "revoked", "Revoked"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="assignments")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="assignments_given"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    # The current reviews made under this assignment, summed (kept by triggers on Review, except agreement,
    # which services/quality.py keeps because it needs geometry). The quality page reads these rows.
    reviewed = models.IntegerField(default=0, editable=False)
    seconds_ms = models.BigIntegerField(default=0, editable=False)
    unsure = models.IntegerField(default=0, editable=False)
    gold_reviews = models.IntegerField(default=0, editable=False)
    gold_boxes = models.IntegerField(default=0, editable=False)
    gold_misses = models.IntegerField(default=0, editable=False)
    gold_extras = models.IntegerField(default=0, editable=False)
    agreement_sum = models.FloatField(default=0, editable=False)
    agreement_n = models.IntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["reviewer", "status"], name="assignment_reviewer_status")]
        constraints = [UniqueConstraint(fields=["batch", "reviewer"], name="assignment_unique_reviewer_per_batch")]


class Lease(models.Model):
    """Who may save a review of an image right now. One row per image: the database allows no second lease."""

    image = models.OneToOneField("reviewer.Image", on_delete=models.CASCADE, related_name="lease")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases")
    token = models.CharField(max_length=64)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)


class Review(models.Model):
    """One reviewer's answer for one image. Reopening and saving again makes a new current review."""

    image = models.ForeignKey("reviewer.Image", on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    assignment = models.ForeignKey(Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews")
    detection_run = models.ForeignKey(
        "reviewer.DetectionRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The run whose proposals the reviewer was shown.",
    )  # fmt: skip
    is_current = models.BooleanField(default=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="superseded_by"
    )
    has_no_faces = models.BooleanField(default=False)
    is_unsure = models.BooleanField(default=False)
    seconds_spent = models.FloatField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    # Quality control on gold images, scored when the review is submitted.
    gold_misses = models.PositiveIntegerField(null=True, blank=True)
    gold_extras = models.PositiveIntegerField(null=True, blank=True)
    # Sent by the page with each save: a retry of a save that committed (its answer was lost) finds this review
    # and answers as saved, instead of a false "the image changed" 409.
    client_request_id = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["submitted_at"], name="review_submitted_at")]  # the daily snapshot
        constraints = [
            UniqueConstraint(
                fields=["reviewer", "client_request_id"],
                condition=Q(client_request_id__isnull=False),
                name="review_unique_client_request_per_reviewer",
            ),
            UniqueConstraint(
                fields=["image", "reviewer"], condition=Q(is_current=True), name="review_one_current_per_reviewer"
            ),
            CheckConstraint(condition=Q(seconds_spent__gte=0), name="review_seconds_non_negative"),
        ]


class ReviewBox(BoxFields):
    """What became of one box in a review: a proposal accepted, adjusted or deleted, or a box added."""

    class Fate(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        ADJUSTED = "adjusted", "Adjusted"
        DELETED = "deleted", "Deleted"
        ADDED = "added", "Added"

    # The fates that leave a box on the image (a face the reviewer kept): what consolidation, the safety net and
    # the blind audit count.
    KEPT_FATES = (Fate.ACCEPTED, Fate.ADJUSTED, Fate.ADDED)

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="boxes")
    proposal = models.ForeignKey("reviewer.Proposal", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    fate = models.CharField(max_length=16, choices=Fate.choices)

    class Meta:
        ordering = ["review_id", "id"]
        constraints = [
            CheckConstraint(
                condition=Q(fate="added", proposal__isnull=True) | (~Q(fate="added") & Q(proposal__isnull=False)),
                name="review_box_proposal_unless_added",
            ),
            UniqueConstraint(fields=["review", "proposal"], name="review_box_one_fate_per_proposal"),
            *box_constraints("review_box"),
        ]


class GoldBox(BoxFields):
    """A known face on a gold image, against which reviewers are scored."""

    image = models.ForeignKey("reviewer.Image", on_delete=models.CASCADE, related_name="gold_boxes")

    class Meta:
        constraints = [*box_constraints("gold_box")]


class ReviewCandidate(models.Model):
    """What a reviewer made of one candidate shown to them: turned into a box (the box is an added ReviewBox),
    dismissed as not a face, or left open (on screen when they saved, neither: it stays flagged)."""

    class Fate(models.TextChoices):
        BOXED = "boxed", "Turned into a box"
        DISMISSED = "dismissed", "Not a face"
        LEFT = "left", "Shown, left open"

    RESOLVED = (Fate.BOXED, Fate.DISMISSED)

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="candidate_fates")
    candidate = models.ForeignKey("reviewer.Candidate", on_delete=models.CASCADE, related_name="fates")
    fate = models.CharField(max_length=16, choices=Fate.choices)

    class Meta:
        ordering = ["review_id", "id"]
        constraints = [UniqueConstraint(fields=["review", "candidate"], name="review_candidate_one_fate")]
