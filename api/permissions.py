"""DRF permissions over reviewer.policies: the API asks the same questions as the pages."""

from rest_framework.permissions import BasePermission

from reviewer import policies


class IsVeilAdmin(BasePermission):
    message = "This endpoint is for admins."

    def has_permission(self, request, view) -> bool:
        return policies.is_admin(request.user)
