"""The triage page: open flags strongest first (score x height), keyset pages, a fixed query count; resolving
them: a face sends the image back, not a face dismisses a leak-check find; refusals."""

from __future__ import annotations

import pytest

from reviewer.models import AuditEvent, Export, Image, Leak
from reviewer.services.errors import Forbidden, NotFound, ServiceError
from reviewer.services.safety import second_look_update
from reviewer.services.triage import Cursor, flag_resolve, triage_flags
from tests.factories import (
    CandidateFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    ReviewBoxFactory,
    ReviewFactory,
    UserFactory,
)
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


def flagged_dataset(n_images=3, per_image=3):
    """Images reviewed with one kept box each at (0, 0, 10, 10) and candidates elsewhere, left unresolved."""
    dataset = DatasetFactory()
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    candidates = []
    for i in range(n_images):
        image = ImageFactory(dataset=dataset, status=Image.Status.REVIEWED, content=jpeg_bytes(400, 300, seed=i))
        review = ReviewFactory(image=image, is_current=True)
        ReviewBoxFactory(review=review, proposal=None, fate="added", x0=0, y0=0, x1=10, y1=10)
        for j in range(per_image):
            height = 10 + 7 * ((i * per_image + j) % 5)
            candidates.append(
                CandidateFactory(
                    image=image,
                    run=run,
                    ordinal=j,
                    score=round(0.1 + 0.05 * j, 2),
                    x0=50 + 60 * j,
                    y0=50,
                    x1=50 + 60 * j + height,
                    y1=50 + height,
                )
            )
    second_look_update(image_ids=Image.objects.filter(dataset=dataset).values_list("pk", flat=True))
    return dataset, candidates


def strength(c):
    return c.score * (c.y1 - c.y0)


def test_flags_come_strongest_first_and_keyset_pages_walk_each_once(django_assert_num_queries):
    dataset, candidates = flagged_dataset(n_images=4, per_image=3)
    seen, after, pages = [], None, 0
    while True:
        with django_assert_num_queries(9):
            flags, after = triage_flags(dataset=dataset, after=after, limit=5)
        seen += flags
        pages += 1
        if after is None:
            break
        after = Cursor.decode(after.encode())  # what the page's link carries
    assert pages == 3
    assert sorted(f.pk for f in seen) == sorted(c.pk for c in candidates)
    expected = sorted(candidates, key=lambda c: (-strength(c), c.pk))
    assert [f.pk for f in seen] == [c.pk for c in expected]
    assert all(f.kind == "candidate" for f in seen)


def test_the_query_count_does_not_grow_with_the_flags(django_assert_num_queries):
    small, _ = flagged_dataset(n_images=1, per_image=1)
    large, _ = flagged_dataset(n_images=12, per_image=4)
    with django_assert_num_queries(9):
        triage_flags(dataset=small)
    with django_assert_num_queries(9):
        flags, after = triage_flags(dataset=large)
    assert len(flags) == 24
    assert after is not None


def test_resolved_covered_and_unflagged_candidates_are_not_open_flags_and_leak_finds_are():
    from reviewer.models import ReviewCandidate

    dataset, candidates = flagged_dataset(n_images=2, per_image=2)
    boxed, left, covered, unflagged = candidates
    ReviewCandidate.objects.create(review=boxed.image.reviews.get(), candidate=boxed, fate="boxed")
    ReviewCandidate.objects.create(review=left.image.reviews.get(), candidate=left, fate="left")
    ReviewBoxFactory(review=covered.image.reviews.get(), proposal=None, fate="added",
                     x0=covered.x0, y0=covered.y0, x1=covered.x1, y1=covered.y1)  # fmt: skip
    Image.objects.filter(pk=unflagged.image_id).update(needs_second_look=False)  # the query's filter, on its own
    export = Export.objects.create(dataset=dataset, status=Export.Status.DONE, images_done=2,
                                   options={"leak_check": True})  # fmt: skip
    leak = Leak.objects.create(export=export, image=boxed.image, kind="missed", score=0.9,
                               x0=300, y0=200, x1=340, y1=260)  # fmt: skip
    flags, after = triage_flags(dataset=dataset)
    assert [(f.kind, f.pk) for f in flags] == [("leak", leak.pk), ("candidate", left.pk)]
    assert flags[0].leak_kind == "missed"
    assert after is None
    # The crop holds the region, square, inside the image.
    x, y, w, h = flags[0].crop()
    assert w == h
    assert (x <= 300, y <= 200, x + w >= 340, y + h >= 260) == (True, True, True, True)
    assert (x + w <= 400, y + h <= 300) == (True, True)


def test_a_cursor_that_does_not_parse_starts_at_the_first_page():
    assert Cursor.decode("nonsense") is None
    assert Cursor.decode(None) is None
    assert Cursor.decode(Cursor(2.5, 1, 7).encode()) == Cursor(2.5, 1, 7)


def test_face_on_a_candidate_sends_its_image_back_with_the_place_in_the_reason(admin_user):
    dataset, candidates = flagged_dataset(n_images=1, per_image=1)
    [candidate] = candidates
    sent = flag_resolve(dataset=dataset, kind="candidate", pk=candidate.pk, resolution="face", actor=admin_user)
    assert sent == [candidate.image_id]
    image = Image.objects.get(pk=candidate.image_id)
    assert image.status == Image.Status.NEW  # back in the queues (no detection result in this fixture)
    assert not image.reviews.filter(is_current=True).exists()
    event = AuditEvent.objects.get(verb="image.sent_back")
    assert event.data["reason"] == "triage: a face at [50, 50, 60, 60] (candidate, score 0.10)"


def test_not_a_face_dismisses_a_leak_find_and_is_refused_on_a_candidate(admin_user):
    dataset, candidates = flagged_dataset(n_images=1, per_image=1)
    export = Export.objects.create(dataset=dataset, status=Export.Status.DONE, images_done=1,
                                   options={"leak_check": True})  # fmt: skip
    leak = Leak.objects.create(export=export, image=candidates[0].image, kind="missed", score=0.5,
                               x0=200, y0=100, x1=230, y1=140)  # fmt: skip
    assert flag_resolve(dataset=dataset, kind="leak", pk=leak.pk, resolution="not_face", actor=admin_user) == []
    leak.refresh_from_db()
    assert (leak.resolution, leak.resolved_by) == ("not_a_face", admin_user)
    with pytest.raises(ServiceError) as exc:
        flag_resolve(dataset=dataset, kind="candidate", pk=candidates[0].pk, resolution="not_face", actor=admin_user)
    assert "Only a reviewer's review says a candidate is not a face" in exc.value.message
    assert Image.objects.get(pk=candidates[0].image_id).status == Image.Status.REVIEWED


def test_refused_for_a_reviewer_and_for_another_datasets_flag(admin_user):
    dataset, candidates = flagged_dataset(n_images=1, per_image=1)
    other, _ = flagged_dataset(n_images=1, per_image=1)
    with pytest.raises(Forbidden):
        flag_resolve(dataset=dataset, kind="candidate", pk=candidates[0].pk, resolution="face", actor=UserFactory())
    with pytest.raises(NotFound):
        flag_resolve(dataset=other, kind="candidate", pk=candidates[0].pk, resolution="face", actor=admin_user)
    with pytest.raises(NotFound):
        flag_resolve(dataset=dataset, kind="leak", pk=999, resolution="face", actor=admin_user)
    assert Image.objects.get(pk=candidates[0].image_id).status == Image.Status.REVIEWED
