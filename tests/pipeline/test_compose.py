"""Chroma composition: luma untouched, neutral ab gives neutral chroma, hues land on the right side."""

import numpy as np
import pytest

from vidcolor.media import build_frame
from vidcolor.pipeline.compose import chroma_planes, compose_rgb, luma_to_gray_lut


def test_luma_lut_maps_limited_range_to_full():
    lut = luma_to_gray_lut("tv")
    assert lut[16] == 0 and lut[235] == 255 and lut[0] == 0 and lut[255] == 255
    assert np.array_equal(luma_to_gray_lut("pc"), np.arange(256, dtype=np.uint8))


@pytest.mark.parametrize("color_range", ["tv", "pc"])
def test_neutral_ab_gives_neutral_chroma(color_range):
    gray = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (16, 1))
    cb, cr = chroma_planes(gray, np.zeros(gray.shape + (2,), np.float32), (8, 32), color_range)
    assert cb.shape == (8, 32) and cr.shape == (8, 32)
    assert np.abs(cb.astype(int) - 128).max() <= 1
    assert np.abs(cr.astype(int) - 128).max() <= 1


@pytest.mark.parametrize("color_range", ["tv", "pc"])
def test_10_bit_chroma_is_the_8_bit_chroma_at_four_times_the_precision(color_range):
    rng = np.random.default_rng(2)
    gray = rng.integers(0, 256, (16, 32), dtype=np.uint8)
    ab = rng.normal(0, 40, (16, 32, 2)).astype(np.float32)
    eight = chroma_planes(gray, ab, (8, 16), color_range)
    ten = chroma_planes(gray, ab, (8, 16), color_range, bit_depth=10)
    for e, t in zip(eight, ten):
        assert t.dtype == np.uint16 and t.shape == (8, 16) and t.max() <= 1023
        assert np.abs(t.astype(int) - 4 * e.astype(int)).max() <= 2  # within the 8-bit rounding
    assert any(np.any(t % 4) for t in ten)  # and finer than the 8-bit steps


def test_hues_map_to_expected_chroma_sides():
    gray = np.full((8, 8), 128, np.uint8)
    red = np.dstack([np.full((8, 8), 60.0), np.full((8, 8), 40.0)]).astype(np.float32)  # +a +b: red/orange
    blue = np.dstack([np.full((8, 8), 10.0), np.full((8, 8), -50.0)]).astype(np.float32)
    cb_r, cr_r = chroma_planes(gray, red, (4, 4), "tv")
    cb_b, cr_b = chroma_planes(gray, blue, (4, 4), "tv")
    assert cr_r.mean() > 150 and cb_r.mean() < 128
    assert cb_b.mean() > 150


def test_output_frame_keeps_source_y_plane_exactly():
    rng = np.random.default_rng(0)
    y = rng.integers(16, 236, size=(36, 64), dtype=np.uint8)
    work_gray = luma_to_gray_lut("tv")[y[::2, ::2]]
    ab = rng.normal(0, 30, size=work_gray.shape + (2,)).astype(np.float32)
    cb, cr = chroma_planes(work_gray, ab, (18, 32), "tv")
    frame = build_frame(y, cb, cr, pix_fmt="yuv420p", color_range="tv")
    plane = frame.planes[0]
    got = np.frombuffer(plane, np.uint8).reshape(36, plane.line_size)[:, :64]
    assert np.array_equal(got, y)


def test_compose_rgb_keeps_gray_where_ab_is_zero():
    gray = np.full((10, 12), 200, np.uint8)
    rgb = compose_rgb(gray, np.zeros((5, 6, 2), np.float32))
    assert rgb.shape == (10, 12, 3)
    assert np.abs(rgb.astype(int) - 200).max() <= 1
