"""Temporal smoothing: less flicker on still content, no colour ghosts behind moving objects, reset at cuts."""

import numpy as np
import pytest

from vidcolor.pipeline.smoothing import FlowSmoother


def _texture(h=72, w=96, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.integers(30, 220, size=(h // 8, w // 8)).astype(np.uint8)
    import cv2

    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def test_flicker_on_a_still_scene_is_damped():
    gray = _texture()
    rng = np.random.default_rng(1)
    smoother = FlowSmoother(strength=0.7, flow_preset="fast")
    raw, smoothed = [], []
    for _ in range(20):
        ab = np.full(gray.shape + (2,), 20.0, np.float32) + rng.normal(0, 8, size=(1, 1, 2)).astype(np.float32)
        raw.append(ab.mean())
        smoothed.append(smoother.smooth(gray, ab).mean())
    assert np.std(np.diff(smoothed[5:])) < 0.5 * np.std(np.diff(raw[5:]))


def test_moving_object_leaves_no_colour_ghost():
    h, w = 72, 128
    background = np.full((h, w), 60, np.uint8)
    smoother = FlowSmoother(strength=0.9, flow_preset="medium")
    for t in range(8):
        x = 10 + 8 * t
        gray = background.copy()
        gray[20:50, x:x + 24] = 220
        ab = np.zeros((h, w, 2), np.float32)
        ab[..., 1] = -40.0  # blue background
        ab[20:50, x:x + 24, 0] = 60.0  # red object
        ab[20:50, x:x + 24, 1] = 40.0
        out = smoother.smooth(gray, ab)
    uncovered = out[25:45, x - 8:x - 2]  # background the object just left
    assert uncovered[..., 0].mean() < 15.0, uncovered[..., 0].mean()
    assert out[25:45, x + 4:x + 20, 0].mean() > 45.0  # the object keeps its own colour


def test_reset_forgets_the_previous_shot():
    gray = _texture()
    smoother = FlowSmoother(strength=0.8)
    for _ in range(5):
        smoother.smooth(gray, np.full(gray.shape + (2,), 50.0, np.float32))
    smoother.reset()
    fresh = np.full(gray.shape + (2,), -30.0, np.float32)
    assert np.allclose(smoother.smooth(gray, fresh), fresh)


def test_strength_zero_is_a_no_op():
    gray = _texture()
    ab = np.random.default_rng(2).normal(0, 10, size=gray.shape + (2,)).astype(np.float32)
    smoother = FlowSmoother(strength=0.0)
    smoother.smooth(gray, ab * 2)
    assert np.array_equal(smoother.smooth(gray, ab), ab)


@pytest.mark.parametrize("preset", ["ultrafast", "fast", "medium"])
@pytest.mark.parametrize("shape", [(16, 640), (16, 4000), (4000, 16)])
def test_strips_are_smoothed_along_their_motion(shape, preset):
    """A frame 40 or 250 times longer than high (DIS's pyramid once failed there): flow is still found."""
    h, w = shape
    still = _texture(h, w)
    moved = np.roll(still, 2, axis=1 if w > h else 0)  # 2 px along the long side
    smoother = FlowSmoother(strength=0.7, flow_preset=preset)
    ab = np.zeros((h, w, 2), np.float32)
    smoother.smooth(still, ab)
    out = smoother.smooth(moved, ab + 10.0)
    assert out.shape == (h, w, 2)
    assert smoother.last_valid_fraction > 0.5  # the warp was trusted: the history was used
    assert 2.0 < float(out.mean()) < 8.0
