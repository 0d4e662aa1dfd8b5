"""TrueChromaColorizer: the true ab of each frame, in order; refuses frames it was not made for."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidcolor.evaluation.true_chroma import TrueChromaColorizer, true_ab
from vidcolor.model.colorizer import working_size


def test_true_ab_is_the_frames_own_chroma_at_working_size():
    rgb = np.zeros((120, 200, 3), np.uint8)
    rgb[..., 0] = 200  # a red-ish field: a > 0
    ab = true_ab([rgb], short_side_px=60)
    h, w = working_size(120, 200, 60)
    assert ab[0].shape == (h, w, 2)
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    np.testing.assert_allclose(ab[0], lab[:h, :w, 1:], atol=1e-3)  # a flat field: same ab at any size


def test_hands_out_the_frames_in_order_and_refuses_others():
    ab = [np.full((4, 6, 2), k, np.float32) for k in range(5)]
    oracle = TrueChromaColorizer(ab, sign=-1.0)
    gray = np.zeros((3, 4, 6), np.uint8)
    assert oracle.predict_ab(gray, None)[:, 0, 0, 0].tolist() == [0.0, -1.0, -2.0]
    with pytest.raises(ValueError, match="does not match"):
        oracle.predict_ab(np.zeros((2, 8, 8), np.uint8), None)  # another size
    with pytest.raises(ValueError, match="does not match"):
        oracle.predict_ab(np.zeros((3, 4, 6), np.uint8), None)  # only 2 frames left
