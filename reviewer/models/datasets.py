"""Datasets, their images, and the imports that brought them in."""

from django.conf import settings
from django.db import models
from django.db.models import CheckConstraint, Q, UniqueConstraint


class Dataset(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # How many reviewers must review each image before it can be consolidated and approved (k).
    reviews_required = models.PositiveSmallIntegerField(default=1)
    # Gold images mixed into each batch cut from now on (quality control).
    gold_per_batch = models.PositiveSmallIntegerField(default=0)
    # How long an opened image stays leased to its reviewer; null means settings.VEIL_LEASE_SECONDS.
    lease_seconds = models.PositiveIntegerField(null=True, blank=True)
    # The release gate: the upper confidence bound on the share of faces an export may leave unblurred.
    release_bound = models.FloatField(default=0.02)
    # The blind audit: the share of approved images sent to a second, independent reviewer.
    audit_rate = models.FloatField(default=0.02)
    # The release gate's report as last computed (GateReport.as_dict) and when: what the dataset page shows for a
    # dataset too large to estimate on every view (services/gate.py, gate_for_page).
    gate_snapshot = models.JSONField(null=True, blank=True)
    gate_snapshot_at = models.DateTimeField(null=True, blank=True)
    # The detection run whose proposals reviewers see. Explicit: a new run never replaces it silently.
    current_detection_run = models.ForeignKey(
        "reviewer.DetectionRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            CheckConstraint(condition=Q(reviews_required__gte=1), name="dataset_reviews_required_positive"),
            CheckConstraint(condition=Q(release_bound__gte=0, release_bound__lte=1), name="dataset_release_bound_unit"),
            CheckConstraint(condition=Q(audit_rate__gte=0, audit_rate__lte=1), name="dataset_audit_rate_unit"),
        ]

    def __str__(self) -> str:
        return self.name


def image_upload_to(instance: "Image", filename: str) -> str:
    # Content-addressed: the same bytes land on the same name, and names never collide across datasets.
    return f"originals/{instance.dataset_id}/{instance.sha256[:2]}/{instance.sha256}{_suffix(filename)}"


def _suffix(filename: str) -> str:
    dot = filename.rfind(".")
    suffix = filename[dot:].lower() if dot != -1 else ""
    return suffix if len(suffix) <= 6 and suffix[1:].isalnum() else ""


class Image(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "Imported"  # no proposals yet
        DETECTED = "detected", "Proposals ready"
        IN_REVIEW = "in_review", "In review"  # at least one review, fewer than required
        REVIEWED = "reviewed", "Reviewed"  # enough reviews: ready to consolidate and approve
        APPROVED = "approved", "Approved"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to=image_upload_to, max_length=500)
    relative_path = models.CharField(max_length=1024, help_text="Path inside the dataset, with forward slashes.")
    # The name as the admin gave it, when import had to make it safe or unique (control characters shown as
    # \uXXXX); the manifest lists it beside the exported path. Empty when relative_path is that name.
    original_name = models.TextField(blank=True)
    # The image's path in an export, folded for case: unique per dataset (checked at import), so `same.gif`
    # (written as same.png) and `same.png` never collide in an archive, nor `A.jpg` and `a.jpg` on macOS.
    export_key = models.CharField(max_length=1100, blank=True)
    sha256 = models.CharField(max_length=64)
    file_size = models.PositiveBigIntegerField()
    format = models.CharField(max_length=16)
    width = models.PositiveIntegerField(help_text="Width as displayed, after EXIF orientation.")
    height = models.PositiveIntegerField(help_text="Height as displayed, after EXIF orientation.")
    orientation = models.PositiveSmallIntegerField(default=1, help_text="EXIF orientation tag of the original.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW, db_index=True)
    is_gold = models.BooleanField(default=False, help_text="A quality-control image with known boxes.")
    # The safety net: set by the services when candidates are unresolved, a crowd has no box, or the leak check
    # found a face; the approval queue sorts these first. The reasons are short codes with counts.
    needs_second_look = models.BooleanField(default=False)
    second_look_reasons = models.JSONField(default=list, blank=True)
    # How much is flagged: the sum of the reasons' counts (Image.flag_weight), written with them. Flagged images
    # are queued most flagged first.
    second_look_weight = models.PositiveIntegerField(default=0)
    # Kept by database triggers (reviewer/models/triggers.py) from BatchItem rows: in at least one batch.
    is_batched = models.BooleanField(default=False, editable=False)
    # Set by the review services from the image's current reviews: 0 one is unsure, 1 they disagree, 2 neither.
    # The approval queue sorts by it (after needs_second_look) without consolidating every waiting image.
    review_attention = models.PositiveSmallIntegerField(default=2, editable=False)
    # The last time it was sent back to review: {"by": username, "reason": text, "at": ISO time}. The review page
    # shows it to the reviewers until the image is approved again.
    sent_back = models.JSONField(null=True, blank=True)
    # A gold image's evidence for the release gate, frozen: the ids of the reviews its first send-back retired when
    # nothing but its known faces could have prompted it (no flag, no disagreement: needs_second_look was false).
    # A miss on a gold image tells how often reviewers miss faces everywhere; fixing that one image fixes nothing
    # elsewhere, so the gate keeps reading these reviews, not the corrected ones. Null: its current reviews count.
    gold_evidence_reviews = models.JSONField(null=True, blank=True)
    # Bumped by every change a reviewer must not overwrite unseen (a review, an approval); saves carry it.
    revision = models.PositiveIntegerField(default=0)
    import_job = models.ForeignKey("reviewer.ImportJob", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset_id", "relative_path"]
        constraints = [
            UniqueConstraint(fields=["dataset", "sha256"], name="image_unique_sha256_per_dataset"),
            UniqueConstraint(fields=["dataset", "relative_path"], name="image_unique_path_per_dataset"),
            CheckConstraint(condition=Q(width__gte=1, height__gte=1), name="image_has_pixels"),
        ]
        indexes = [
            models.Index(fields=["dataset", "status"]),
            models.Index(fields=["dataset", "is_gold"]),
            models.Index(fields=["dataset", "status", "needs_second_look"]),
            # Keyset pages of the dataset page filtered by status, and of the approval queue by its groups.
            models.Index(fields=["dataset", "status", "relative_path"], name="image_status_path"),
            models.Index(
                fields=["dataset", "status", "needs_second_look", "review_attention", "relative_path"],
                name="image_queue_order",
            ),
            # The approval queue's flagged images: most flagged first, then by attention and path.
            models.Index(
                "dataset",
                "status",
                models.F("second_look_weight").desc(),
                "review_attention",
                "relative_path",
                name="image_queue_flagged",
                condition=Q(needs_second_look=True),
            ),
            # What batches_create takes next: images in no batch, by path.
            models.Index(
                fields=["dataset", "relative_path"],
                name="image_unbatched_path",
                condition=Q(is_batched=False, is_gold=False),
            ),
            models.Index(fields=["dataset", "export_key"]),
            # The release gate's walk over the flagged images, by path: only those rows, however large the set.
            models.Index(
                fields=["dataset", "relative_path"], name="image_second_look_path", condition=Q(needs_second_look=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name}/{self.relative_path}"

    @staticmethod
    def flag_weight(reasons: list[dict]) -> int:
        """How much second_look_reasons flag: the sum of their counts (a reason without a count counts once)."""
        return sum(int(reason.get("count", 1)) for reason in reasons)


class ImportJob(models.Model):
    """One import of files into a dataset, from the page, the command line or the API."""

    class Source(models.TextChoices):
        PAGE = "page", "Upload page"
        COMMAND = "command", "Command line"
        API = "api", "API"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=16, choices=Source.choices)
    label = models.CharField(max_length=500, blank=True, help_text="What was imported: a folder, archive or upload.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    files_seen = models.PositiveIntegerField(default=0)
    imported_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # The skipped duplicates, [{"name", "same_as"}], the first services.ingest.DUPLICATE_NAMES_KEPT of them.
    duplicate_names = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # Uploads waiting in storage for the import task: [{"storage": name, "path": relative path given}], in order.
    # files_seen doubles as the task's cursor: a retried import skips the entries it already finished.
    uploads = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    # When its task was handed to the broker; None while it could not be (the broker was down): reconcile sends
    # such a job at its next pass.
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set each time a worker takes the job; reconcile queues again a job whose worker was lost.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]


class ImportRejection(models.Model):
    """A file an import refused, with a stable reason code and a sentence for people."""

    class Reason(models.TextChoices):
        NOT_AN_IMAGE = "not_an_image", "Not an image"
        CORRUPT = "corrupt", "Corrupt or truncated"
        UNSUPPORTED_FORMAT = "unsupported_format", "Unsupported format"
        TOO_LARGE = "too_large", "Too large"
        UNSAFE_PATH = "unsafe_path", "Unsafe path in archive"
        LINK_OR_DEVICE = "link_or_device", "Link or device in archive"
        NESTED_ARCHIVE = "nested_archive", "Nested archive"
        BAD_ARCHIVE = "bad_archive", "Unreadable archive"
        PATH_CONFLICT = "path_conflict", "Path already used"
        STORAGE_FULL = "storage_full", "Storage full"
        NAME_TOO_LONG = "name_too_long", "Name too long"

    import_job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejections")
    name = models.CharField(max_length=1024)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    message = models.TextField()

    class Meta:
        ordering = ["id"]
