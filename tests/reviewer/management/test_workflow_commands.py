import io

import pytest
from django.core.management import CommandError, call_command

from reviewer.models import Approval, Assignment, AuditEvent, Batch, Image
from tests.factories import (
    AdminFactory,
    BatchFactory,
    DatasetFactory,
    GoldBoxFactory,
    ImageFactory,
    ReviewFactory,
    UserFactory,
    make_review,
)

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_make_batches_with_pool_and_gold(admin_user):
    dataset = DatasetFactory(name="faces")
    for i in range(5):
        ImageFactory(dataset=dataset, relative_path=f"{i}.jpg")
    GoldBoxFactory(image__dataset=dataset)

    out = run("make_batches", "--dataset", "faces", "--size", "2", "--pool", "--gold-per-batch", "1")

    assert out.splitlines() == [
        "batch-001: 3 images (pool)",
        "batch-002: 3 images (pool)",
        "batch-003: 2 images (pool)",
        "3 batches made in dataset 'faces'.",
    ]
    assert set(Batch.objects.values_list("is_pool", flat=True)) == {True}
    assert AuditEvent.objects.get(verb="batches.created").actor == admin_user


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "nope", "--size", "2"], "There is no dataset called 'nope'."),
        (["--dataset", "faces", "--size", "0"], "Batch size must be a whole number from 1"),
        (["--dataset", "faces", "--size", "2", "--user", "rob"], "'rob' is not an active admin"),
    ],
)
def test_make_batches_refusals(admin_user, args, message):
    DatasetFactory(name="faces")
    ImageFactory(dataset__name="other")
    UserFactory(username="rob")

    with pytest.raises(CommandError, match=message):
        run("make_batches", *args)
    assert not Batch.objects.exists()


def test_commands_need_an_admin_to_act_as():
    ImageFactory(dataset=DatasetFactory(name="faces", created_by=None))

    with pytest.raises(CommandError, match="There is no active admin to act as"):
        run("make_batches", "--dataset", "faces", "--size", "2")


def test_assign_round_robin_and_one_batch(admin_user):
    dataset = DatasetFactory(name="faces", reviews_required=2)
    for name in ("b1", "b2"):
        BatchFactory(dataset=dataset, name=name)
    for name in ("ann", "bob", "cid"):
        UserFactory(username=name)

    out = run("assign", "--dataset", "faces", "--reviewers", "ann,bob,cid")

    assert out.splitlines() == ["b1 -> ann", "b1 -> bob", "b2 -> cid", "b2 -> ann", "4 assignments made."]
    BatchFactory(dataset=dataset, name="extra", is_pool=True)
    out = run("assign", "--dataset", "faces", "--reviewers", "bob", "--batch", "extra")
    assert out.splitlines() == ["extra -> bob", "1 assignment made."]


def test_assign_refuses_unknown_and_non_reviewers(admin_user):
    DatasetFactory(name="faces")
    AdminFactory(username="boss")

    with pytest.raises(CommandError, match=r"No such user: ghost\."):
        run("assign", "--dataset", "faces", "--reviewers", "ghost")
    with pytest.raises(CommandError, match="“boss” is not a reviewer"):
        run("assign", "--dataset", "faces", "--reviewers", "boss")
    assert not Assignment.objects.exists()


def test_approve_lists_then_approves_all_reviewed(admin_user):
    dataset = DatasetFactory(name="faces")
    calm = ImageFactory(dataset=dataset, relative_path="a.jpg", status=Image.Status.REVIEWED)
    unsure = ImageFactory(dataset=dataset, relative_path="b.jpg", status=Image.Status.REVIEWED)
    ImageFactory(dataset=dataset, relative_path="c.jpg", status=Image.Status.IN_REVIEW)
    make_review(calm, UserFactory(), (1, 1, 10, 10))
    make_review(unsure, UserFactory(), is_unsure=True, has_no_faces=True)

    listing = run("approve", "--dataset", "faces")
    assert listing.splitlines() == [
        "b.jpg: 0 faces [unsure]",
        "a.jpg: 1 face",
        "2 images waiting for approval, 1 flagged unsure or with disagreement. Nothing approved: pass "
        "--all-reviewed or --image PATH.",
    ]
    assert not Approval.objects.exists()

    out = run("approve", "--dataset", "faces", "--all-reviewed")

    assert out.splitlines() == ["2 images approved, 0 skipped, in dataset 'faces'."]
    assert dict(Image.objects.values_list("relative_path", "status")) == {
        "a.jpg": "approved",
        "b.jpg": "approved",
        "c.jpg": "in_review",
    }


def test_approve_named_images_reports_the_ones_not_waiting(admin_user):
    dataset = DatasetFactory(name="faces")
    ready = ImageFactory(dataset=dataset, relative_path="ready.jpg", status=Image.Status.REVIEWED)
    ImageFactory(dataset=dataset, relative_path="early.jpg", status=Image.Status.DETECTED)
    ReviewFactory(image=ready, has_no_faces=True)

    with pytest.raises(CommandError, match="Some images were not approved"):
        run("approve", "--dataset", "faces", "--image", "ready.jpg", "--image", "early.jpg")
    with pytest.raises(CommandError, match=r"has no image missing\.jpg"):
        run("approve", "--dataset", "faces", "--image", "missing.jpg")

    assert Image.objects.get(pk=ready.pk).status == Image.Status.APPROVED
