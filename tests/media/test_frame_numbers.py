"""MediaSource frame numbers from packets (no decoding): frame N's pts, the number of the frame at a pts, the
frame count and the true end of the stream, checked against what `run`'s decoding (`luma_frames`) gives."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import media_factory as mf
from vidcolor.media import MediaSource
from vidcolor.media.timeline import REORDER_FRAMES_MAX, FrameTimeline


def mpeg_ps(path: Path, frames: int = 72, fps: int = 24) -> Path:
    """An MPEG program stream (.mpg, format "mpeg") of gray mpeg2video pictures, no sound: FFmpeg estimates
    its duration from the bitrate, and the estimate falls short of its frames."""
    with av.open(str(path), "w", format="mpeg") as out:
        vs = out.add_stream("mpeg2video", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 96, 64, "yuv420p"
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(mf.frame_rgb(i, 96, 64, True), format="rgb24").reformat(format="yuv420p")
            f.pts, f.time_base = i, Fraction(1, fps)
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return path


def truncated(path: Path, frames: int) -> Path:
    """A Matroska film of `frames` frames cut to its first half of bytes (a copy interrupted half way)."""
    whole = mf.make_clip(path.with_name(f"whole-{path.name}"), frames=frames)
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


FILMS = {  # name -> maker(folder); long enough that the packet windows (2 x REORDER_FRAMES_MAX) lie inside
    "vfr.mkv": lambda d: mf.make_clip(d / "vfr.mkv", frames=200, vfr=True),  # demuxed from the start
    "vfr.mp4": lambda d: mf.make_clip(d / "vfr.mp4", frames=200, vfr=True, b_frames=3),  # index + windows
    "b.avi": lambda d: mf.make_clip(d / "b.avi", frames=120, b_frames=2),  # index; times are slots
    "p.mpg": lambda d: mpeg_ps(d / "p.mpg", frames=120),
    "t.ts": lambda d: mf.make_broadcast_clip(d / "t.ts", frames=120),
    "half.mkv": lambda d: truncated(d / "half.mkv", 200),
}


def _decoded(path: Path) -> tuple[list[int], int]:
    """The pts of every frame `run`'s decoding gives, and the stream's start."""
    with MediaSource(path) as src:
        return [f.pts for f in src.luma_frames()], src.video.start_pts


# Films with an index are also asked with their index left out: the same answers from demuxing from the start.
@pytest.mark.parametrize("name,indexed", [(name, True) for name in FILMS] + [("vfr.mp4", False), ("b.avi", False)])
def test_frame_numbers_match_the_decoded_frames(tmp_path, monkeypatch, name, indexed):
    path = FILMS[name](tmp_path)
    decoded, _ = _decoded(path)
    if not indexed:
        monkeypatch.setattr(FrameTimeline, "_read_index", lambda self, c: None)
    assert len(decoded) > 2 * REORDER_FRAMES_MAX
    with MediaSource(path) as src:
        assert [src.frame_pts(n) for n in range(len(decoded))] == decoded
        assert src.frame_pts(len(decoded)) is None and src.frame_pts(10 * len(decoded)) is None
        assert [src.frame_number(p) for p in decoded] == list(range(len(decoded)))
        # between two frames: the earlier is shown
        assert [src.frame_number(b - 1) for b in decoded[1:]] == list(range(len(decoded) - 1))
        assert src.frame_number(decoded[0] - 1) == -1
        assert src.frame_count() == len(decoded)
        assert (src._timeline._index is not None) == (indexed and name in ("vfr.mp4", "b.avi"))
        end = src.end_pts()
        assert decoded[-1] < end <= decoded[-1] + 2 * (decoded[-1] - decoded[-2]) + 1


def test_frame_numbers_in_any_order_of_questions(tmp_path):
    """Answers do not depend on what was asked before (the demux from the start resumes where it stopped)."""
    path = FILMS["vfr.mkv"](tmp_path)
    decoded, _ = _decoded(path)
    with MediaSource(path) as src:
        for n in (150, 3, 199, 0, 77):
            assert src.frame_pts(n) == decoded[n] and src.frame_number(decoded[n]) == n
        assert src.end_pts() > decoded[-1]


def test_variable_frame_rate_is_counted_not_computed(tmp_path):
    """VFR_PATTERN_MS frames last 33-120 ms at a nominal 24 fps: frame N is not at N / 24 s."""
    path = mf.make_clip(tmp_path / "v.mkv", frames=40, vfr=True)
    with MediaSource(path) as src:
        tb = src.video.time_base
        assert src.frame_pts(16) * tb == Fraction(sum(mf.VFR_PATTERN_MS) * 2, 1000)
        assert round(src.frame_pts(16) * tb * src.video.average_rate) != 16


def test_mpeg_ps_end_comes_from_its_timestamps_not_its_estimated_duration(tmp_path):
    path = mpeg_ps(tmp_path / "p.mpg")
    decoded, start = _decoded(path)
    assert len(decoded) == 72
    with MediaSource(path) as src:
        info = src.video
        assert info.duration_seconds < 2.9  # FFmpeg's estimate from the bitrate: the premise of the test
        assert (src.end_pts() - start) * info.time_base == 3
        assert src.frame_count() == 72 and src.frame_pts(71) == decoded[-1]


@pytest.mark.parametrize("frames", [200, 600])  # 600: the declared end lies beyond the end scan's reach
def test_truncated_film_ends_where_its_readable_frames_do(tmp_path, frames):
    path = truncated(tmp_path / "half.mkv", frames)
    decoded, start = _decoded(path)
    with MediaSource(path) as src:
        info = src.video
        step = decoded[-1] - decoded[-2]
        assert info.duration_seconds > 1.5 * float((decoded[-1] - start) * info.time_base)  # declares far more
        assert decoded[-1] < src.end_pts() <= decoded[-1] + step + 1
        assert src.frame_count() == len(decoded)


def test_end_found_without_seeking_when_the_tail_scan_fails(tmp_path, monkeypatch):
    """A file whose tail cannot be reached by seeking is demuxed from the start."""
    path = truncated(tmp_path / "half.mkv", 600)
    with MediaSource(path) as src:
        expected = src.end_pts()
    monkeypatch.setattr(FrameTimeline, "_tail_end", lambda self: None)
    with MediaSource(path) as src:
        assert src.end_pts() == expected
        assert src._timeline._complete  # it read every packet


def test_truncated_mp4_counts_only_the_frames_in_the_file(tmp_path):
    """An MP4 with its index first (faststart) and its tail cut off: the index lists frames that are not there."""
    whole = tmp_path / "whole.mp4"
    with av.open(str(whole), "w", options={"movflags": "faststart"}) as out:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = 96, 64, "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast", "crf": "18", "bf": "2"}
        for i in range(150):
            f = av.VideoFrame.from_ndarray(mf.frame_rgb(i, 96, 64, True), format="rgb24").reformat(format="yuv420p")
            f.pts, f.time_base = i, Fraction(1, 24)
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    decoded, _ = _decoded(cut)
    assert 30 < len(decoded) < 150
    with MediaSource(cut) as src:
        count = src.frame_count()
        assert abs(count - len(decoded)) <= 1  # a frame cut in the middle may still demux
        assert src.frame_pts(count) is None and src.frame_pts(len(decoded) - 1) == decoded[-1]
        assert decoded[-1] < src.end_pts()


def test_frame_numbers_leave_the_reading_of_the_film_alone(tmp_path):
    """Asking for frame numbers between reads changes nothing `run` reads (its own containers)."""
    path = FILMS["vfr.mkv"](tmp_path)
    with MediaSource(path) as src:
        first = [f.pts for f in src.luma_frames()]
        src.frame_pts(100)
        src.end_pts()
        again = [(f.pts, f.index) for f in src.luma_frames()]
    assert [p for p, _ in again] == first and [i for _, i in again] == list(range(len(first)))
    assert np.all(np.diff(first) > 0)


def test_an_index_that_does_not_match_its_packets_is_left_for_demuxing(tmp_path, monkeypatch):
    path = FILMS["vfr.mp4"](tmp_path)
    decoded, _ = _decoded(path)
    real = FrameTimeline._read_index
    monkeypatch.setattr(FrameTimeline, "_read_index", lambda self, c: [t + 1 for t in real(self, c)])
    with MediaSource(path) as src:
        assert src.frame_pts(150) == decoded[150] and src._timeline._index is None
        assert src.frame_number(decoded[120]) == 120 and src.frame_count() == len(decoded)
