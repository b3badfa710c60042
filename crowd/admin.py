"""Django admin for the crowd models: read-only, written by crowd.services (onboarding, studies, qualification).
Sign-in links hold only a hash and are left out."""

from django.contrib import admin

from crowd import models
from reviewer.admin import ReadOnlyAdmin

for model, columns in [
    (models.CrowdSetup, ("dataset", "qualification_size", "max_mistakes", "max_tries", "miss_rate_limit")),
    (models.InstructionExample, ("dataset", "image", "position")),
    (models.Invite, ("id", "dataset", "label", "uses", "max_uses", "expires_at", "revoked_at")),
    (models.CrowdWorker, ("user", "platform", "external_id", "created_at")),
    (models.Participation, ("id", "invite", "reviewer", "batch", "completed_at", "completion_code")),
    (models.QualificationAttempt, ("dataset", "reviewer", "number", "mistakes", "result", "started_at")),
    (models.QualificationAnswer, ("attempt", "image", "misses", "extras", "answered_at")),
]:
    admin.site.register(model, type(f"{model.__name__}Admin", (ReadOnlyAdmin,), {"list_display": columns}))
