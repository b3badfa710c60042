"""Detection runs, the chunks of work they are cut into, and the immutable proposals they produce."""

from django.conf import settings
from django.db import models
from django.db.models import CheckConstraint, Q, UniqueConstraint
from django.utils import timezone

from reviewer.models.base import BoxFields, box_constraints


class DetectionRun(models.Model):
    """One pass of one detector, with fixed settings, over a dataset's images."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Done with failures"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.DONE, Status.FAILED, Status.CANCELLED)  # a run in one of these has no work left

    dataset = models.ForeignKey("reviewer.Dataset", on_delete=models.CASCADE, related_name="detection_runs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    detector = models.CharField(max_length=64)
    detector_version = models.CharField(max_length=200, blank=True, help_text="Library and weights version.")
    weights_sha256 = models.CharField(max_length=64, blank=True)
    # Threshold, model input long side, thorough mode...: everything needed to reproduce the run.
    settings = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    images_total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Kept by database triggers on DetectionResult (reviewer/models/triggers.py): the progress bar reads them.
    results_done = models.IntegerField(default=0, editable=False)
    results_failed = models.IntegerField(default=0, editable=False)
    faces_found = models.BigIntegerField(default=0, editable=False)
    # Kept by the detection services in the transaction that creates chunks or ends one (done, or failed when
    # reconcile gives up on it): the progress call reads them instead of counting 94 k chunks per poll.
    chunks_total = models.PositiveIntegerField(default=0, editable=False)
    chunks_done = models.PositiveIntegerField(default=0, editable=False)
    chunks_failed = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.detector}) on {self.dataset_id}"


class DetectionChunk(models.Model):
    """A slice of a run's images that one task processes. Its state, not the queue, says what is left.

    A queued chunk with no queued_at waits its turn: a run keeps at most VEIL_DETECTION_IN_FLIGHT chunks in
    flight (queued with a queued_at, or running: a running chunk always has one), and sends the next ones by index
    as those finish. IN_FLIGHT and WAITING say so in the words of the two partial indexes, which a query must
    repeat for PostgreSQL to use them.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    IN_FLIGHT = Q(status__in=["queued", "running"], queued_at__isnull=False)
    WAITING = Q(status="queued", queued_at__isnull=True)

    run = models.ForeignKey(DetectionRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    image_ids = models.JSONField(default=list)
    # No index of its own: 94 k chunks of a large run are mostly done, and every read by status goes through the
    # partial indexes below (an index on status alone led PostgreSQL to scan the done chunks' entries).
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written every VEIL_WORKER_HEARTBEAT_SECONDS while a worker is on the chunk; reconcile sends again a running
    # chunk whose heartbeat is older than VEIL_WORKER_STALE_SECONDS (its worker was killed).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run_id", "index"]
        constraints = [UniqueConstraint(fields=["run", "index"], name="chunk_unique_index_per_run")]
        indexes = [
            # The chunks in flight (sent and queued, or running): the feeder counts them, reconcile looks for the
            # lost ones among them, the progress call counts the running ones. At most VEIL_DETECTION_IN_FLIGHT
            # per run, where a run at 1.5 M images has 94 k chunks: none of them reads the done or waiting ones.
            models.Index(
                fields=["run", "status"],
                condition=Q(status__in=["queued", "running"], queued_at__isnull=False),
                name="chunk_in_flight",
            ),
            # The next chunks to send, in index order: only the waiting ones are in it.
            models.Index(
                fields=["run", "index"], condition=Q(status="queued", queued_at__isnull=True), name="chunk_waiting"
            ),
        ]


class DetectionResult(models.Model):
    """The outcome of a run on one image. Unique per (run, image): a redelivered chunk cannot add twice."""

    class Status(models.TextChoices):
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(DetectionRun, on_delete=models.CASCADE, related_name="results")
    image = models.ForeignKey("reviewer.Image", on_delete=models.CASCADE, related_name="detection_results")
    status = models.CharField(max_length=16, choices=Status.choices)
    face_count = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [UniqueConstraint(fields=["run", "image"], name="detection_result_unique_per_run_image")]
        indexes = [
            models.Index(fields=["created_at"], name="detection_result_created_at"),  # throughput chart
            models.Index(fields=["run", "status", "image"], name="detection_result_run_status"),
        ]


class Proposal(BoxFields):
    """A box the detector proposed. Never edited: reviews refer to it and say what became of it."""

    run = models.ForeignKey(DetectionRun, on_delete=models.CASCADE, related_name="proposals")
    image = models.ForeignKey("reviewer.Image", on_delete=models.CASCADE, related_name="proposals")
    ordinal = models.PositiveIntegerField(help_text="Position in the detector's output for this image.")
    score = models.FloatField()
    source = models.CharField(max_length=32, default="detector", help_text="detector, or imported annotations.")

    class Meta:
        ordering = ["image_id", "ordinal"]
        constraints = [
            UniqueConstraint(fields=["run", "image", "ordinal"], name="proposal_unique_per_run_image_ordinal"),
            CheckConstraint(condition=Q(score__gte=0, score__lte=1), name="proposal_score_in_unit_range"),
            *box_constraints("proposal"),
        ]


class Candidate(BoxFields):
    """A region that may be a face but is not proposed: under the threshold, or found only by a recall pass.

    Never blurred on its own. Reviewers see candidates on a key and turn one into a box, or dismiss it; an
    unresolved candidate flags its image for a second look. Immutable, like proposals.
    """

    class Source(models.TextChoices):
        LOW_SCORE = "low_score", "Under the proposal threshold"
        RECALL_PASS = "recall_pass", "Found only by a recall pass"
        SECOND_DETECTOR = "second_detector", "Found by the second detector only"

    run = models.ForeignKey(DetectionRun, on_delete=models.CASCADE, related_name="candidates")
    image = models.ForeignKey("reviewer.Image", on_delete=models.CASCADE, related_name="candidates")
    ordinal = models.PositiveIntegerField()
    score = models.FloatField()
    source = models.CharField(max_length=32, choices=Source.choices, default=Source.LOW_SCORE)
    # What the safety net measured on the region (reviewer.imaging.detectors.net): which passes saw it and at
    # what score, its height, its calibrated score. The bucket groups candidates whose evidence is alike: the
    # release gate weighs an open candidate by the share of resolved candidates of its bucket that were faces.
    bucket = models.CharField(max_length=16, blank=True, default="")
    evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["image_id", "ordinal"]
        constraints = [
            UniqueConstraint(fields=["run", "image", "ordinal"], name="candidate_unique_per_run_image_ordinal"),
            CheckConstraint(condition=Q(score__gte=0, score__lte=1), name="candidate_score_in_unit_range"),
            *box_constraints("candidate"),
        ]


class CandidateDismissal(BoxFields):
    """An admin's word on the triage page that a candidate is not a face: a person's row beside the machine's
    (the candidate is never edited). It keeps the region's box, bucket and image, so the region stays silenced on
    every later run and export even if the run is deleted, and the release gate counts it among the resolved
    flags of its bucket that were not faces."""

    candidate = models.OneToOneField(Candidate, null=True, on_delete=models.SET_NULL, related_name="dismissal")
    image = models.ForeignKey("reviewer.Image", on_delete=models.CASCADE, related_name="candidate_dismissals")
    bucket = models.CharField(max_length=16, blank=True, default="")
    dismissed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    dismissed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [*box_constraints("candidatedismissal")]
