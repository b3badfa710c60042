from datetime import timedelta

import pytest
from django.utils import timezone

from reviewer.models import DatasetDay, Image, Review, ReviewerDay
from reviewer.services.reconcile import reconcile
from reviewer.services.snapshots import snapshots_write
from tests.factories import DatasetFactory, GoldBoxFactory, ImageFactory, UserFactory, make_review

pytestmark = pytest.mark.django_db


def test_dataset_day_counts_images_per_stage_and_rewrites_the_same_row():
    dataset = DatasetFactory()
    ImageFactory.create_batch(2, dataset=dataset, status=Image.Status.NEW)
    ImageFactory(dataset=dataset, status=Image.Status.APPROVED)
    assert snapshots_write() == 1
    row = DatasetDay.objects.get(dataset=dataset)
    assert (row.day, row.new, row.approved, row.reviewed) == (timezone.localdate(), 2, 1, 0)
    ImageFactory(dataset=dataset, status=Image.Status.REVIEWED)
    assert snapshots_write() == 0  # written a moment ago: skipped
    assert snapshots_write(force=True) == 1
    row = DatasetDay.objects.get(dataset=dataset)
    assert (row.new, row.reviewed) == (2, 1)


def test_reviewer_day_sums_time_gold_and_agreement_of_the_days_reviews():
    dataset = DatasetFactory()
    rita, sam = UserFactory(username="rita"), UserFactory(username="sam")
    shared = ImageFactory(dataset=dataset)
    make_review(shared, rita, (0, 0, 20, 20), seconds_spent=4)
    make_review(shared, sam, (0, 0, 20, 20), (30, 30, 40, 40), seconds_spent=10)
    gold = GoldBoxFactory(image__dataset=dataset, x0=0, y0=0, x1=20, y1=20).image
    GoldBoxFactory(image=gold, x0=30, y0=0, x1=45, y1=20)
    make_review(gold, rita, (0, 0, 20, 20), (50, 30, 60, 40), seconds_spent=8)  # 1 of 2 found, 1 extra
    old = make_review(ImageFactory(dataset=dataset), rita, seconds_spent=100)
    Review.objects.filter(pk=old.pk).update(submitted_at=timezone.now() - timedelta(days=3))
    snapshots_write()
    r = ReviewerDay.objects.get(reviewer=rita, day=timezone.localdate())
    assert (r.reviews, r.seconds_total, r.seconds_median) == (2, 12, 6)
    assert (r.gold_reviews, r.gold_boxes, r.gold_misses, r.gold_extras) == (1, 2, 1, 1)
    assert (r.agreement_pairs, round(r.agreement_sum, 3)) == (1, round(2 * 1 / 3, 3))
    s = ReviewerDay.objects.get(reviewer=sam)
    assert (s.reviews, s.gold_reviews, s.agreement_pairs) == (1, 0, 1)


def test_the_reconcile_step_writes_the_snapshots():
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    report = reconcile()
    assert report["snapshot_datasets"] == 1
    assert DatasetDay.objects.filter(dataset=dataset).exists()
