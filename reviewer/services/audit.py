from reviewer.models import AuditEvent


def audit_record(*, actor, verb: str, obj, **data) -> AuditEvent:
    """Write one audit event about `obj` (any model instance)."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        verb=verb,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        data=data,
    )
