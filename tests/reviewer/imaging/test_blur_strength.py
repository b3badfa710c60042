"""The default blur's strength, pinned on pixels: sigma follows the box's size at 0.6 x its longest side.

Face detail at the scale of the face itself (eyes, mouth, the outline of the head: stripes half a face apart)
must be gone from the box, not just softened. A weaker blur (0.15 x side, which still looks blurred to a person)
leaves those stripes at several grey levels, enough for a detector to find the face again.
"""

import numpy as np

from reviewer.imaging.blur import blur
from reviewer.imaging.geometry import Box


def stripes(size=640, period=48):
    x = np.arange(size)
    row = np.where((x // (period // 2)) % 2 == 0, 255, 0).astype(np.uint8)
    return np.repeat(np.repeat(row[None, :, None], size, axis=0), 3, axis=2)


def test_face_scale_detail_is_erased_inside_a_large_box():
    pixels = stripes()
    face = Box(260, 260, 380, 380)  # 120 px: sigma 72 by the rule, 18 at 0.15 x side
    out = blur(pixels, [face], mode="gaussian").astype(np.int16)
    inside = out[270:370, 270:370, 0]
    # Across a row, the stripes' contrast left inside the box, in grey levels (255 before the blur).
    assert int(np.ptp(inside, axis=1).max()) <= 3


def test_small_boxes_get_the_sigma_floor_not_a_token_blur():
    pixels = stripes(size=200, period=8)
    face = Box(90, 90, 102, 102)  # 12 px: 0.6 x side is 7.2 px, above the 6 px floor
    out = blur(pixels, [face], mode="gaussian").astype(np.int16)
    assert int(np.ptp(out[92:100, 92:100, 0], axis=1).max()) <= 3
