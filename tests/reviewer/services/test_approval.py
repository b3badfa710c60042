import pytest

from reviewer.errors import Conflict, ServiceError
from reviewer.imaging.geometry import Box
from reviewer.models import Approval, AuditEvent, DetectionResult, Image, Lease, Review
from reviewer.services.approval import image_approve, image_send_back, images_approve
from tests.factories import (
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    ProposalFactory,
    UserFactory,
    make_review,
)

pytestmark = pytest.mark.django_db


def boxes_of(approval):
    return [b.box for b in approval.boxes.order_by("x0")]


def test_approve_merges_two_reviews_by_overlap_keeping_every_face(admin_user):
    image = ImageFactory(status=Image.Status.REVIEWED, revision=3)
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    r1 = make_review(image, ann, (10, 10, 30, 30), (40, 5, 60, 25))
    r2 = make_review(image, bob, (12, 11, 31, 32), deleted=[(40, 5, 60, 25)])

    approval = image_approve(image=image, actor=admin_user)

    assert boxes_of(approval) == [Box(10, 10, 31, 32), Box(40, 5, 60, 25)]  # union of the pair; ann's lone face kept
    assert approval.source == Approval.Source.REVIEWS
    assert approval.is_current
    assert approval.approved_by == admin_user
    assert set(approval.reviews.all()) == {r1, r2}
    image.refresh_from_db()
    assert (image.status, image.revision) == (Image.Status.APPROVED, 4)
    event = AuditEvent.objects.get(verb="image.approved")
    assert event.actor == admin_user
    assert event.object_id == str(image.pk)


def test_no_faces_reviews_give_an_approval_with_zero_boxes(admin_user):
    image = ImageFactory(status=Image.Status.REVIEWED)
    make_review(image, UserFactory(), has_no_faces=True, deleted=[(1, 1, 9, 9)])

    approval = image_approve(image=image, actor=admin_user)

    assert approval.boxes.count() == 0
    assert Image.objects.get(pk=image.pk).status == Image.Status.APPROVED


def test_re_approving_supersedes_the_old_approval(admin_user):
    image = ImageFactory(status=Image.Status.REVIEWED)
    make_review(image, UserFactory(), (10, 10, 30, 30))
    first = image_approve(image=image, actor=admin_user)

    second = image_approve(image=image, actor=admin_user, boxes=[Box(0, 0, 20, 20)])

    first.refresh_from_db()
    assert not first.is_current
    assert second.is_current
    assert second.source == Approval.Source.ADMIN
    assert boxes_of(second) == [Box(0, 0, 20, 20)]
    assert Approval.objects.filter(image=image).count() == 2
    assert Image.objects.get(pk=image.pk).revision == 2


@pytest.mark.parametrize("status", [Image.Status.NEW, Image.Status.DETECTED, Image.Status.IN_REVIEW])
def test_approving_an_image_that_is_not_reviewed_is_refused(admin_user, status):
    image = ImageFactory(status=status, relative_path="p/q.jpg")
    make_review(image, UserFactory(), (10, 10, 30, 30))

    with pytest.raises(Conflict, match=r"p/q\.jpg is not reviewed yet") as exc:
        image_approve(image=image, actor=admin_user)
    assert exc.value.code == "not_reviewed"
    assert not Approval.objects.exists()
    assert Image.objects.get(pk=image.pk).status == status


def test_stale_revision_is_refused(admin_user):
    image = ImageFactory(status=Image.Status.REVIEWED, revision=5)
    make_review(image, UserFactory(), (10, 10, 30, 30))

    with pytest.raises(Conflict, match="changed since you loaded it"):
        image_approve(image=image, actor=admin_user, expected_revision=4)
    assert not Approval.objects.exists()


def test_reviewer_cannot_approve(reviewer_user):
    image = ImageFactory(status=Image.Status.REVIEWED)
    make_review(image, UserFactory(), (10, 10, 30, 30))

    with pytest.raises(ServiceError, match="Only admins approve"):
        image_approve(image=image, actor=reviewer_user)


def test_bad_admin_boxes_are_refused(admin_user):
    image = ImageFactory(status=Image.Status.REVIEWED)

    with pytest.raises(ServiceError, match="inverted or empty"):
        image_approve(image=image, actor=admin_user, boxes=[Box(30, 30, 10, 10)])


def test_approval_drops_the_lease(admin_user):
    from django.utils import timezone

    image = ImageFactory(status=Image.Status.REVIEWED)
    rob = UserFactory()
    make_review(image, rob, (10, 10, 30, 30))
    Lease.objects.create(image=image, reviewer=rob, token="x", acquired_at=timezone.now(), expires_at=timezone.now())

    image_approve(image=image, actor=admin_user)

    assert not Lease.objects.exists()


def test_approve_all_remaining_approves_only_reviewed_images(admin_user):
    dataset = DatasetFactory()
    waiting = [ImageFactory(dataset=dataset, status=Image.Status.REVIEWED) for _ in range(3)]
    pending = ImageFactory(dataset=dataset, status=Image.Status.IN_REVIEW)
    other = ImageFactory(status=Image.Status.REVIEWED)  # another dataset
    for image in [*waiting, pending, other]:
        make_review(image, UserFactory(), (10, 10, 30, 30))

    result = images_approve(dataset=dataset, actor=admin_user)

    assert sorted(result.approved) == sorted(i.pk for i in waiting)
    assert result.skipped == []
    statuses = dict(Image.objects.values_list("pk", "status"))
    assert [statuses[i.pk] for i in waiting] == ["approved"] * 3
    assert statuses[pending.pk] == "in_review"
    assert statuses[other.pk] == "reviewed"
    assert [boxes_of(Approval.objects.get(image=i)) for i in waiting] == [[Box(10, 10, 30, 30)]] * 3
    assert AuditEvent.objects.filter(verb="image.approved").count() == 3
    assert Approval.reviews.through.objects.count() == 3


def test_approve_a_page_skips_ids_that_are_not_waiting(admin_user):
    dataset = DatasetFactory()
    a = ImageFactory(dataset=dataset, status=Image.Status.REVIEWED)
    b = ImageFactory(dataset=dataset, status=Image.Status.REVIEWED)
    done = ImageFactory(dataset=dataset, status=Image.Status.APPROVED)
    foreign = ImageFactory(status=Image.Status.REVIEWED)
    for image in (a, b, foreign):
        make_review(image, UserFactory(), (10, 10, 30, 30))

    result = images_approve(dataset=dataset, actor=admin_user, image_ids=[a.pk, done.pk, foreign.pk, 999999])

    assert result.approved == [a.pk]
    assert result.skipped == [done.pk, foreign.pk, 999999]
    assert Image.objects.get(pk=b.pk).status == Image.Status.REVIEWED


def test_send_back_retires_approval_and_reviews(admin_user):
    image = ImageFactory(status=Image.Status.REVIEWED)
    ProposalFactory(image=image)
    r = make_review(image, UserFactory(), (10, 10, 30, 30))
    approval = image_approve(image=image, actor=admin_user)

    image_send_back(image=image, actor=admin_user, reason="missed the child on the left")

    image.refresh_from_db()
    approval.refresh_from_db()
    assert image.status == Image.Status.DETECTED
    assert image.revision == 2
    assert not approval.is_current
    assert not Review.objects.get(pk=r.pk).is_current
    event = AuditEvent.objects.get(verb="image.sent_back")
    assert event.data["reason"] == "missed the child on the left"
    assert event.data["previous_status"] == "approved"
    assert image.sent_back["by"] == admin_user.username  # the review page tells the reviewer
    assert image.sent_back["reason"] == "missed the child on the left"


def test_send_back_of_an_image_detection_never_ran_on_returns_to_new(admin_user):
    image = ImageFactory(status=Image.Status.REVIEWED)
    make_review(image, UserFactory())

    assert image_send_back(image=image, actor=admin_user).status == Image.Status.NEW


def test_send_back_of_an_image_the_detector_found_no_face_in_stays_detected(admin_user):
    image = ImageFactory(status=Image.Status.REVIEWED)
    run = DetectionRunFactory(dataset=image.dataset)
    DetectionResult.objects.create(run=run, image=image, status=DetectionResult.Status.DONE, face_count=0)
    make_review(image, UserFactory(), has_no_faces=True)

    sent = image_send_back(image=image, actor=admin_user)

    assert sent.status == Image.Status.DETECTED
    assert sent.get_status_display() == "Proposals ready"


def test_send_back_of_an_unreviewed_image_is_refused(admin_user):
    image = ImageFactory(status=Image.Status.DETECTED)

    with pytest.raises(Conflict, match="nothing to send back"):
        image_send_back(image=image, actor=admin_user)


@pytest.mark.django_db(transaction=True)
def test_admins_approving_at_once_leave_one_current_approval_per_image():
    """Real concurrent approvals, each thread on its own database connection: the row locks serialise them."""
    import threading

    from django.db import connection

    from tests.factories import AdminFactory

    dataset = DatasetFactory()
    images = [ImageFactory(dataset=dataset, status=Image.Status.REVIEWED) for _ in range(5)]
    for image in images:
        make_review(image, UserFactory(), (10, 10, 30, 30))
    admins = [AdminFactory() for _ in range(4)]
    barrier = threading.Barrier(len(admins))
    results, errors = {}, []

    def approve(admin, index):
        try:
            barrier.wait()
            if index % 2:
                results[admin.pk] = images_approve(dataset=dataset, actor=admin).approved
            else:
                image_approve(image=images[0], actor=admin)
                results[admin.pk] = [images[0].pk]
        except Exception as exc:  # a lost race must show as a test failure, not a dead thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(a, i)) for i, a in enumerate(admins)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert set(Image.objects.values_list("status", flat=True)) == {Image.Status.APPROVED}
    for image in images:
        assert Approval.objects.filter(image=image, is_current=True).count() == 1
    bulk_approved = sorted(i for admin in admins[1::2] for i in results[admin.pk])
    # Each image is approved in bulk once; the first may have gone to a single approval before a bulk call.
    assert bulk_approved in (sorted(i.pk for i in images), sorted(i.pk for i in images[1:]))


def test_approve_a_page_skips_images_changed_since_the_admin_saw_them(admin_user):
    dataset = DatasetFactory()
    seen = ImageFactory(dataset=dataset, status=Image.Status.REVIEWED, revision=2)
    changed = ImageFactory(dataset=dataset, status=Image.Status.REVIEWED, revision=4)
    for image in (seen, changed):
        make_review(image, UserFactory(), (10, 10, 30, 30))

    result = images_approve(
        dataset=dataset,
        actor=admin_user,
        image_ids=[seen.pk, changed.pk],
        expected_revisions={seen.pk: 2, changed.pk: 3},
    )

    assert result.approved == [seen.pk]
    assert result.skipped == [changed.pk]
    assert Image.objects.get(pk=changed.pk).status == Image.Status.REVIEWED
