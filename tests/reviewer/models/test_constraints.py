"""The database itself refuses the rows that would corrupt the flow, whatever code writes them."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from reviewer.models import Approval, Image, Lease, Proposal, Review
from tests.factories import ApprovalFactory, DetectionRunFactory, ImageFactory, ProposalFactory, UserFactory

pytestmark = pytest.mark.django_db


def _refused(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_one_image_per_sha256_per_dataset():
    image = ImageFactory()
    _refused(lambda: Image.objects.create(
        dataset=image.dataset, file="x.jpg", relative_path="other.jpg", sha256=image.sha256, file_size=1,
        format="JPEG", width=1, height=1,
    ))  # fmt: skip


def test_one_image_per_path_per_dataset():
    image = ImageFactory()
    _refused(lambda: Image.objects.create(
        dataset=image.dataset, file="x.jpg", relative_path=image.relative_path, sha256="0" * 64, file_size=1,
        format="JPEG", width=1, height=1,
    ))  # fmt: skip


@pytest.mark.parametrize(
    "box", [(-1, 0, 10, 10), (0, -0.5, 10, 10), (10, 0, 10, 10), (10, 0, 5, 10), (0, 10, 10, 3)], ids=str
)
def test_negative_inverted_or_empty_boxes_are_refused(box):
    image = ImageFactory()
    run = DetectionRunFactory(dataset=image.dataset)
    x0, y0, x1, y1 = box
    _refused(lambda: Proposal.objects.create(run=run, image=image, ordinal=0, score=0.5, x0=x0, y0=y0, x1=x1, y1=y1))


def test_a_score_outside_0_1_is_refused():
    _refused(lambda: ProposalFactory(score=1.5))


def test_a_redelivered_proposal_cannot_be_written_twice():
    proposal = ProposalFactory()
    _refused(lambda: ProposalFactory(run=proposal.run, image=proposal.image, ordinal=proposal.ordinal))


def test_one_lease_per_image():
    image = ImageFactory()
    now = timezone.now()
    Lease.objects.create(image=image, reviewer=UserFactory(), token="a", acquired_at=now, expires_at=now)
    _refused(lambda: Lease.objects.create(
        image=image, reviewer=UserFactory(), token="b", acquired_at=now, expires_at=now + timedelta(minutes=5)
    ))  # fmt: skip


def test_one_current_review_per_reviewer_and_image():
    image, reviewer = ImageFactory(), UserFactory()
    Review.objects.create(image=image, reviewer=reviewer)
    Review.objects.create(image=image, reviewer=reviewer, is_current=False)  # history is fine
    _refused(lambda: Review.objects.create(image=image, reviewer=reviewer))


def test_one_current_approval_per_image():
    approval = ApprovalFactory()
    _refused(lambda: Approval.objects.create(image=approval.image, source=Approval.Source.ADMIN))
