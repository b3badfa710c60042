from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Who did what to which object, and when. Written by services, read by admins."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    verb = models.CharField(max_length=64, db_index=True)  # e.g. "import.finished", "review.submitted"
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    # The dataset the event is about, when there is one: the audit page filters on it.
    dataset = models.ForeignKey(
        "reviewer.Dataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]
        # The audit page pages by (at, id) descending, overall or within one dataset or one person.
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_at_id"),
            models.Index(fields=["dataset", "-at", "-id"], name="audit_dataset_at_id"),
            models.Index(fields=["actor", "-at", "-id"], name="audit_actor_at_id"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]
