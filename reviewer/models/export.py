"""Exports: the approved images with faces blurred, annotations, a manifest and a leak report.

An export is map + assemble: its approved images are cut into ExportChunks that any worker renders (blur, encode,
the residual check, one part file per chunk in the exports storage), then one assembly streams the parts into the
chosen layout (zip, tar, WebDataset shards, a folder, a Hugging Face imagefolder) with the manifest.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviewer.models.base import BoxFields, box_constraints


class Export(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Stage(models.TextChoices):
        PLANNING = "planning", "Cutting into chunks"
        RENDERING = "rendering", "Rendering chunks"
        ASSEMBLING = "assembling", "Assembling the output"

    dataset = models.ForeignKey("reviewer.Dataset", on_delete=models.CASCADE, related_name="exports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # Blur mode, archive kind, annotation formats, JPEG quality, leak-check policy: as asked.
    options = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    images_total = models.PositiveIntegerField(default=0)
    images_done = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=500, blank=True, help_text="Archive name in the exports storage.")
    file_sha256 = models.CharField(max_length=64, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    residual_count = models.PositiveIntegerField(default=0)
    missed_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written by the renderer every few seconds; reconcile restarts an export whose heartbeat stopped.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Bumped by each renderer that takes the export; every write of a renderer is compared against it, so a
    # renderer that was taken over stops at its next image and never publishes (never two at once).
    attempt = models.PositiveIntegerField(default=0)
    # When the render task was last handed to the broker; null while it could not be (the broker was down).
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The release gate's estimate and any override, as the export started (also in the manifest).
    gate = models.JSONField(default=dict, blank=True)
    # Where a running export is: cutting its images into chunks, rendering them, or assembling the output.
    stage = models.CharField(max_length=16, choices=Stage.choices, blank=True, default="")
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    # The output's top-level files in the exports storage: [{"name", "size", "sha256"}], one for a zip or tar,
    # the shards and extras of a folder layout (its images are listed by the manifest, not here).
    files = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]


class ExportChunk(models.Model):
    """A slice of an export's approved images that one task renders into one part file. Its row, not the queue,
    says what is left; every write of a renderer is compared against `attempt`, so two never write one chunk.

    A queued chunk with no sent_at waits its turn: an export keeps at most VEIL_EXPORT_IN_FLIGHT chunks in flight
    (sent and queued, or running) and sends the next ones by index as those finish
    (reviewer.services.export_chunks.export_feed). IN_FLIGHT and WAITING repeat the conditions of the two partial
    indexes, which a query must use for PostgreSQL to read them.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    IN_FLIGHT = Q(status__in=["queued", "running"], sent_at__isnull=False)
    WAITING = Q(status="queued", sent_at__isnull=True)

    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    image_ids = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempt = models.PositiveIntegerField(default=0)
    # When its task was last handed to the broker; null while it could not be (reconcile sends it).
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written every VEIL_EXPORT_HEARTBEAT_SECONDS while a worker renders it; reconcile sends a running chunk whose
    # heartbeat is older than VEIL_EXPORT_STALE_SECONDS again (its worker was lost).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The rendered images and their manifest records, in the exports storage, for the assembly to stream.
    part_name = models.CharField(max_length=500, blank=True)
    images_done = models.PositiveIntegerField(default=0)
    residual_count = models.PositiveIntegerField(default=0)
    missed_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["export_id", "index"]
        constraints = [models.UniqueConstraint(fields=["export", "index"], name="export_chunk_unique_index")]
        indexes = [
            models.Index(fields=["export", "status"], name="export_chunk_status"),
            # What the feeder reads each time a chunk ends: the chunks in flight (at most VEIL_EXPORT_IN_FLIGHT) and
            # the next waiting ones by index, never the thousands done or waiting behind them (23 k chunks at 1.5 M).
            models.Index(
                fields=["export", "status"],
                condition=Q(status__in=["queued", "running"], sent_at__isnull=False),
                name="export_chunk_in_flight",
            ),
            models.Index(
                fields=["export", "index"],
                condition=Q(status="queued", sent_at__isnull=True),
                name="export_chunk_waiting",
            ),
        ]


class ExportItem(models.Model):
    """One image as it went into an export: which boxes, which bytes in, which bytes out."""

    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="items")
    image = models.ForeignKey("reviewer.Image", on_delete=models.PROTECT, related_name="export_items")
    chunk = models.ForeignKey(ExportChunk, null=True, on_delete=models.CASCADE, related_name="items")
    approval = models.ForeignKey("reviewer.Approval", null=True, on_delete=models.PROTECT, related_name="+")
    output_path = models.CharField(max_length=1024)
    # What two output paths must not share (reviewer.imaging.names.export_key): chunks rendered on different
    # workers name their images independently, and the database keeps the names of one export unique.
    output_key = models.CharField(max_length=1024)
    source_sha256 = models.CharField(max_length=64)
    output_sha256 = models.CharField(max_length=64)
    boxes = models.JSONField(default=list)
    # When the image was written into the archive: the throughput chart counts these per minute or hour.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["export_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["export", "image"], name="export_item_unique_image"),
            models.UniqueConstraint(fields=["export", "output_key"], name="export_item_unique_output"),
        ]


class Leak(BoxFields):
    """A face the detector still finds in an exported image: residual (inside a box) or possibly missed."""

    class Kind(models.TextChoices):
        RESIDUAL = "residual", "Residual face inside a blurred box"
        MISSED = "missed", "Possible face outside every box"

    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="leaks")
    image = models.ForeignKey("reviewer.Image", on_delete=models.CASCADE, related_name="leaks")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    score = models.FloatField()
    # A person's word on it: empty while open; "not_a_face" when an admin dismissed it. A missed face that a
    # final box covers later is resolved by that box and needs no word.
    resolution = models.CharField(max_length=16, blank=True, default="")
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")  # fmt: skip
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["export_id", "id"]
        constraints = [*box_constraints("leak")]
