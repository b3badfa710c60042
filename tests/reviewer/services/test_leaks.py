from reviewer.imaging.blur import region
from reviewer.imaging.geometry import Box
from reviewer.models import Leak
from reviewer.services.leaks import classify_leak

BOX = Box(100, 100, 120, 124)  # an approved face box, 20 x 24 px


def kind(found: Box, score: float = 0.3) -> str:
    return classify_leak(found, [BOX], score=score)


def test_a_find_on_the_blurred_box_itself_is_a_residual_face():
    assert kind(Box(101, 99, 121, 123)) == Leak.Kind.RESIDUAL


def test_a_find_in_the_blur_margin_but_off_the_box_is_not_residual():
    margin = region(BOX, 400, 300, mode="gaussian")
    found = Box(121, 110, 133, 124)  # centre (127, 117): outside the box, inside what its blur reached
    assert margin.x0 <= 127 <= margin.x1
    assert margin.y0 <= 117 <= margin.y1
    assert kind(found, score=0.35) == Leak.Kind.MISSED


def test_a_find_centred_on_the_box_but_much_larger_counts_only_when_it_scores_like_a_face():
    # A box over the eyes only: the face found around it holds the whole box.
    face = Box(80, 80, 140, 160)
    assert kind(face, score=0.9) == Leak.Kind.RESIDUAL
    # The smudge a blurred crowd face leaves, found at a low score around the box, is no residual face.
    assert kind(face, score=0.3) == Leak.Kind.MISSED
