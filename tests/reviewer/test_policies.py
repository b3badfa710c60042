"""Who may do what, asked of reviewer.policies directly: every predicate the pages and the API rely on."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from reviewer import policies
from reviewer.models import Assignment, Export, Image
from tests.factories import (
    AdminFactory,
    AssignmentFactory,
    BatchItemFactory,
    DatasetFactory,
    ImageFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def assigned(status=Assignment.Status.ACTIVE):
    item = BatchItemFactory(image__status=Image.Status.DETECTED)
    assignment = AssignmentFactory(batch=item.batch, status=status)
    return assignment.reviewer, item.image


def test_admins_are_active_admin_role_or_superusers():
    assert policies.is_admin(AdminFactory())
    assert policies.is_admin(UserFactory(is_superuser=True))
    assert not policies.is_admin(AdminFactory(is_active=False))
    assert not policies.is_admin(UserFactory())
    assert not policies.is_admin(AnonymousUser())


def test_reviewers_are_active_reviewer_role_only():
    assert policies.is_reviewer(UserFactory())
    assert not policies.is_reviewer(UserFactory(is_active=False))
    assert not policies.is_reviewer(AdminFactory())
    assert not policies.is_reviewer(AnonymousUser())


def test_only_admins_manage_and_export_datasets():
    dataset = DatasetFactory()
    export = Export.objects.create(dataset=dataset)
    for user, allowed in [(AdminFactory(), True), (UserFactory(), False), (AnonymousUser(), False)]:
        assert policies.can_manage_dataset(user, dataset) is allowed
        assert policies.can_export(user, dataset) is allowed
        assert policies.can_download_export(user, export) is allowed


@pytest.mark.parametrize(
    ("status", "can_view", "can_review"),
    [
        (Assignment.Status.ACTIVE, True, True),
        (Assignment.Status.DONE, True, False),  # finished work stays visible, no longer editable
        (Assignment.Status.REVOKED, False, False),
    ],
)
def test_a_reviewer_sees_and_reviews_images_by_their_assignment_status(status, can_view, can_review):
    reviewer, image = assigned(status)
    assert policies.can_view_image(reviewer, image) is can_view
    assert policies.can_review_image(reviewer, image) is can_review
    assert (image in policies.images_visible_to(reviewer)) is can_view


def test_nobody_else_sees_an_assigned_image():
    _, image = assigned()
    other_batch_reviewer, _ = assigned()
    for user in [UserFactory(), other_batch_reviewer, AnonymousUser(), UserFactory(is_active=False)]:
        assert not policies.can_view_image(user, image)
        assert not policies.can_review_image(user, image)
    assert policies.can_view_image(AdminFactory(), image)
    assert not policies.can_review_image(AdminFactory(), image)  # admins edit through approval, not review


def test_approved_images_are_closed_to_review_except_gold():
    reviewer, image = assigned(status=Assignment.Status.ACTIVE)
    Image.objects.filter(pk=image.pk).update(status=Image.Status.APPROVED)
    image.refresh_from_db()
    assert policies.can_view_image(reviewer, image)
    assert not policies.can_review_image(reviewer, image)
    Image.objects.filter(pk=image.pk).update(is_gold=True)
    image.refresh_from_db()
    assert policies.can_review_image(reviewer, image)


def test_a_deactivated_reviewer_loses_access_at_once():
    reviewer, image = assigned()
    reviewer.is_active = False
    reviewer.save()
    assert not policies.can_view_image(reviewer, image)
    assert not policies.images_visible_to(reviewer).exists()


def test_visible_images_are_listed_once_even_with_two_assignments():
    reviewer, image = assigned()
    second = BatchItemFactory(image=image, batch__dataset=image.dataset)
    AssignmentFactory(batch=second.batch, reviewer=reviewer)
    assert list(policies.images_visible_to(reviewer)) == [image]
    assert ImageFactory() not in policies.images_visible_to(reviewer)


def test_require_admin_refuses_everyone_but_admins_with_what_they_tried():
    from reviewer.errors import Forbidden

    policies.require_admin(AdminFactory(), "approve images")
    for user in (UserFactory(), AdminFactory(is_active=False), AnonymousUser(), None):
        with pytest.raises(Forbidden, match=r"^Only admins approve images\.$"):
            policies.require_admin(user, "approve images")


def test_require_admin_lets_nobody_through_only_where_the_system_acts():
    from reviewer.errors import Forbidden

    policies.require_admin(None, "run detection", system_ok=True)  # a command or a worker, acting for no one
    with pytest.raises(Forbidden):
        policies.require_admin(UserFactory(), "run detection", system_ok=True)
