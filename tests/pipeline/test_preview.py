"""Previews: the frame `vidcolor preview` shows is the frame `vidcolor run` writes; times, sheets, variants."""

from __future__ import annotations

import math
import os
import re
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
from vidcolor.errors import ConfigError, MediaError
from vidcolor.media import MediaSource
from vidcolor.model.colorizer import Colorizer
from vidcolor.pipeline.colorize import RunOptions, colorize_video
from vidcolor.pipeline.config import load_pipeline_config
from vidcolor.pipeline.preview import (Previewer, default_time, grid_times, readable_length, resolve_at,
                                       yuv_to_rgb)
from vidcolor.pipeline.timecode import format_time, parse_time

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
        pv = Previewer(source, CONFIG, tiny).frame(resolve_at(source, parse_time(f"f{index}")))
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


def test_resolve_at_bounds(cut_run):
    src, _ = cut_run
    with MediaSource(src) as source:
        assert resolve_at(source, parse_time("f71")) == Fraction(71, 24)  # frame 71's own timestamp
        assert resolve_at(source, parse_time("2.9")) == Fraction(29, 10) + Fraction(1, 2000)  # rounded labels
        for bad in ("3", "00:00:03.000", "f72", "1:00"):
            with pytest.raises(ConfigError, match="beyond the end"):
                resolve_at(source, parse_time(bad))


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


# ---------------------------------------------------------------- frame numbers, film ends, output paths
BARCODE_BITS = 8
BARCODE_PX = 12  # 8 bars of 12 px across a 96 px frame


def _barcode_picture(i: int) -> np.ndarray:
    """96x64 gray RGB picture of the number i as a barcode (bar b light when bit b is set)."""
    img = np.full((64, 96, 3), 30, np.uint8)
    for b in range(BARCODE_BITS):
        if i >> b & 1:
            img[20:44, b * BARCODE_PX:(b + 1) * BARCODE_PX] = 220
    return img


def _barcode_film(path: Path, durations_ms: list[int | Fraction], *, fmt: str | None = None,
                  codec: str = "libx264", picture=_barcode_picture) -> Path:
    """96x64 gray frames lasting `durations_ms`, frame i showing `picture(i)` (by default i as a barcode)."""
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=24)
        vs.width, vs.height, vs.pix_fmt = 96, 64, "yuv420p"
        tb = Fraction(1, 1000) if fmt != "mpeg" else Fraction(1, 24)
        vs.codec_context.time_base = tb
        if fmt != "mpeg":
            vs.time_base = tb
        if codec == "libx264":
            vs.codec_context.options = {"preset": "ultrafast", "crf": "18"}
        t = Fraction(0)
        for i, ms in enumerate(durations_ms):
            frame = av.VideoFrame.from_ndarray(picture(i), format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = int(t / tb), tb
            t += Fraction(ms, 1000)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return path


def _barcode(gray: np.ndarray) -> int:
    """The number a barcode frame shows (from its luma or any gray rendering)."""
    return sum(1 << b for b in range(BARCODE_BITS)
               if gray[24:40, b * BARCODE_PX + 3:(b + 1) * BARCODE_PX - 3].mean() > 125)


VFR_MS = [100] * 30 + [20] * 30  # 60 frames: 3 s of slow frames, then 0.6 s of fast ones (24 fps nominal)


@pytest.fixture(scope="module")
def vfr_film(tmp_path_factory) -> Path:
    return _barcode_film(tmp_path_factory.mktemp("vfr") / "vfr.mkv", VFR_MS)


@pytest.fixture(scope="module")
def ps_film(tmp_path_factory) -> Path:
    """72 frames at 24 fps (3 s) of mpeg2video in an MPEG program stream."""
    return _barcode_film(tmp_path_factory.mktemp("ps") / "p.mpg", [Fraction(1000, 24)] * 72, fmt="mpeg",
                         codec="mpeg2video")


@pytest.fixture(scope="module")
def half_film(tmp_path_factory) -> Path:
    """A 200-frame Matroska film cut to its first half of bytes."""
    folder = tmp_path_factory.mktemp("half")
    data = mf.make_clip(folder / "whole.mkv", frames=200).read_bytes()
    path = folder / "half.mkv"
    path.write_bytes(data[: len(data) // 2])
    return path


def _run_frames(path: Path) -> list[int]:
    """The pts of the frames `run` decodes, in order."""
    with MediaSource(path) as src:
        return [f.pts for f in src.luma_frames()]


@pytest.mark.parametrize("at,number", [("f0", 0), ("f5", 5), ("f29", 29), ("f30", 30), ("f40", 40), ("f59", 59),
                                       ("2.95", 29), ("3.21", 40), ("00:00:03.59", 59)])
def test_frame_numbers_on_a_variable_frame_rate_film(vfr_film, tiny, at, number):
    """fN is the N-th frame (not N / rate seconds), and a time shows the frame on screen then, with its true number."""
    with MediaSource(vfr_film) as source:
        pv = Previewer(source, CONFIG, tiny, smoothing=False).frame(resolve_at(source, parse_time(at)))
    assert _barcode(pv.y) == number and pv.index == number
    assert pv.seconds == pytest.approx(sum(VFR_MS[:number]) / 1000)


def test_vfr_preview_equals_run_output(tiny, tmp_path):
    """On a VFR film the smoother's warm-up is counted in frames, not in nominal frame times: frames 24 and 25
    (2.4-2.5 s, in the 100 ms frames) need it to reach back into the slot before (their 7 frames reach 1.7 s;
    at 24 fps they would reach only 2.1 s, and their chroma differed from the run's by 0.8-1.2 on average)."""
    film = _barcode_film(tmp_path / "vfr.mkv", VFR_MS, picture=lambda i: mf.frame_rgb(i, 96, 64, True))
    out = tmp_path / "vfr.color.mkv"
    stats = colorize_video(film, out, CONFIG, tiny, RunOptions(progress=False))
    assert stats.cut_frames == []
    with av.open(str(out)) as c:
        planes = [tuple(np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width].copy()
                        for p in f.planes) for f in c.decode(video=0)]
    assert len(planes) == 60
    with MediaSource(film) as source:
        previewer = Previewer(source, CONFIG, tiny)
        for number in (24, 25, 45):
            pv = previewer.frame(resolve_at(source, parse_time(f"f{number}")))
            assert pv.index == number and pv.predicted_frames == previewer.warmup_frames + 1
            y, cb, cr = planes[number]
            np.testing.assert_array_equal(pv.y, y)
            err = np.abs(np.stack([pv.cb, pv.cr]).astype(int) - np.stack([cb, cr]).astype(int))
            assert err.max() <= 4 and err.mean() < 0.15


def test_vfr_frame_count_and_labels(vfr_film, tiny_model, tmp_path, monkeypatch):
    with MediaSource(vfr_film) as source:
        for bad in ("f60", "f89", "f90"):
            with pytest.raises(ConfigError, match=r"which has 60 frames \(f0 to f59\)"):
                resolve_at(source, parse_time(bad))
    import vidcolor.pipeline.preview_sheet as sheet

    labels: list[str] = []
    real_label = sheet.label
    monkeypatch.setattr(sheet, "label", lambda img, text: labels.append(text) or real_label(img, text))
    png = tmp_path / "sbs.png"
    model = ["--model", tiny_model, "--pipeline", "fast", "--device", "cpu", "--no-smoothing"]
    result = _cli([vfr_film, "--at", "f24", "--side-by-side", "-o", png, *model])
    assert result.exit_code == 0, result.output
    assert labels == ["source 00:00:02.400  f24", "00:00:02.400  f24"]
    assert _barcode(cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)[:, :96]) == 24
    plain = tmp_path / "f40.png"
    assert _cli([vfr_film, "--at", "f40", "-o", plain, *model]).exit_code == 0
    assert _barcode(cv2.imread(str(plain), cv2.IMREAD_GRAYSCALE)) == 40


def test_a_tiny_films_panels_are_enlarged_under_their_labels(clip_factory, tiny_model, tmp_path):
    tiny_film = clip_factory("tiny.mp4", width=16, height=16, frames=12)
    sheet = tmp_path / "sheet.png"
    result = _cli([tiny_film, "--grid", "4", "-o", sheet, "--model", tiny_model, "--pipeline", "fast",
                   "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert cv2.imread(str(sheet)).shape[:2] == (2 * 96 + 4, 2 * 96 + 4)  # 16 px frames shown 6x, 2 x 2 tiles


def test_a_printed_time_typed_back_names_the_same_frame(clip_factory):
    film = clip_factory("film24.mp4", frames=48, fps=24)  # frame k at k/24 s: about half round down to the ms
    with MediaSource(film) as source:
        for k in range(48):
            label = format_time(source.frame_pts(k) * source.video.time_base)
            seconds = resolve_at(source, parse_time(label))
            assert source.frame_number(source.video.start_pts + math.floor(seconds / source.video.time_base)) == k


def test_a_grid_over_a_short_film_shows_each_frame_once(clip_factory):
    short = clip_factory("short.mp4", frames=5)
    with MediaSource(short) as source:
        times = grid_times(source, 12)
        numbers = [source.frame_number(source.video.start_pts + int(t / source.video.time_base)) for t in times]
        assert numbers == [0, 1, 2, 3, 4]  # not twelve tiles of five frames
        assert len(grid_times(source, 3)) == 3


def test_mpeg_ps_previews_reach_its_end(ps_film, tiny, tiny_model, tmp_path):
    """FFmpeg's duration of a program stream is estimated from its bitrate and falls short; previews use the
    stream's own timestamps, so the last frames, the middle and the grid's tail are where they are."""
    assert len(_run_frames(ps_film)) == 72  # what `run` writes
    with MediaSource(ps_film) as source:
        assert source.video.duration_seconds < 2.9  # the premise: the declared length is short
        assert readable_length(source) == 3
        assert resolve_at(source, parse_time("2.9")) == Fraction(29, 10) + Fraction(1, 2000)  # rounded labels
        with pytest.raises(ConfigError, match=r"which has 72 frames \(f0 to f71\)"):
            resolve_at(source, parse_time("f72"))
        with pytest.raises(ConfigError, match="which lasts 00:00:03.000"):
            resolve_at(source, parse_time("3"))
        assert default_time(source) == Fraction(3, 2)
        times = grid_times(source, 4)
        assert times[-1] == Fraction(21, 8)
        previewer = Previewer(source, CONFIG, tiny, smoothing=False)
        for at, number in (("f71", 71), ("2.9", 69)):
            pv = previewer.frame(resolve_at(source, parse_time(at)))
            assert pv.index == number and _barcode(pv.y) == number
        pv = previewer.frame(times[-1], clamp=True)
        assert pv.index == 63 and _barcode(pv.y) == 63
    grid = tmp_path / "grid.png"
    result = _cli([ps_film, "--grid", "4", "-o", grid, "--model", tiny_model, "--pipeline", "fast", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "00:00:02.625" in result.output


def test_truncated_film_previews_what_can_be_read(half_film, tiny_model, tmp_path):
    frames = _run_frames(half_film)
    assert 40 < len(frames) < 200
    with MediaSource(half_film) as source:
        info = source.video
        length = readable_length(source)
        last = (frames[-1] - info.start_pts) * info.time_base
        assert last < length <= last + Fraction(42, 1000)  # the last frame's end
        assert info.duration_seconds > 1.5 * length  # it declares the whole film
        assert default_time(source) == length / 2 and grid_times(source, 4)[-1] == length * 7 / 8
        with pytest.raises(ConfigError, match=f"its frames end at {format_time(length)}.*truncated"):
            resolve_at(source, parse_time("5"))
        with pytest.raises(ConfigError, match=f"which has {len(frames)} frames"):
            resolve_at(source, parse_time(f"f{len(frames)}"))
    model = ["--model", tiny_model, "--pipeline", "fast", "--device", "cpu"]
    for extra in ([], ["--grid", "4"]):
        out = tmp_path / f"h{len(extra)}.png"
        result = _cli([half_film, "-o", out, *extra, *model])
        assert result.exit_code == 0, result.exception
        assert out.is_file()


def test_a_time_the_film_cannot_decode_to_shows_its_last_frame_when_chosen(cut_run, tiny):
    """Times vidcolor picks itself (middle, grid) never fail on a tail that demuxes but does not decode."""
    src, _ = cut_run
    with MediaSource(src) as source:
        previewer = Previewer(source, CONFIG, tiny, smoothing=False)
        with pytest.raises(ConfigError, match="beyond the last frame"):
            previewer.frame(10)
        assert previewer.frame(10, clamp=True).index == FRAMES - 1


@pytest.mark.parametrize("case", ["vfr f60", "truncated 5", "missing folder"])
def test_new_errors_are_one_line_exit_2(vfr_film, half_film, tmp_path, case):
    film, at, out, words = {
        "vfr f60": (vfr_film, "f60", tmp_path / "x.png", "which has 60 frames (f0 to f59)"),
        "truncated 5": (half_film, "5", tmp_path / "x.png", "its frames end at 00:00:0"),
        "missing folder": (vfr_film, "f1", tmp_path / "no" / "such" / "x.png",
                           f"cannot write {tmp_path / 'no' / 'such' / 'x.png'}: the folder {tmp_path / 'no' / 'such'} "
                           f"does not exist"),
    }[case]
    # A model that does not exist: the output and the times are checked before it would be loaded.
    r = subprocess.run([sys.executable, "-m", "vidcolor", "preview", str(film), "--at", at, "-o", str(out),
                        "--model", str(tmp_path / "none.pt")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error:") and words in lines[0], lines
    assert ".tmp" not in lines[0] and not list(tmp_path.glob("*.png"))


def test_output_folder_problems_are_found_before_any_work(tmp_path, monkeypatch):
    import errno

    from vidcolor.pipeline.preview_sheet import check_output, write_png

    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(ConfigError, match=re.escape(f"cannot write {a_file / 'x.png'}: {a_file} is not a folder")):
        check_output(a_file / "x.png")
    with pytest.raises(MediaError, match="the folder .* does not exist") as info:
        write_png(tmp_path / "gone" / "x.png", np.zeros((4, 4, 3), np.uint8))  # the folder went away mid-run
    assert ".tmp" not in str(info.value)
    real_open = os.open
    for code, words in ((errno.EACCES, "no permission to create files in the folder"),
                        (errno.EROFS, "on a read-only file system")):
        def refuse(path, *args, code=code):
            raise OSError(code, os.strerror(code), str(path))

        monkeypatch.setattr(os, "open", refuse)
        with pytest.raises(ConfigError, match=f"cannot write {re.escape(str(tmp_path / 'x.png'))}: .*{words}"):
            check_output(tmp_path / "x.png")
        monkeypatch.setattr(os, "open", real_open)
    check_output(tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == [a_file]  # the check leaves nothing behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_refused_before_any_work(vfr_film, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = _cli([vfr_film, "-o", folder / "x.png", "--model", tmp_path / "none.pt"])
    finally:
        folder.chmod(0o755)
    assert isinstance(result.exception, ConfigError) and "no permission" in str(result.exception)


def test_long_film_names_get_a_preview(tiny_model, tmp_path):
    """A film name of 241 bytes: its default preview name is 249 bytes, and the temp name beside it is shortened
    to the file system's 255 (it was 256 and more, which failed)."""
    film = mf.make_clip(tmp_path / ("片" * 79 + ".mp4"), frames=6)
    assert len(os.fsencode(film.name)) == 241
    result = _cli([film, "--model", tiny_model, "--pipeline", "fast", "--device", "cpu"])
    assert result.exit_code == 0, result.exception
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([film.name, "片" * 79 + ".preview.png"])


def test_temp_names_fit_the_name_limit(tmp_path):
    import tempfile

    from vidcolor.media.temp_files import TEMP_MARKER, temp_prefix
    from vidcolor.pipeline.preview_sheet import check_output

    longest = tmp_path / ("片" * 85)  # 255 bytes, the most a name may have
    temps = {Path(tempfile.mkstemp(prefix=temp_prefix(longest), dir=tmp_path)[1]).name for _ in range(3)}
    assert len(temps) == 3  # unique
    for name in temps:
        assert name.startswith(".片") and len(os.fsencode(name)) <= 255 and f"{TEMP_MARKER}{os.getpid()}-" in name
    with pytest.raises(ConfigError, match="more than the 255 the file system allows"):
        check_output(tmp_path / ("片" * 84 + ".png"))
