import pytest

from reviewer.imaging.geometry import Box
from reviewer.models import Assignment, Image
from reviewer.selectors.workflow import approval_queue, dataset_quality, dataset_workflow_counts
from reviewer.services.assignment import image_mark_gold
from tests.factories import (
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    DatasetFactory,
    GoldBoxFactory,
    ImageFactory,
    UserFactory,
    make_review,
)

pytestmark = pytest.mark.django_db


def test_queue_puts_unsure_then_disagreement_then_path_order():
    dataset = DatasetFactory()
    ann, bob = UserFactory(), UserFactory()
    images = {p: ImageFactory(dataset=dataset, relative_path=p, status=Image.Status.REVIEWED) for p in "abcd"}
    for p in "abcd":
        make_review(images[p], ann, (10, 10, 30, 30), is_unsure=p == "d")
    make_review(images["a"], bob, (11, 10, 30, 30))
    make_review(images["b"], bob)  # bob saw no face where ann did
    make_review(images["c"], bob, (10, 10, 30, 30))
    make_review(images["d"], bob, (10, 10, 30, 30))

    queue = approval_queue(dataset)

    assert [e.image.relative_path for e in queue] == ["d", "b", "a", "c"]
    b = queue[1]
    assert b.has_disagreement
    assert [f.support for f in b.consolidation.faces] == [1]


def test_deleted_proposals_are_not_faces_and_no_face_votes_disagreeing_are_flagged():
    dataset = DatasetFactory()
    image = ImageFactory(dataset=dataset, status=Image.Status.REVIEWED)
    make_review(image, UserFactory(), deleted=[(1, 1, 9, 9)], has_no_faces=True)
    make_review(image, UserFactory(), deleted=[(1, 1, 9, 9)])

    [entry] = approval_queue(dataset)

    assert entry.consolidation.boxes == []
    assert entry.has_disagreement  # one said "no faces here", the other did not: worth a look


def test_quality_counts_only_reviews_of_the_batch_holder_and_ignores_revoked_totals():
    dataset = DatasetFactory()
    batch = BatchFactory(dataset=dataset)
    items = [BatchItemFactory(batch=batch) for _ in range(3)]
    ann, bob, eve = UserFactory(username="ann"), UserFactory(username="bob"), UserFactory(username="eve")
    AssignmentFactory(batch=batch, reviewer=ann)
    AssignmentFactory(batch=batch, reviewer=bob, status=Assignment.Status.REVOKED)
    make_review(items[0].image, ann, seconds_spent=3)
    make_review(items[1].image, ann, seconds_spent=5)
    make_review(items[1].image, bob, seconds_spent=100)  # work done before the batch was taken back
    make_review(items[2].image, eve, seconds_spent=1)  # eve does not hold the batch: not counted here
    outside = ImageFactory(dataset=dataset)
    make_review(outside, ann, seconds_spent=60)  # not in any of ann's batches

    quality = dataset_quality(dataset)

    [row] = quality.batches
    by_name = {a.reviewer.username: s for a, s in row.assignments}
    assert (by_name["ann"].reviewed, by_name["ann"].total, by_name["ann"].mean_seconds) == (2, 3, 4.0)
    assert (by_name["bob"].reviewed, by_name["bob"].total) == (1, 0)
    assert (row.stats.reviewed, row.stats.total) == (3, 3)
    assert [r.reviewer.username for r in quality.reviewers] == ["ann", "bob"]
    assert quality.reviewers[1].batches == 0


def test_gold_miss_rate_uses_the_score_saved_at_submit_and_scores_reviews_made_before_gold(admin_user):
    image = ImageFactory(status=Image.Status.APPROVED)
    item = BatchItemFactory(image=image, batch__dataset=image.dataset)
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    for person in (ann, bob):
        AssignmentFactory(batch=item.batch, reviewer=person)
    make_review(image, ann, (10, 10, 30, 30))  # reviewed before the image was gold: scored when it becomes gold
    make_review(image, bob, (10, 10, 30, 30), (40, 10, 60, 30))
    assert {r.reviewer.username: r.stats.gold_miss_rate for r in dataset_quality(image.dataset).reviewers} == {
        "ann": None,
        "bob": None,
    }

    image_mark_gold(image=image, actor=admin_user, boxes=[Box(10, 10, 30, 30), Box(40, 10, 60, 30)])

    quality = dataset_quality(image.dataset)
    rates = {r.reviewer.username: (r.stats.gold_miss_rate, r.stats.gold_misses) for r in quality.reviewers}
    assert rates == {"ann": (0.5, 1), "bob": (0.0, 0)}
    assert (quality.dataset.gold_reviews, quality.dataset.gold_boxes) == (2, 4)


def test_counts_for_the_dataset_panel():
    dataset = DatasetFactory()
    ImageFactory(dataset=dataset)
    BatchItemFactory(batch__dataset=dataset, image__status=Image.Status.REVIEWED)
    BatchFactory(dataset=dataset, is_pool=True)
    GoldBoxFactory(image__dataset=dataset)

    counts = dataset_workflow_counts(dataset)

    assert counts["images"] == 3
    assert counts["batches"] == 2
    assert counts["pool_batches"] == 1
    assert counts["unbatched"] == 1  # the gold image is not counted: it is mixed in, never cut
    assert counts["gold"] == 1
    assert counts["waiting_approval"] == 1


def test_queue_pages_show_every_waiting_image_once_second_look_first_then_unsure_disputed_and_path():
    from reviewer.selectors.workflow import approval_queue_page

    dataset = DatasetFactory()
    ann, bob = UserFactory(), UserFactory()
    expected = {"look": [], "unsure": [], "disputed": [], "agreed": []}
    for i in range(23):
        kind = ("look", "unsure", "disputed", "agreed", "agreed")[i % 5]
        image = ImageFactory(
            dataset=dataset, relative_path=f"{(i * 7) % 23:02d}.jpg", status=Image.Status.REVIEWED,
            needs_second_look=kind == "look",
        )  # fmt: skip
        make_review(image, ann, (10, 10, 30, 30), is_unsure=kind == "unsure")
        make_review(image, bob, *([(10, 10, 30, 30)] if kind != "disputed" else []))
        expected[kind].append(image)
    ImageFactory(dataset=dataset, status=Image.Status.IN_REVIEW)  # not waiting: never shown
    order = [i.pk for group in expected.values() for i in sorted(group, key=lambda i: i.relative_path)]

    seen, after = [], None
    while True:
        page = approval_queue_page(dataset, after=after, limit=4)
        seen.append([entry.image.pk for entry in page.entries])
        after = page.next_after
        if after is None:
            break

    assert [pk for p in seen for pk in p] == order
    assert [len(p) for p in seen] == [4, 4, 4, 4, 4, 3]
    entries = approval_queue_page(dataset, limit=50).entries
    flags = [(e.image.needs_second_look, e.is_unsure, e.has_disagreement) for e in entries]
    assert (
        flags
        == [(True, False, False)] * 5
        + [(False, True, False)] * 5
        + [(False, False, True)] * 5
        + [(False, False, False)] * 8
    )


def test_flagged_images_queue_most_flagged_first_across_pages_and_are_counted():
    from reviewer.selectors.workflow import approval_queue_flagged_count, approval_queue_page

    dataset = DatasetFactory()
    ann = UserFactory()
    weights = {"a.jpg": 1, "b.jpg": 7, "c.jpg": 3, "d.jpg": 7, "e.jpg": 2, "f.jpg": 0, "g.jpg": 0}
    for path, weight in weights.items():
        reasons = [{"code": "candidates", "count": weight}] if weight else []
        image = ImageFactory(
            dataset=dataset, relative_path=path, status=Image.Status.REVIEWED, needs_second_look=bool(weight),
            second_look_reasons=reasons, second_look_weight=Image.flag_weight(reasons),
        )  # fmt: skip
        make_review(image, ann, (10, 10, 30, 30))

    seen, after = [], None
    while True:
        page = approval_queue_page(dataset, after=after, limit=2)
        seen += [entry.image.relative_path for entry in page.entries]
        after = page.next_after
        if after is None:
            break

    assert seen == ["b.jpg", "d.jpg", "c.jpg", "e.jpg", "a.jpg", "f.jpg", "g.jpg"]
    assert approval_queue_flagged_count(dataset) == 5


def test_the_weight_is_the_sum_of_the_reasons_counts():
    assert Image.flag_weight([{"code": "candidates", "count": 3}, {"code": "crowd_no_box", "count": 1}]) == 4
    assert Image.flag_weight([]) == 0
