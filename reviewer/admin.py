"""Django admin for every model: a back office for admins, not the main way to work."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from reviewer import models


@admin.register(models.User)
class VeilUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Veil", {"fields": ("role",)}))
    list_display = ("username", "email", "role", "is_active", "is_staff", "last_login")
    list_filter = ("role", "is_active", "is_staff")


@admin.register(models.Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "reviews_required", "created_at")
    search_fields = ("name",)


@admin.register(models.Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("relative_path", "dataset", "status", "width", "height", "is_gold")
    list_filter = ("status", "is_gold", "dataset")
    search_fields = ("relative_path", "sha256")
    readonly_fields = ("sha256", "file_size", "width", "height", "orientation", "format", "file")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Machine output and history: visible, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


for model, columns in [
    (models.ImportJob, ("id", "dataset", "source", "status", "imported_count", "duplicate_count", "rejected_count")),
    (models.ImportRejection, ("import_job", "name", "reason")),
    (models.DetectionRun, ("id", "dataset", "detector", "status", "images_total", "created_at")),
    (models.DetectionChunk, ("run", "index", "status", "attempts")),
    (models.DetectionResult, ("run", "image", "status", "face_count")),
    (models.Proposal, ("image", "run", "ordinal", "score", "x0", "y0", "x1", "y1")),
    (models.Review, ("image", "reviewer", "is_current", "has_no_faces", "is_unsure", "submitted_at")),
    (models.ReviewBox, ("review", "fate", "proposal", "x0", "y0", "x1", "y1")),
    (models.Approval, ("image", "approved_by", "source", "is_current", "approved_at")),
    (models.ApprovedBox, ("approval", "x0", "y0", "x1", "y1")),
    (models.Export, ("id", "dataset", "status", "images_done", "images_total", "created_at")),
    (models.ExportItem, ("export", "image", "output_path")),
    (models.Leak, ("export", "image", "kind", "score")),
    (models.AuditEvent, ("at", "actor", "verb", "object_type", "object_id")),
]:
    admin.site.register(model, type(f"{model.__name__}Admin", (ReadOnlyAdmin,), {"list_display": columns}))

for model, columns in [
    (models.Batch, ("name", "dataset", "is_pool", "created_at")),
    (models.BatchItem, ("batch", "position", "image")),
    (models.Assignment, ("batch", "reviewer", "status", "created_at")),
    (models.Lease, ("image", "reviewer", "expires_at")),
    (models.GoldBox, ("image", "x0", "y0", "x1", "y1")),
]:
    admin.site.register(model, type(f"{model.__name__}Admin", (admin.ModelAdmin,), {"list_display": columns}))
