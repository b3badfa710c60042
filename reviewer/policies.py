"""Who may do what, as named predicates. Pages and the API both ask these; nothing else decides access."""

from __future__ import annotations

from django.db.models import QuerySet

from crowd import interface as crowd
from reviewer.errors import Forbidden
from reviewer.models import Assignment, Batch, Dataset, Export, Image, Review, User


def is_admin(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_admin)


def is_reviewer(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.role == User.Role.REVIEWER)


def can_manage_dataset(user, dataset: Dataset | None = None) -> bool:
    """Import, detect, cut batches, assign, approve."""
    return is_admin(user)


def require_admin(user, doing: str, dataset: Dataset | None = None, *, system_ok: bool = False) -> None:
    """Raise Forbidden("Only admins <doing>.") unless `user` may manage the dataset; services call this first.

    `system_ok` lets `user=None` through: a management command or a worker acting for nobody in particular.
    """
    if user is None and system_ok:
        return
    if not can_manage_dataset(user, dataset):
        raise Forbidden(f"Only admins {doing}.")


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


# --- crowd workers ------------------------------------------------------------------------------------------


def is_crowd_worker(user) -> bool:
    """A reviewer whose account an invite link made (no password; their session is the login)."""
    return is_reviewer(user) and crowd.has_crowd_account(user)


def qualification_required(dataset: Dataset) -> bool:
    return crowd.qualification_required(dataset_id=dataset.pk)


def has_qualified(user, dataset: Dataset) -> bool:
    """True when the dataset has no qualification round or the reviewer passed one of its tries."""
    if not qualification_required(dataset):
        return True
    return crowd.has_passed_qualification(user, dataset_id=dataset.pk)


def can_read_instructions(user, dataset: Dataset) -> bool:
    """Admins, reviewers with work in the dataset, and crowd workers invited to it."""
    if is_admin(user):
        return True
    if not is_reviewer(user):
        return False
    if crowd.is_invited_to(user, dataset_id=dataset.pk):
        return True
    return Assignment.objects.filter(reviewer=user, batch__dataset=dataset).exists()


def can_take_pool_batch(user, batch: Batch) -> bool:
    """Pool batches go to reviewers who passed the dataset's qualification round (when it has one); a crowd
    worker sees only the pools of datasets an invite brought them to."""
    if not is_reviewer(user) or not batch.is_pool:
        return False
    if is_crowd_worker(user) and not crowd.is_invited_to(user, dataset_id=batch.dataset_id):
        return False
    return has_qualified(user, batch.dataset)


def has_images_left(user, batch: Batch) -> bool:
    """False once a crowd worker reviewed the number of images their invite asked for in this batch."""
    limit = crowd.invite_image_limit(user, batch_id=batch.pk)
    if limit is None:
        return True
    done = Review.objects.filter(reviewer=user, is_current=True, assignment__batch=batch).count()
    return done < limit
