"""What the core reads of crowd data: the one crowd module `reviewer` may import (tests/test_import_graph.py).

The core (policies, the lease, the review queue) asks these few questions of the crowd app and knows nothing else
of its models. Every answer is a read; the crowd app writes its rows through its own services. Nothing here
imports `reviewer` beyond its models, so `reviewer.policies` can import this module without a cycle.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Subquery

from crowd.models import CrowdSetup, Participation, QualificationAnswer, QualificationAttempt


def has_crowd_account(user) -> bool:
    """True when an invite link made this account (it has a CrowdWorker row): no password, the session is the
    login. Whether the account may review at all is the policies' question."""
    return hasattr(user, "crowd_worker")  # the reverse one-to-one: read once, then cached on the user


def qualification_required(*, dataset_id: int) -> bool:
    """True when the dataset's crowd setup asks for a qualification round before pool work."""
    return CrowdSetup.objects.filter(dataset_id=dataset_id, qualification_size__gt=0).exists()


def has_passed_qualification(user, *, dataset_id: int) -> bool:
    """True when the user passed one of the dataset's qualification tries."""
    return QualificationAttempt.objects.filter(
        dataset_id=dataset_id, reviewer=user, result=QualificationAttempt.Result.PASSED
    ).exists()


def is_invited_to(user, *, dataset_id: int) -> bool:
    """True when an invite to the dataset brought the user (a participation exists)."""
    return Participation.objects.filter(reviewer=user, invite__dataset_id=dataset_id).exists()


def invite_image_limit(user, *, batch_id: int) -> int | None:
    """The images a crowd invite asked of the user in this batch (the latest participation's, as Participation
    orders by newest first; the same one invite_image_limit_subquery reads), None for no limit."""
    return (
        Participation.objects.filter(reviewer=user, batch_id=batch_id, invite__images_per_worker__isnull=False)
        .values_list("invite__images_per_worker", flat=True)
        .first()
    )


def invite_image_limit_subquery(*, reviewer_id) -> Subquery:
    """`invite_image_limit` as an expression over rows with a batch_id (the reviewer's assignments): the latest
    invite's limit for `reviewer_id` in that batch, NULL for none. `reviewer_id` may be a value or an expression
    (reviewer.prepared passes a marker)."""
    limit = Participation.objects.filter(
        reviewer_id=reviewer_id, batch_id=OuterRef("batch_id"), invite__images_per_worker__isnull=False
    ).order_by("-created_at")
    return Subquery(limit.values("invite__images_per_worker")[:1])


def answered_in_qualification(*, reviewer_id) -> Exists:
    """An expression over rows with an image_id: the reviewer answered that image in a qualification round (so
    a gold image they have seen is not handed to them again as pool work)."""
    answered = QualificationAnswer.objects.filter(attempt__reviewer_id=reviewer_id, image_id=OuterRef("image_id"))
    return Exists(answered)
