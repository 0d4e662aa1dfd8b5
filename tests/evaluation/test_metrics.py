"""Tests for vidcolor.evaluation.metrics: per-image metrics and streaming temporal accumulators."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from vidcolor.evaluation.metrics import (
    CDCAccumulator,
    WarpErrorAccumulator,
    colorfulness,
    consistency_mask,
    js_divergence,
    psnr_rgb,
    rgb_to_luma,
    ssim_rgb,
)


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random colored texture (uint8 RGB) that optical flow can track."""
    rng = np.random.default_rng(seed)
    t = rng.random((h // 4, w // 4, 3)).astype(np.float32)
    t = cv2.resize(t, (w, h), interpolation=cv2.INTER_CUBIC)
    t = cv2.GaussianBlur(t, (0, 0), 1.5)
    return np.clip(t * 255, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    """A 64x96 colored texture."""
    return texture(64, 96, seed=3)


# ---------------------------------------------------------------------------------------------- PSNR


def test_psnr_identical_is_inf(img: np.ndarray) -> None:
    assert psnr_rgb(img, img.copy()) == math.inf


def test_psnr_drops_with_noise(img: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    small = np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
    large = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
    p_small, p_large = psnr_rgb(small, img), psnr_rgb(large, img)
    assert 35 < p_small < 60
    assert p_large < p_small - 10


def test_psnr_known_value() -> None:
    a = np.zeros((8, 8, 3), np.uint8)
    b = np.full((8, 8, 3), 255, np.uint8)
    assert psnr_rgb(a, b) == pytest.approx(0.0)
    c = a.copy()
    c[...] = 1  # MSE = 1
    assert psnr_rgb(c, a) == pytest.approx(20 * math.log10(255))


def test_psnr_rejects_bad_input(img: np.ndarray) -> None:
    with pytest.raises(ValueError, match="same shape"):
        psnr_rgb(img, img[:32])
    with pytest.raises(ValueError, match="uint8"):
        psnr_rgb(img.astype(np.float32), img)


# ---------------------------------------------------------------------------------------------- SSIM


def test_ssim_identical_is_one(img: np.ndarray) -> None:
    assert ssim_rgb(img, img.copy()) == pytest.approx(1.0)


def test_ssim_in_unit_range_and_drops(img: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    noisy = np.clip(img + rng.normal(0, 25, img.shape), 0, 255).astype(np.uint8)
    s = ssim_rgb(noisy, img)
    assert 0.0 <= s < 0.9
    gray = np.repeat(rgb_to_luma(img)[:, :, None], 3, axis=2)
    assert 0.0 <= ssim_rgb(gray, img) <= 1.0


# --------------------------------------------------------------------------------------- colorfulness


def test_colorfulness_gray_is_zero(img: np.ndarray) -> None:
    gray = np.repeat(rgb_to_luma(img)[:, :, None], 3, axis=2)
    assert colorfulness(gray) == pytest.approx(0.0, abs=1e-12)


def test_colorfulness_saturated_beats_desaturated(img: np.ndarray) -> None:
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    hsv[:, :, 1] = (hsv[:, :, 1] * 0.3).astype(np.uint8)
    desat = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    assert colorfulness(img) > 1.5 * colorfulness(desat) > 0


def test_colorfulness_hand_computed() -> None:
    rgb = np.array([[[255, 0, 0], [0, 0, 255]]], dtype=np.uint8)  # one red, one blue pixel
    # rg = [255, 0]; yb = [127.5, -255]
    rg, yb = np.array([255.0, 0.0]), np.array([127.5, -255.0])
    expected = math.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    # rg: std 127.5, mean 127.5; yb: std 191.25, mean -63.75
    assert expected == pytest.approx(math.sqrt(127.5**2 + 191.25**2) + 0.3 * math.sqrt(127.5**2 + 63.75**2))
    assert colorfulness(rgb) == pytest.approx(expected)


# ------------------------------------------------------------------------------------------------ CDC


def test_js_divergence_bounds() -> None:
    p = np.array([1.0, 0.0])
    q = np.array([0.0, 1.0])
    assert js_divergence(p, p) == pytest.approx(0.0)
    assert js_divergence(p, q) == pytest.approx(math.log(2))
    assert js_divergence(np.array([2.0, 2.0]), np.array([1.0, 1.0])) == pytest.approx(0.0)


def test_cdc_constant_clip_is_zero(img: np.ndarray) -> None:
    acc = CDCAccumulator()
    for _ in range(8):
        acc.update(img)
    assert acc.value() == pytest.approx(0.0, abs=1e-12)
    assert acc.per_gap().keys() == {1, 2, 4}
    assert acc.pairs == 7 + 6 + 4


@pytest.mark.parametrize("space", ["ab", "rgb"])
def test_cdc_flicker_is_large(img: np.ndarray, space: str) -> None:
    warm = (0.5 * img + 0.5 * np.array([230, 120, 20])).astype(np.uint8)  # orange-tinted
    swapped = warm[:, :, ::-1].copy()  # the same scene tinted blue
    img = warm
    acc = CDCAccumulator(space=space)
    for t in range(9):
        acc.update(img if t % 2 == 0 else swapped)
    gaps = acc.per_gap()
    assert gaps[1] > 0.05  # colors flip every frame
    assert gaps[2] == pytest.approx(0.0, abs=1e-12) and gaps[4] == pytest.approx(0.0, abs=1e-12)
    assert acc.value() == pytest.approx(gaps[1] / 3)
    assert acc.value() > 0.01


def test_cdc_cut_stops_pairs_across_it(img: np.ndarray) -> None:
    other = np.zeros_like(img)
    other[..., 0] = 200  # a saturated red shot
    ref = CDCAccumulator()
    for _ in range(5):
        ref.update(img)
    for _ in range(5):
        ref.update(other)
    assert ref.value() > 0.05  # the shot change is counted without a cut

    for how in ("reset", "cut", "arg"):
        acc = CDCAccumulator()
        for _ in range(5):
            acc.update(img)
        if how == "reset":
            acc.reset()
        elif how == "cut":
            acc.cut()
        for i in range(5):
            acc.update(other, cut=(how == "arg" and i == 0))
        assert acc.value() == pytest.approx(0.0, abs=1e-12), how
        assert acc.pairs == 2 * (4 + 3 + 1), how
        assert acc.frames == 10


def test_cdc_empty_is_nan() -> None:
    acc = CDCAccumulator()
    assert math.isnan(acc.value())


def test_cdc_bad_args() -> None:
    with pytest.raises(ValueError):
        CDCAccumulator(space="hsv")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CDCAccumulator(gaps=(0,))


# ----------------------------------------------------------------------------------------- warp error

H, W = 90, 120


@pytest.fixture(scope="module")
def world() -> np.ndarray:
    """A colored texture larger than the frame, to pan across."""
    return texture(H + 40, W + 60, seed=7)


def feed(acc: WarpErrorAccumulator, frames: list[np.ndarray]) -> float:
    """Feed original frames as both reference and prediction; return the accumulator value."""
    for f in frames:
        acc.update(rgb_to_luma(f), f)
    return acc.value()


def test_warp_error_static_scene_is_zero(world: np.ndarray) -> None:
    f = world[:H, :W]
    acc = WarpErrorAccumulator()
    assert feed(acc, [f] * 5) == pytest.approx(0.0, abs=1e-3)
    assert acc.pairs == 4


def test_warp_error_translation_is_compensated(world: np.ndarray) -> None:
    frames = [world[5 + t : 5 + t + H, 3 * t : 3 * t + W] for t in range(6)]  # 3 px right, 1 px down
    acc = WarpErrorAccumulator()
    compensated = feed(acc, frames)
    assert compensated < 0.5
    assert acc.last_valid_fraction > 0.85  # only the border strip that enters the frame is masked
    # Without flow (zero motion) the same clip has a much larger chroma difference.
    raw = np.mean([np.abs(cv2.cvtColor(a.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[..., 1:]
                          - cv2.cvtColor(b.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[..., 1:]).mean()
                   for a, b in zip(frames, frames[1:])])
    assert raw > 5 * compensated + 1


def test_warp_error_chroma_flicker_is_large(world: np.ndarray) -> None:
    base = world[:H, :W]
    luma = rgb_to_luma(base)
    swapped = base[:, :, ::-1].copy()  # different chroma; the luma fed is the original's, constant
    acc = WarpErrorAccumulator()
    for t in range(5):
        acc.update(luma, base if t % 2 == 0 else swapped)
    assert acc.value() > 5.0


def test_consistency_mask_synthetic_flows() -> None:
    fw = np.zeros((20, 30, 2), np.float32)
    bw = np.zeros_like(fw)
    fw[:, :5, 0] = 5.0  # forward says "moves 5 px", backward says "static": inconsistent
    mask = consistency_mask(fw, bw)
    assert not mask[:, :5].any()
    assert mask[:, 5:].all()
    # A consistent 2 px shift passes except where it points outside the frame.
    fw2 = np.zeros_like(fw)
    fw2[..., 0] = 2.0
    bw2 = -fw2
    mask2 = consistency_mask(fw2, bw2)
    assert mask2[:, :-2].all() and not mask2[:, -2:].any()


def test_occlusion_mask_excludes_uncovered_area() -> None:
    bg = texture(120, 160, seed=1)
    square = texture(40, 40, seed=2)

    def frame(x: int) -> np.ndarray:
        f = bg.copy()
        f[40:80, x : x + 40] = square
        return f

    f0, f1 = frame(40), frame(48)  # the square moves 8 px right, uncovering columns 40..47
    acc = WarpErrorAccumulator()
    acc.update(rgb_to_luma(f0), f0)
    acc.update(rgb_to_luma(f1), f1)
    mask = acc.last_mask
    assert mask is not None
    assert mask[42:78, 41:47].mean() < 0.3  # uncovered strip: mostly excluded
    assert mask[:30].mean() > 0.85  # static background: kept
    assert mask[45:75, 52:84].mean() > 0.85  # inside the moving square: kept

    unmasked = WarpErrorAccumulator(mask_occlusions=False)
    unmasked.update(rgb_to_luma(f0), f0)
    unmasked.update(rgb_to_luma(f1), f1)
    assert acc.value() < unmasked.value()


def test_warp_error_reset_stops_pairs_across_cut(world: np.ndarray) -> None:
    shot_a = world[:H, :W]
    shot_b = np.ascontiguousarray(world[-H:, -W:][:, :, ::-1])
    uncut = WarpErrorAccumulator()
    feed(uncut, [shot_a] * 3 + [shot_b] * 3)
    assert uncut.pairs == 5 and uncut.value() > 1.0

    for how in ("reset", "cut", "arg"):
        acc = WarpErrorAccumulator()
        feed(acc, [shot_a] * 3)
        if how == "reset":
            acc.reset()
        elif how == "cut":
            acc.cut()
        acc.update(rgb_to_luma(shot_b), shot_b, cut=(how == "arg"))
        feed(acc, [shot_b] * 2)
        assert acc.pairs == 4, how
        assert acc.value() == pytest.approx(0.0, abs=1e-3), how


def test_warp_error_rejects_bad_input(world: np.ndarray) -> None:
    acc = WarpErrorAccumulator()
    f = world[:H, :W]
    with pytest.raises(ValueError, match="luma"):
        acc.update(f, f)
    with pytest.raises(ValueError, match="size"):
        acc.update(rgb_to_luma(f)[:40], f)
    with pytest.raises(ValueError):
        WarpErrorAccumulator(preset="slow")  # type: ignore[arg-type]
    assert math.isnan(acc.value())
