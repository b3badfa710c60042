"""Numbers a reviewer's score depends on, pinned: gold matching at IoU 0.5 and the cap on time spent.

Each test here fails if its constant drifts (a mutation of GOLD_IOU to 0.05, or the 3,600 s cap removed): a
looser gold match would hide misses from the quality page, and an uncapped clock would let one forgotten tab
wreck a reviewer's median speed.
"""

from __future__ import annotations

import pytest

from reviewer.imaging.geometry import Box
from reviewer.models import Image
from reviewer.services.review import BoxFate
from tests.factories import GoldBoxFactory
from tests.reviewer.services.test_review import make_batch, submit

pytestmark = pytest.mark.django_db


def gold_image(reviewer):
    batch, [image] = make_batch(reviewer, n=1, proposals=False)
    Image.objects.filter(pk=image.pk).update(is_gold=True)
    GoldBoxFactory(image=image, x0=10, y0=8, x1=40, y1=38)  # 30 x 30
    return batch, image


@pytest.mark.parametrize(
    ("kept", "misses"),
    [
        (Box(10, 8, 40, 38), 0),  # the same box
        (Box(10, 8, 40, 28), 0),  # IoU 20/30 = 0.67: the same face, drawn short
        (Box(10, 8, 40, 20), 1),  # IoU 12/30 = 0.4: not the face
        (Box(10, 8, 16, 14), 1),  # IoU 36/900 = 0.04: a sliver of the face is no box over it
    ],
)
def test_a_gold_face_counts_as_found_only_at_iou_half_or_more(reviewer_user, kept, misses):
    batch, image = gold_image(reviewer_user)
    result = submit(reviewer_user, image, batch, fates=[BoxFate(fate="added", box=kept)])
    assert result.review.gold_misses == misses
    assert len(result.missed_gold) == misses


def test_one_box_cannot_find_two_gold_faces(reviewer_user):
    batch, image = gold_image(reviewer_user)
    GoldBoxFactory(image=image, x0=12, y0=10, x1=42, y1=40)  # a second face almost on top of the first
    result = submit(reviewer_user, image, batch, fates=[BoxFate(fate="added", box=Box(10, 8, 40, 38))])
    assert (result.review.gold_misses, result.review.gold_extras) == (1, 0)


@pytest.mark.parametrize(("sent", "saved"), [(12.5, 12.5), (3600.0, 3600.0), (10_000.0, 3600.0), (1e12, 3600.0)])
def test_time_spent_is_saved_as_sent_up_to_an_hour(reviewer_user, sent, saved):
    batch, [image] = make_batch(reviewer_user, n=1)
    review = submit(reviewer_user, image, batch, seconds_spent=sent).review
    review.refresh_from_db()
    assert review.seconds_spent == saved
    assert (review.submitted_at - review.started_at).total_seconds() == pytest.approx(saved, abs=1)
