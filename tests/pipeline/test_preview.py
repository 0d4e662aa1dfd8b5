"""Previews: the frame `vidcolor preview` shows is the frame `vidcolor run` writes; times, sheets, variants."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import media_factory as mf
from vidcolor.cli import app
from vidcolor.errors import ConfigError
from vidcolor.media import MediaSource
from vidcolor.model.colorizer import Colorizer
from vidcolor.pipeline.colorize import RunOptions, colorize_video
from vidcolor.pipeline.config import load_pipeline_config
from vidcolor.pipeline.preview import Previewer, yuv_to_rgb
from vidcolor.pipeline.timecode import format_time, parse_time, resolve_time

FPS = 24
CUT_FRAME = 40
FRAMES = 72
# Small slots and lookahead so a 3-second clip has several groups: slots start at frames 0, 24, 48.
CONFIG = load_pipeline_config("default").replace(
    x264_preset="ultrafast", crf=0, batch_size=4, keyframe_lookahead_frames=6, max_group_seconds=1.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Colorizer:
    """A tiny random-weight model made vivid: its logits and global branch scaled up so chroma varies with
    content (~20 ab units across a frame, 3-5 between frames, ~10 with another group's vector); the plain
    tiny model predicts almost flat chroma, against which a wrong keyframe or smoothing would not show."""
    import torch

    from vidcolor.model.checkpoint import save_checkpoint
    from vidcolor.model.chroma_bins import ChromaBins
    from vidcolor.model.unet import ColorNet, NetConfig

    torch.manual_seed(0)
    bins = ChromaBins.uniform()
    net = ColorNet(NetConfig(base_channels=8, bin_count=bins.count)).eval()
    with torch.no_grad():
        net.head[1].weight.mul_(300.0)
        net.global_proj[0].weight.mul_(30.0)
    path = tmp_path_factory.mktemp("models") / "vivid-tiny.pt"
    save_checkpoint(path, net, bins, name="vivid-tiny-test")
    return Colorizer(path, device="cpu")


def _scene_b(i: int, width: int, height: int) -> np.ndarray:
    """A second shot: checkerboard with a moving bar, nothing like the first."""
    yy, xx = np.mgrid[0:height, 0:width]
    img = (((xx // 16 + yy // 16) % 2) * 120 + 60).astype(np.uint8)
    img[:, (4 * i) % width: (4 * i) % width + 12] = 235
    return np.repeat(img[..., None], 3, axis=2)


def _cut_clip(path: Path, width: int = 160, height: int = 96) -> Path:
    """FRAMES gray frames at FPS with a hard cut at CUT_FRAME; B-frames, a keyframe every 10 frames."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.gop_size = 10
        vs.codec_context.options = {"preset": "ultrafast", "crf": "18", "bf": "2", "sc_threshold": "0"}
        for i in range(FRAMES):
            rgb = mf.frame_rgb(i, width, height, gray=True) if i < CUT_FRAME else _scene_b(i, width, height)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
                format="yuv420p", dst_colorspace="itu709", dst_color_range=1)
            frame.pts = i
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return path


def _planes(path: Path) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Frame index -> (Y, Cb, Cr) planes of every frame of a video."""
    res = {}
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        for f in c.decode(st):
            idx = int(round(f.pts * st.time_base * FPS))
            res[idx] = tuple(
                np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width].copy() for p in f.planes)
    return res


@pytest.fixture(scope="module")
def cut_run(tmp_path_factory, tiny):
    """The cut clip and what `run` wrote for it (lossless, so any difference is the preview's own)."""
    folder = tmp_path_factory.mktemp("preview")
    src = _cut_clip(folder / "cut.mp4")
    out = folder / "cut.color.mp4"
    stats = colorize_video(src, out, CONFIG, tiny, RunOptions(progress=False))
    assert stats.cut_frames == [CUT_FRAME]  # the clip has the one cut the test is about
    return src, _planes(out)


# Frames chosen for what they exercise: first frames, a slot boundary whose smoothing history
# lies in the previous group, right after the cut, a boundary inside the second shot, the last frame.
@pytest.mark.parametrize("index", [0, 23, 24, 26, 40, 49, 71])
def test_preview_equals_run_output(cut_run, tiny, index):
    src, run_planes = cut_run
    with MediaSource(src) as source:
        pv = Previewer(source, CONFIG, tiny).frame(resolve_time(parse_time(f"f{index}"), source.video))
        color_range = source.video.color_range
    assert pv.index == index
    y, cb, cr = run_planes[index]
    np.testing.assert_array_equal(pv.y, y)  # same source frame (crf 0: the run's luma is lossless)
    # Chroma: the run's planes are lossless copies of its chroma_planes output. The preview starts its
    # smoother 7 frames back (the left-out history weighs 0.7**7 ~ 0.08), measured here at 0.07-0.11 code
    # values mean, max 2-3 (this exaggerated model flickers far more than the shipped one, which gives
    # 0.01-0.02, max 1). Encoder noise for scale: libx264 at run's default crf 18 changes the chroma of
    # the sample clip's colorization by 0.27-0.34 mean, max 4. Without smoothing the error would be 1.5-7.7.
    chroma_err = np.abs(np.stack([pv.cb, pv.cr]).astype(int) - np.stack([cb, cr]).astype(int))
    assert chroma_err.max() <= 4 and chroma_err.mean() < 0.15
    rgb_run = yuv_to_rgb(y, cb, cr, color_range)
    assert np.abs(pv.rgb.astype(int) - rgb_run.astype(int)).mean() < 0.5


@pytest.mark.parametrize("change", ["no smoothing", "other keyframe"])
def test_equality_check_has_power(cut_run, tiny, change):
    """A preview without smoothing, or with another keyframe's vector, differs from the run: the test above can fail."""
    src, run_planes = cut_run
    config = CONFIG.replace(keyframe_lookahead_frames=1, keyframe_samples=1) if change == "other keyframe" else CONFIG
    with MediaSource(src) as source:
        pv = Previewer(source, config, tiny, smoothing=change != "no smoothing").frame(Fraction(121, 2 * FPS))
    _, cb, cr = run_planes[60]
    assert np.abs(np.stack([pv.cb, pv.cr]).astype(int) - np.stack([cb, cr]).astype(int)).mean() > 0.5


@pytest.mark.parametrize("text,seconds", [
    ("83.5", Fraction(167, 2)), ("83.5s", Fraction(167, 2)), ("0", 0), (".25", Fraction(1, 4)), ("7", 7),
    ("01:23.5", Fraction(167, 2)), ("1:02:03.250", Fraction(3723_250, 1000)), ("00:00:01", 1), ("90:00", 5400),
])
def test_parse_time_formats(text, seconds):
    spec = parse_time(text)
    assert spec.seconds == seconds and spec.frame is None


@pytest.mark.parametrize("text,frame", [("f0", 0), ("f120", 120), ("frame:7", 7), ("F12", 12)])
def test_parse_frame_numbers(text, frame):
    assert parse_time(text).frame == frame


@pytest.mark.parametrize("text,words", [
    ("-1", "negative"), ("-00:01", "negative"), ("abc", "cannot read"), ("", "cannot read"), ("1:2:3:4", "cannot read"),
    ("12:75", "below 60"), ("1:60:00", "below 60"), ("f", "cannot read"), ("f-3", "cannot read"), ("1e3", "cannot read"),
    ("nan", "cannot read"),
])
def test_parse_time_rejects(text, words):
    with pytest.raises(ConfigError, match=words):
        parse_time(text)


def test_resolve_time_bounds(cut_run):
    src, _ = cut_run
    with MediaSource(src) as source:
        info = source.video
        assert resolve_time(parse_time("f71"), info) == Fraction(143, 48)
        assert resolve_time(parse_time("2.9"), info) == Fraction(29, 10)
        for bad in ("3", "00:00:03.000", "f72", "1:00"):
            with pytest.raises(ConfigError, match="beyond the end"):
                resolve_time(parse_time(bad), info)


def test_format_time():
    assert format_time(3723.25) == "01:02:03.250" and format_time(0) == "00:00:00.000"


def _cli(args: list[str]):
    return CliRunner().invoke(app, ["preview", *map(str, args)])


def test_cli_side_by_side_grid_and_variants(cut_run, tiny_model, tmp_path):
    src, _ = cut_run
    model = ["--model", tiny_model, "--pipeline", "fast", "--device", "cpu", "--no-smoothing"]
    plain = tmp_path / "plain.png"
    assert _cli([src, "--at", "1.5", "-o", plain, *model]).exit_code == 0
    assert cv2.imread(str(plain)).shape == (96, 160, 3)
    default = src.with_name("cut.preview.png")
    assert _cli([src, *model]).exit_code == 0 and default.is_file()  # middle of the film, beside it
    sbs = tmp_path / "sbs.png"
    assert _cli([src, "--at", "00:00:01.5", "--side-by-side", "-o", sbs, *model]).exit_code == 0
    img = cv2.imread(str(sbs))
    assert img.shape == (96, 2 * 160 + 4, 3)  # gray | 4 px gap | colour
    left = img[:80, :160].astype(int)  # above the label
    assert np.abs(left[..., 0] - left[..., 2]).max() == 0  # the source half is gray
    grid = tmp_path / "grid.png"
    result = _cli([src, "--grid", "5", "-o", grid, *model])
    assert result.exit_code == 0, result.output
    sheet = cv2.imread(str(grid))
    assert sheet.shape[:2] == (2 * 96 + 4, 3 * 160 + 2 * 4)  # 3 columns, 2 rows of full-size tiles, 4 px gaps
    strip = tmp_path / "var.png"
    assert _cli([src, "--at", "f30", "--variants", "3", "-o", strip, *model]).exit_code == 0
    assert cv2.imread(str(strip)).shape == (96, 4 * 160 + 3 * 4, 3)  # the run's colorization and 3 variants
    two = tmp_path / "two.png"
    assert _cli([src, "--at", "0.5", "--at", "f40", "-o", two, *model]).exit_code == 0
    assert cv2.imread(str(two)).shape == (2 * 96 + 4, 160, 3)  # one row per --at
    assert not [p for p in tmp_path.iterdir() if p.suffix != ".png"]  # no temp files left behind


def test_variants_differ(cut_run, tiny):
    src, _ = cut_run
    with MediaSource(src) as source:
        pv = Previewer(source, CONFIG, tiny).frame(Fraction(1, 2), variants=3)
    assert len(pv.variants) == 3
    for a in range(3):
        for b in range(a + 1, 3):
            assert np.abs(pv.variants[a].astype(int) - pv.variants[b].astype(int)).mean() > 1.0
        assert np.array_equal(cv2.cvtColor(pv.variants[a], cv2.COLOR_RGB2GRAY).shape, pv.gray.shape)


@pytest.mark.parametrize("at,words", [("99", "beyond the end"), ("-5", "negative"), ("soon", "cannot read"),
                                      ("f500", "beyond the end")])
def test_bad_times_one_line_exit_2(cut_run, tmp_path, at, words):
    src, _ = cut_run
    r = subprocess.run([sys.executable, "-m", "vidcolor", "preview", str(src), "--at", at, "-o", str(tmp_path / "x.png")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error:") and words in lines[0]
    assert not list(tmp_path.iterdir())


def test_variants_only_draw_likely_colours():
    """Sampling never lands on a bin the model gives no probability (the old clamp drew bin 0 or the last bin)."""
    import torch

    from vidcolor.model.chroma_bins import ChromaBins

    bins = ChromaBins.uniform()
    likely = {bins.count // 3, bins.count // 2}
    logits = torch.full((1, bins.count, 24, 24), -30.0)
    for q in likely:
        logits[0, q] = 0.0
    for seed in range(8):
        ab = bins.sample(logits, torch.Generator().manual_seed(seed), temperature=0.6)
        drawn = set(bins.nearest(ab).unique().tolist())
        assert drawn <= likely


def test_rotated_film_is_shown_upright(clip_factory):
    from vidcolor.pipeline.preview_sheet import display_view

    src = clip_factory("rot.mp4", width=96, height=64, rotation=90, frames=4)
    with MediaSource(src) as source:
        info = source.video
    assert display_view(np.zeros((64, 96, 3), np.uint8), info).shape == (96, 64, 3)
