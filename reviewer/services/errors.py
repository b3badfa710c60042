"""Kept so older imports work: the errors live in reviewer/errors.py, which selectors can import too."""

from reviewer.errors import Conflict, Forbidden, NotFound, ServiceError

__all__ = ["Conflict", "Forbidden", "NotFound", "ServiceError"]
