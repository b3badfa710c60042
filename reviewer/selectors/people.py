"""Reads for the people page."""

from __future__ import annotations

from django.db.models import QuerySet

from reviewer.models import User

PEOPLE_PER_PAGE = 50


def people_page(
    *, after: str | None = None, role: str | None = None, limit: int = PEOPLE_PER_PAGE
) -> tuple[list[User], str | None]:
    """One page of people by user name (keyset on the unique username), and the name to continue after."""
    people: QuerySet[User] = User.objects.order_by("username")
    if role in User.Role.values:
        people = people.filter(role=role)
    if after:
        people = people.filter(username__gt=after)
    rows = list(people.only("id", "username", "email", "role", "is_active", "is_superuser", "last_login")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].username if more else None)


def users_all() -> QuerySet[User]:
    """Everyone, for the API's people list (its keyset pagination orders and pages it)."""
    return User.objects.all()
