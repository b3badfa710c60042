from datetime import timedelta

import pytest
from django.utils import timezone

from reviewer.errors import Forbidden, ServiceError
from reviewer.models import Dataset, Image
from reviewer.services.dataset_settings import dataset_settings_update
from reviewer.services.lease import lease_acquire
from tests.factories import AdminFactory, AssignmentFactory, BatchFactory, BatchItemFactory, UserFactory, make_review

pytestmark = pytest.mark.django_db


def test_lowering_k_makes_images_with_enough_reviews_ready_and_leaves_approved_alone():
    admin = AdminFactory()
    batch = BatchFactory(dataset__reviews_required=2)
    rita = UserFactory()
    waiting = BatchItemFactory(batch=batch, image__status=Image.Status.IN_REVIEW).image
    approved = BatchItemFactory(batch=batch, image__status=Image.Status.APPROVED).image
    make_review(waiting, rita)
    make_review(approved, rita)
    change = dataset_settings_update(dataset=batch.dataset, actor=admin, reviews_required=1)
    assert (change.completed, change.reopened) == (1, 0)
    assert Image.objects.get(pk=waiting.pk).status == Image.Status.REVIEWED
    assert Image.objects.get(pk=approved.pk).status == Image.Status.APPROVED


def test_re_planning_skips_batches_whose_images_are_all_approved():
    admin = AdminFactory()
    dataset = BatchFactory().dataset
    done = BatchFactory(dataset=dataset, name="done")
    BatchItemFactory(batch=done, image__status=Image.Status.APPROVED)
    open_batch = BatchFactory(dataset=dataset, name="open")
    BatchItemFactory(batch=open_batch, image__status=Image.Status.DETECTED)
    a, b = UserFactory(), UserFactory()
    AssignmentFactory(batch=done, reviewer=a)
    AssignmentFactory(batch=open_batch, reviewer=a)
    change = dataset_settings_update(dataset=dataset, actor=admin, reviews_required=2, reviewers=[a, b])
    assert [(x.batch.name, x.reviewer_id) for x in change.assignments] == [("open", b.pk)]
    assert change.batches_short == 0


def test_settings_are_refused_to_reviewers_and_out_of_range():
    dataset = BatchFactory().dataset
    with pytest.raises(Forbidden):
        dataset_settings_update(dataset=dataset, actor=UserFactory(), reviews_required=2)
    with pytest.raises(ServiceError, match="A lease lasts from 30 to 86400 seconds"):
        dataset_settings_update(dataset=dataset, actor=AdminFactory(), lease_seconds=1)
    with pytest.raises(ServiceError, match="Unknown setting: name"):
        dataset_settings_update(dataset=dataset, actor=AdminFactory(), name="x")
    assert Dataset.objects.get(pk=dataset.pk).lease_seconds is None


def test_the_lease_lasts_as_long_as_the_dataset_says(settings):
    settings.VEIL_LEASE_SECONDS = 900
    assignment = AssignmentFactory()
    image = BatchItemFactory(batch=assignment.batch, image__status=Image.Status.DETECTED).image
    before = timezone.now()
    lease = lease_acquire(reviewer=assignment.reviewer, image=image)
    assert abs((lease.expires_at - before) - timedelta(seconds=900)) < timedelta(seconds=5)
    Dataset.objects.filter(pk=image.dataset_id).update(lease_seconds=60)
    image = Image.objects.select_related("dataset").get(pk=image.pk)
    lease = lease_acquire(reviewer=assignment.reviewer, image=image)
    assert abs((lease.expires_at - timezone.now()) - timedelta(seconds=60)) < timedelta(seconds=5)
