"""Approval: the final box set of an image, the one exports blur."""

from django.conf import settings
from django.db import models
from django.db.models import Q, UniqueConstraint

from reviewer.models.base import BoxFields, box_constraints


class Approval(models.Model):
    """An admin's sign-off on an image's final boxes. A later approval supersedes; the old one stays."""

    class Source(models.TextChoices):
        REVIEWS = "reviews", "Consolidated reviews"
        IMPORTED = "imported", "Imported annotations"
        ADMIN = "admin", "Set by an admin"

    image = models.ForeignKey("reviewer.Image", on_delete=models.CASCADE, related_name="approvals")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    is_current = models.BooleanField(default=True)
    reviews = models.ManyToManyField("reviewer.Review", blank=True, related_name="approvals")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-approved_at"]
        constraints = [
            UniqueConstraint(fields=["image"], condition=Q(is_current=True), name="approval_one_current_per_image")
        ]


class ApprovedBox(BoxFields):
    approval = models.ForeignKey(Approval, on_delete=models.CASCADE, related_name="boxes")

    class Meta:
        ordering = ["approval_id", "id"]
        constraints = [*box_constraints("approved_box")]
