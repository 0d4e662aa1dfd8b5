"""The colour path without the model: the true chroma, fed in where the model's goes, comes back out.

A colour clip is reduced to its luma by the pipeline as usual; `TrueChromaColorizer` stands in for the model and
returns each frame's true CIELAB ab at working resolution. Everything after the model runs for real:
Lab -> RGB at the source's lightness, BT.709 Cb/Cr in the source's range, upsampling to 4:2:0, libx264,
muxing, and decoding with the output's colour tags. What comes back must match the colour original
(only resolution, subsampling and the encoder may cost anything). Any error in a matrix, a range, a
plane order or a tag would show here, and would cost every model's colours in `vidcolor eval` alike.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

import media_factory as mf
from vidcolor.evaluation.metrics import psnr_rgb
from vidcolor.evaluation.true_chroma import TrueChromaColorizer, true_ab
from vidcolor.pipeline.colorize import RunOptions, colorize_video
from vidcolor.pipeline.config import load_pipeline_config

CONFIG = load_pipeline_config("default").replace(x264_preset="ultrafast", batch_size=4, keyframe_lookahead_frames=6)
WIDTH, HEIGHT, FRAMES = 192, 128, 16


def _colour_clip(path: Path) -> Path:
    """Saturated moving shapes over gradients, BT.709 limited range, tagged so."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        vs.codec_context.color_range = 1
        vs.codec_context.colorspace = vs.codec_context.color_primaries = vs.codec_context.color_trc = 1
        vs.codec_context.options = {"preset": "ultrafast", "crf": "4"}
        for i in range(FRAMES):
            rgb = mf.frame_rgb(i, WIDTH, HEIGHT, gray=False)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format="yuv420p", dst_colorspace="itu709", dst_color_range=1)
            frame.colorspace = frame.color_primaries = frame.color_trc = 1
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def _rgb_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.fixture(scope="module")
def colour_clip(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    path = _colour_clip(tmp_path_factory.mktemp("fidelity") / "colour.mp4")
    return path, _rgb_frames(path)


def _mean_psnr(out: Path, originals: list[np.ndarray]) -> float:
    got = _rgb_frames(out)
    assert len(got) == len(originals)
    return float(np.mean([psnr_rgb(g, o) for g, o in zip(got, originals)]))


def test_true_chroma_survives_the_pipeline(colour_clip, tmp_path):
    src, originals = colour_clip
    oracle = TrueChromaColorizer(true_ab(originals, CONFIG.working_short_side_px))
    stats = colorize_video(src, tmp_path / "oracle.mp4", CONFIG, oracle, RunOptions(smoothing=False, progress=False))
    assert stats.frames == FRAMES and oracle.next_frame == FRAMES
    no_colour = float(np.mean([psnr_rgb(np.repeat(cv2.cvtColor(o, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2), o)
                               for o in originals]))
    oracle_psnr = _mean_psnr(tmp_path / "oracle.mp4", originals)
    # Measured: 35.7 dB (the luma alone: 12.4 dB). The same path with BT.601's matrix instead of
    # BT.709's gives 31.1 dB, with full instead of limited range 27.9, with Cb and Cr swapped 9.1.
    assert oracle_psnr > 33.5
    assert oracle_psnr > no_colour + 20.0


def test_fidelity_check_has_power(colour_clip, tmp_path):
    """Opposite hues through the same path score far below the true ones: the test above can fail."""
    src, originals = colour_clip
    oracle = TrueChromaColorizer(true_ab(originals, CONFIG.working_short_side_px), sign=-1.0)
    colorize_video(src, tmp_path / "opposite.mp4", CONFIG, oracle, RunOptions(smoothing=False, progress=False))
    assert _mean_psnr(tmp_path / "opposite.mp4", originals) < 15.0  # measured 6.9 dB
