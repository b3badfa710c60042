"""API tokens for scripts. Only a hash of each token is stored; the token itself is shown once, at creation."""

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'nightly import'.")
    # sha256 of the token: tokens are 256 random bits, so a fast hash is enough and a lookup is one index probe.
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16, help_text="The token's first characters, to recognise it in a list.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.owner_id}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
