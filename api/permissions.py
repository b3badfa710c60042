"""DRF permissions over reviewer.policies: the API asks the same questions as the pages.

Each has a `description` the OpenAPI schema prints on every operation that uses it.
"""

from rest_framework.permissions import BasePermission, IsAuthenticated

from reviewer import policies


class IsVeilAdmin(BasePermission):
    message = "This endpoint is for admins."
    description = "Admins only (reviewers get 403)."

    def has_permission(self, request, view) -> bool:
        return policies.is_admin(request.user)


class IsSignedIn(IsAuthenticated):
    description = "Any signed-in user (session or token); what they see is limited to their own rights."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.user.is_active


class IsVeilReviewer(BasePermission):
    message = "This endpoint is for reviewers."
    description = (
        "Reviewers only, on their own active assignments; anything outside them answers 404, "
        "the same as an id that does not exist."
    )

    def has_permission(self, request, view) -> bool:
        return policies.is_reviewer(request.user)
