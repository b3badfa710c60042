from reviewer.models import AuditEvent


def audit_record(*, actor, verb: str, obj, **data) -> AuditEvent:
    """Write one audit event about `obj` (any model instance), with the dataset it belongs to when it has one."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        verb=verb,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        dataset_id=_dataset_id(obj, data),
        data=data,
    )


def _dataset_id(obj, data: dict) -> int | None:
    """The dataset an object is part of: itself, its dataset_id, its batch's, its image's (a review, a leak-check
    find), or one named in the event's data."""
    if obj._meta.label_lower == "reviewer.dataset":
        return obj.pk
    if getattr(obj, "dataset_id", None):
        return obj.dataset_id
    if getattr(obj, "batch_id", None):
        return obj.batch.dataset_id
    if getattr(obj, "image_id", None):
        return obj.image.dataset_id  # a review holds its image already (no query); a leak reads it once
    named = data.get("dataset")
    return named if isinstance(named, int) else None
