"""Who may do what, as named predicates. Pages and the API both ask these; nothing else decides access."""

from __future__ import annotations

from django.db.models import QuerySet

from reviewer.models import Assignment, Dataset, Export, Image, User


def is_admin(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_admin)


def is_reviewer(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.role == User.Role.REVIEWER)


def can_manage_dataset(user, dataset: Dataset | None = None) -> bool:
    """Import, detect, cut batches, assign, approve."""
    return is_admin(user)


def images_visible_to(user) -> QuerySet[Image]:
    """Images whose pixels the user may see: admins all; reviewers those of their assignments."""
    if is_admin(user):
        return Image.objects.all()
    if not is_reviewer(user):
        return Image.objects.none()
    return Image.objects.filter(
        batch_items__batch__assignments__reviewer=user,
        batch_items__batch__assignments__status__in=[Assignment.Status.ACTIVE, Assignment.Status.DONE],
    ).distinct()


def can_view_image(user, image: Image) -> bool:
    if is_admin(user):
        return True
    return images_visible_to(user).filter(pk=image.pk).exists()


def can_review_image(user, image: Image) -> bool:
    """Reviewers review images of their active assignments, until the image is approved.

    Gold images stay reviewable after approval: their known boxes are how every later reviewer is scored. So do
    approved images in an audit batch assigned to the user: the blind audit reviews approved images again.
    """
    if not is_reviewer(user):
        return False
    mine = Image.objects.filter(
        pk=image.pk,
        batch_items__batch__assignments__reviewer=user,
        batch_items__batch__assignments__status=Assignment.Status.ACTIVE,
    )
    if image.status == Image.Status.APPROVED and not image.is_gold:
        return mine.filter(batch_items__batch__is_audit=True).exists()
    return mine.exists()


def can_open_image_viewer(user, image: Image) -> bool:
    """The admin's image viewer shows every review and edits the approved boxes: admins only."""
    return is_admin(user)


def can_export(user, dataset: Dataset) -> bool:
    return is_admin(user)


def can_download_export(user, export: Export) -> bool:
    return is_admin(user)
