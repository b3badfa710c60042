import pytest

from reviewer.errors import Conflict, ServiceError
from reviewer.imaging.geometry import Box
from reviewer.models import Assignment, AuditEvent, Batch, GoldBox, Lease
from reviewer.services.assignment import (
    assignment_revoke,
    batch_assign,
    batch_sizes,
    batches_create,
    dataset_assign_round_robin,
    gold_positions,
    image_mark_gold,
    image_unmark_gold,
)
from tests.factories import (
    AdminFactory,
    ApprovalFactory,
    ApprovedBoxFactory,
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    DatasetFactory,
    GoldBoxFactory,
    ImageFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _images(dataset, paths):
    return [ImageFactory(dataset=dataset, relative_path=p) for p in paths]


def _paths(batch):
    return [item.image.relative_path for item in batch.items.select_related("image").order_by("position")]


def test_batches_cut_images_in_path_order(admin_user):
    dataset = DatasetFactory()
    _images(dataset, ["b/2.jpg", "a/1.jpg", "c/5.jpg", "a/0.jpg", "b/1.jpg"])

    batches = batches_create(dataset=dataset, actor=admin_user, size=2)

    assert [b.name for b in batches] == ["batch-001", "batch-002", "batch-003"]
    assert [_paths(b) for b in batches] == [["a/0.jpg", "a/1.jpg"], ["b/1.jpg", "b/2.jpg"], ["c/5.jpg"]]
    assert not any(b.is_pool for b in batches)
    event = AuditEvent.objects.get(verb="batches.created")
    assert event.actor == admin_user
    assert event.data["batches"] == ["batch-001", "batch-002", "batch-003"]


def test_a_second_cut_takes_only_new_images_and_continues_the_numbering(admin_user):
    dataset = DatasetFactory()
    _images(dataset, ["1.jpg", "2.jpg"])
    batches_create(dataset=dataset, actor=admin_user, size=5)
    _images(dataset, ["3.jpg"])

    [batch] = batches_create(dataset=dataset, actor=admin_user, size=5, is_pool=True)

    assert batch.name == "batch-002"
    assert batch.is_pool
    assert _paths(batch) == ["3.jpg"]


def test_gold_images_are_mixed_into_every_batch_and_not_cut(admin_user):
    dataset = DatasetFactory()
    _images(dataset, [f"{i:02d}.jpg" for i in range(10)])
    golds = [GoldBoxFactory(image__dataset=dataset, image__relative_path=f"gold/{i}.jpg").image for i in range(3)]

    batches = batches_create(dataset=dataset, actor=admin_user, size=4, gold_per_batch=2, name_prefix="week1")

    assert [b.name for b in batches] == ["week1-001", "week1-002", "week1-003"]
    gold_paths = {g.relative_path for g in golds}
    for batch, regular in zip(batches, [4, 4, 2], strict=True):
        paths = _paths(batch)
        assert len(paths) == regular + 2
        assert len(set(paths) & gold_paths) == 2
    used = [p for b in batches for p in _paths(b) if p in gold_paths]
    assert sorted(used) == sorted([*gold_paths, *gold_paths])  # round-robin: each gold used twice in 6 slots


def test_gold_positions_are_distinct_and_inside_the_batch():
    for size in range(0, 30):
        for gold in range(0, 4):
            for seed in range(5):
                positions = gold_positions(size, gold, seed)
                assert len(set(positions)) == gold
                assert all(0 <= p < size + gold for p in positions)


@pytest.mark.parametrize("size", [0, -3, "10", 10**6])
def test_batch_size_out_of_range_is_refused(admin_user, size):
    dataset = DatasetFactory()
    _images(dataset, ["1.jpg"])

    with pytest.raises(ServiceError, match="Batch size must be a whole number"):
        batches_create(dataset=dataset, actor=admin_user, size=size)
    assert not Batch.objects.exists()


def test_empty_dataset_is_refused(admin_user):
    dataset = DatasetFactory(name="empty")

    with pytest.raises(ServiceError, match="“empty” has no image left to put in a batch") as exc:
        batches_create(dataset=dataset, actor=admin_user, size=10)
    assert exc.value.code == "nothing_to_batch"


def test_more_gold_than_the_dataset_has_is_refused(admin_user):
    dataset = DatasetFactory()
    _images(dataset, ["1.jpg"])
    GoldBoxFactory(image__dataset=dataset)

    with pytest.raises(ServiceError, match=r"2 gold images per batch were asked for but dataset .* has 1"):
        batches_create(dataset=dataset, actor=admin_user, size=10, gold_per_batch=2)
    assert not Batch.objects.exists()


def test_reviewer_cannot_cut_batches(reviewer_user):
    dataset = DatasetFactory()
    _images(dataset, ["1.jpg"])

    with pytest.raises(ServiceError, match="Only admins"):
        batches_create(dataset=dataset, actor=reviewer_user, size=10)


def test_bad_prefix_is_refused(admin_user):
    dataset = DatasetFactory()
    _images(dataset, ["1.jpg"])

    with pytest.raises(ServiceError, match="prefix"):
        batches_create(dataset=dataset, actor=admin_user, size=10, name_prefix="../x")


def test_assign_batch_to_reviewers(admin_user):
    batch = BatchFactory()
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")

    made = batch_assign(batch=batch, reviewers=[ann, bob, ann], actor=admin_user)

    assert [(a.reviewer.username, a.status, a.assigned_by) for a in made] == [
        ("ann", "active", admin_user),
        ("bob", "active", admin_user),
    ]
    assert AuditEvent.objects.filter(verb="assignment.created").count() == 2


def test_same_batch_twice_to_one_reviewer_is_a_conflict(admin_user):
    assignment = AssignmentFactory()

    with pytest.raises(Conflict, match=f"{assignment.reviewer.username} already has batch"):
        batch_assign(batch=assignment.batch, reviewers=[assignment.reviewer], actor=admin_user)
    assert Assignment.objects.count() == 1


def test_revoked_batch_can_be_given_back_on_the_same_row(admin_user):
    assignment = AssignmentFactory(status=Assignment.Status.REVOKED)

    [again] = batch_assign(batch=assignment.batch, reviewers=[assignment.reviewer], actor=admin_user)

    assert again.pk == assignment.pk
    assert again.status == Assignment.Status.ACTIVE


@pytest.mark.parametrize(
    ("kind", "message"),
    [("admin", "is not a reviewer"), ("inactive", "is inactive")],
)
def test_assigning_to_a_non_reviewer_or_inactive_user_is_refused(admin_user, kind, message):
    batch = BatchFactory()
    user = AdminFactory(username="boss") if kind == "admin" else UserFactory(username="gone", is_active=False)

    with pytest.raises(ServiceError, match=message) as exc:
        batch_assign(batch=batch, reviewers=[user], actor=admin_user)
    assert exc.value.code == "not_a_reviewer"
    assert not Assignment.objects.exists()


def test_round_robin_gives_each_batch_k_distinct_reviewers_evenly(admin_user):
    dataset = DatasetFactory(reviews_required=2)
    batches = [BatchFactory(dataset=dataset, name=f"b{i}") for i in range(3)]
    BatchFactory(dataset=dataset, name="pool", is_pool=True)
    people = [UserFactory(username=n) for n in ("ann", "bob", "cid")]

    made = dataset_assign_round_robin(dataset=dataset, reviewers=people, actor=admin_user)

    holders = {b.name: sorted(b.assignments.values_list("reviewer__username", flat=True)) for b in batches}
    assert holders == {"b0": ["ann", "bob"], "b1": ["ann", "cid"], "b2": ["bob", "cid"]}
    assert len(made) == 6
    assert not Assignment.objects.filter(batch__is_pool=True).exists()


def test_round_robin_fills_only_what_is_missing_and_skips_holders(admin_user):
    dataset = DatasetFactory()
    batch = BatchFactory(dataset=dataset)
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    AssignmentFactory(batch=batch, reviewer=ann)
    AssignmentFactory(batch=batch, reviewer=bob, status=Assignment.Status.REVOKED)

    assert dataset_assign_round_robin(dataset=dataset, reviewers=[ann, bob], actor=admin_user, k=1) == []
    with pytest.raises(ServiceError, match="needs 3 different reviewers but 2 were given"):
        dataset_assign_round_robin(dataset=dataset, reviewers=[ann, bob], actor=admin_user, k=3)
    # k=2: ann holds it, bob lost it once and is not handed it back silently: nobody left to give it to
    assert dataset_assign_round_robin(dataset=dataset, reviewers=[ann, bob], actor=admin_user, k=2) == []


def test_round_robin_refuses_k_below_one(admin_user):
    with pytest.raises(ServiceError, match="at least one reviewer"):
        dataset_assign_round_robin(dataset=DatasetFactory(), reviewers=[UserFactory()], actor=admin_user, k=0)


def test_revoke_releases_the_reviewers_leases_on_the_batch(admin_user):
    from django.utils import timezone

    item = BatchItemFactory()
    assignment = AssignmentFactory(batch=item.batch)
    now = timezone.now()
    Lease.objects.create(image=item.image, reviewer=assignment.reviewer, token="t", acquired_at=now, expires_at=now)

    assignment_revoke(assignment=assignment, actor=admin_user)

    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.REVOKED
    assert not Lease.objects.exists()
    assert AuditEvent.objects.filter(verb="assignment.revoked", object_id=str(assignment.pk)).exists()
    with pytest.raises(Conflict, match="no longer has batch"):
        assignment_revoke(assignment=assignment, actor=admin_user)


def test_mark_gold_from_approved_boxes(admin_user):
    box = ApprovedBoxFactory(x0=1, y0=2, x1=20, y1=30)
    image = box.approval.image

    image_mark_gold(image=image, actor=admin_user)

    image.refresh_from_db()
    assert image.is_gold
    assert [g.box for g in image.gold_boxes.all()] == [Box(1, 2, 20, 30)]
    assert AuditEvent.objects.get(verb="image.gold_marked").data["source"] == "approval"


def test_mark_gold_with_admin_boxes_replaces_and_clamps(admin_user):
    gold = GoldBoxFactory()  # 64x48 image
    image = gold.image

    image_mark_gold(image=image, actor=admin_user, boxes=[Box(50, 40, 90, 60)])

    assert [g.box for g in GoldBox.objects.filter(image=image)] == [Box(50, 40, 64, 48)]


def test_mark_gold_refuses_unapproved_image_and_bad_boxes(admin_user):
    image = ImageFactory(relative_path="x/raw.jpg")

    with pytest.raises(ServiceError, match=r"x/raw\.jpg has no approved boxes yet"):
        image_mark_gold(image=image, actor=admin_user)
    with pytest.raises(ServiceError, match="inverted or empty"):
        image_mark_gold(image=image, actor=admin_user, boxes=[Box(10, 10, 5, 20)])
    with pytest.raises(ServiceError, match="outside the 64x48 image"):
        image_mark_gold(image=image, actor=admin_user, boxes=[Box(100, 100, 120, 120)])
    image.refresh_from_db()
    assert not image.is_gold


def test_mark_gold_with_no_face_approval_is_a_gold_image_with_zero_boxes(admin_user):
    approval = ApprovalFactory()

    image_mark_gold(image=approval.image, actor=admin_user)

    approval.image.refresh_from_db()
    assert approval.image.is_gold
    assert not approval.image.gold_boxes.exists()


def test_unmark_gold(admin_user):
    image = GoldBoxFactory().image

    image_unmark_gold(image=image, actor=admin_user)

    image.refresh_from_db()
    assert not image.is_gold
    assert not image.gold_boxes.exists()
    with pytest.raises(Conflict, match="is not a gold image"):
        image_unmark_gold(image=image, actor=admin_user)


@pytest.mark.parametrize(
    ("total", "size", "sizes"),
    [
        (41, 20, [21, 20]),
        (40, 20, [20, 20]),
        (59, 20, [20, 20, 19]),
        (45, 20, [23, 22]),
        (5, 20, [5]),
        (7, 2, [2, 2, 2, 1]),
    ],
)
def test_batch_sizes_spread_a_small_remainder(total, size, sizes):
    assert batch_sizes(total, size) == sizes
    assert sum(sizes) == total


def test_cutting_41_images_by_20_makes_two_batches(admin_user):
    dataset = DatasetFactory()
    _images(dataset, [f"{i:02d}.jpg" for i in range(41)])
    batches = batches_create(dataset=dataset, actor=admin_user, size=20)
    assert [len(_paths(b)) for b in batches] == [21, 20]
