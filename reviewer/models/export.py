"""Exports: an archive of approved images with faces blurred, annotations, a manifest and a leak report."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from reviewer.models.base import BoxFields, box_constraints


class Export(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

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

    class Meta:
        ordering = ["-created_at"]


class ExportItem(models.Model):
    """One image as it went into an export: which boxes, which bytes in, which bytes out."""

    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="items")
    image = models.ForeignKey("reviewer.Image", on_delete=models.PROTECT, related_name="export_items")
    approval = models.ForeignKey("reviewer.Approval", null=True, on_delete=models.PROTECT, related_name="+")
    output_path = models.CharField(max_length=1024)
    source_sha256 = models.CharField(max_length=64)
    output_sha256 = models.CharField(max_length=64)
    boxes = models.JSONField(default=list)
    # When the image was written into the archive: the throughput chart counts these per minute or hour.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["export_id", "id"]
        constraints = [models.UniqueConstraint(fields=["export", "image"], name="export_item_unique_image")]


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
