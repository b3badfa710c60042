from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Who did what to which object, and when. Written by services, read by admins."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    verb = models.CharField(max_length=64, db_index=True)  # e.g. "import.finished", "review.submitted"
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]
