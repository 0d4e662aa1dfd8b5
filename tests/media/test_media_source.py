"""MediaSource: validation errors, luma extraction, timestamps, kept streams, seeking, concealment."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

import media_factory as mf
from vidcolor.errors import MediaError
from vidcolor.media import LumaFrame, MediaSource, is_video_file, video_error


def test_info_and_frames(gray_clip):
    with MediaSource(gray_clip) as src:
        info = src.video
        assert (info.width, info.height) == (96, 64)
        assert info.average_rate == 24 and info.frame_count == 24
        assert info.color_range == "tv" and info.rotation_degrees == 0
        assert info.codec_name == "h264" and info.pix_fmt == "yuv420p"
        assert [s.type for s in src.kept_streams] == ["audio"]
        items = list(src.items())
    frames = [i for i in items if isinstance(i, LumaFrame)]
    packets = [i for i in items if isinstance(i, av.Packet)]
    assert len(frames) == 24 and len(packets) > 0
    assert [f.index for f in frames] == list(range(24))
    assert all(f.y.dtype == np.uint8 and f.y.shape == (64, 96) and f.y.flags.c_contiguous for f in frames)
    expected = [pts for pts, _ in mf.read_frames(gray_clip)]
    assert [f.pts * f.time_base for f in frames] == expected
    assert frames[0].key_frame


def test_luma_is_source_y_plane_not_rescaled(clip_factory):
    path = clip_factory("full.mkv", pix_fmt="yuv420p", full_range=True, frames=3)
    ref = mf.read_frames(path)
    with MediaSource(path) as src:
        assert src.video.color_range == "pc"
        got = list(src.luma_frames())
    for (_, y), f in zip(ref, got):
        np.testing.assert_array_equal(f.y, y)


@pytest.mark.parametrize("pix_fmt,name", [("gray", "g.mkv"), ("gray10le", "g10.mkv"), ("yuv420p10le", "y10.mkv"),
                                          ("yuv422p", "y422.mkv"), ("rgb24", "rgb.mkv")])
def test_formats_give_8bit_luma(clip_factory, pix_fmt, name):
    path = clip_factory(name, pix_fmt=pix_fmt, frames=3, gray=True)
    with av.open(str(path)) as c:
        first = next(c.decode(video=0))
        src_fmt = first.format.name
        plane = first.planes[0]
        if src_fmt.endswith("le"):
            raw = np.frombuffer(plane, np.uint16).reshape(plane.height, -1)[:, :96] / 4.0
        elif src_fmt in ("gray", "yuv422p"):
            raw = np.frombuffer(plane, np.uint8).reshape(plane.height, -1)[:, :96].astype(float)
        else:  # planar RGB (gbrp): compare with BT.709 limited-range luma of the gray picture
            g = np.frombuffer(plane, np.uint8).reshape(plane.height, -1)[:, :96].astype(float)
            raw = 16 + g * 219 / 255
    with MediaSource(path) as src:
        y = next(src.luma_frames()).y
    assert y.dtype == np.uint8 and y.shape == (64, 96)
    assert np.abs(y.astype(float) - raw).max() <= 1.5


@pytest.mark.parametrize("pix_fmt,name", [("yuv420p10le", "y10.mkv"), ("gray10le", "g10.mkv")])
def test_a_deep_source_is_read_at_10_bits_when_asked(clip_factory, pix_fmt, name):
    path = clip_factory(name, pix_fmt=pix_fmt, frames=3, gray=False)
    with av.open(str(path)) as c:
        plane = next(c.decode(video=0)).planes[0]
        raw = np.frombuffer(plane, np.uint16).reshape(plane.height, -1)[:, :96].copy()
    assert np.any(raw % 4)  # codes between the 8-bit steps: what an 8-bit copy loses
    with MediaSource(path, keep_10_bit=True) as src:
        assert src.video.bit_depth == 10
        first = next(src.luma_frames())
    assert first.y10.dtype == np.uint16
    np.testing.assert_array_equal(first.y10, raw)
    assert np.abs(first.y.astype(int) - raw / 4.0).max() <= 0.5  # the 8-bit plane is still there, rounded
    with MediaSource(path) as src:
        assert next(src.luma_frames()).y10 is None  # not asked: no second plane held


def test_an_8_bit_source_has_no_10_bit_plane(clip_factory):
    with MediaSource(clip_factory("eight.mp4", frames=2), keep_10_bit=True) as src:
        assert src.video.bit_depth == 8
        assert next(src.luma_frames()).y10 is None


def test_rotation_and_vfr_reported(clip_factory):
    path = clip_factory("rot.mp4", rotation=90, vfr=True)
    with MediaSource(path) as src:
        assert src.video.rotation_degrees == 90
        pts = [f.pts * f.time_base for f in src.luma_frames()]
    steps = {round(float(b - a) * 1000) for a, b in zip(pts, pts[1:])}
    assert steps >= {40, 80, 33, 120}


def test_kept_streams_audio_and_subtitles(clip_factory):
    path = clip_factory("subs.mkv", audio="aac51", subtitles=True, chapters=True, title="Film")
    with MediaSource(path) as src:
        assert [s.type for s in src.kept_streams] == ["audio", "subtitle"]
        assert src.kept_streams[0].layout.name == "5.1"
        assert src.metadata["title"] == "Film" and len(src.chapters) == 2
        subs = [p for p in src.items() if isinstance(p, av.Packet) and p.stream.type == "subtitle"]
    assert [bytes(p) for p in subs] == [b"Hello", b"World"]


def test_frame_at(clip_factory):
    path = clip_factory("seek.mp4", frames=48, gop=12)
    with MediaSource(path) as src:
        frames = list(src.luma_frames())
        for t, k in [(0.0, 0), (0.5, 12), (0.52, 12), (1.0, 24), (1.97, 47), (0.74, 17)]:
            f = src.frame_at(t)
            assert f.pts == frames[k].pts, t
            np.testing.assert_array_equal(f.y, frames[k].y)
            assert f.index == k
        with pytest.raises(MediaError, match="beyond|lasts"):
            src.frame_at(2.5)
        with pytest.raises(MediaError, match="negative"):
            src.frame_at(-1)


@pytest.mark.parametrize("name", ["seek.ts", "seek.mkv", "seek.mp4"])
def test_frames_at_times_in_every_container(clip_factory, name):
    path = clip_factory(name, frames=48, gop=12, audio="aac")  # MPEG-TS starts late (1.4 s) and seeks poorly
    with MediaSource(path) as src:
        decoded = [f.y for f in src.luma_frames()]
        for t, k in [(0.0, 0), (0.5, 12), (1.0, 24), (1.9, 45)]:
            f = src.frame_at(t)
            assert f.index == k, (t, f.index)
            np.testing.assert_array_equal(f.y, decoded[k])
            assert src.picture_at(t).shape == (64, 96, 3)


def test_picture_at_shows_the_frame_upright_and_unsqueezed(clip_factory):
    path = clip_factory("rot.mp4", width=96, height=64, rotation=90, sar=Fraction(2, 1), frames=24, gop=6)
    with MediaSource(path) as src:
        for t in (0.0, 0.3, 0.9):
            rgb = src.picture_at(t)
            assert rgb.shape == (192, 64, 3) and rgb.dtype == np.uint8  # 96 wide pixels twice as wide, turned
            y = src.frame_at(t).y.astype(np.float32)
            shown = cv2.resize(np.rot90(y, 1), (64, 192), interpolation=cv2.INTER_LINEAR)
            gray = rgb.astype(np.float32).mean(axis=2)
            assert np.corrcoef(gray.ravel(), shown.ravel())[0, 1] > 0.95, t
        with pytest.raises(MediaError, match="lasts|beyond"):
            src.picture_at(1.0)


@pytest.mark.parametrize("kind", ["missing", "dir", "empty", "text", "audio", "image", "truncated"])
def test_bad_inputs_raise_media_error(tmp_path, clip_factory, kind):
    p = tmp_path / "input.mp4"
    if kind == "dir":
        p.mkdir()
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "text":
        mf.make_non_video(p, "text")
    elif kind == "audio":
        p = mf.make_non_video(tmp_path / "input.m4a", "audio")
    elif kind == "image":
        p = tmp_path / "input.png"
        av.VideoFrame.from_ndarray(np.zeros((8, 8, 3), np.uint8), format="rgb24").save(str(p))
    elif kind == "truncated":
        good = clip_factory("good.mp4")
        p.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(MediaError) as e:
        MediaSource(p)
    msg = str(e.value)
    assert p.name in msg and "\n" not in msg
    expected = {"missing": "does not exist", "dir": "not a file", "empty": "empty", "text": "not a video",
                "audio": "no video stream", "image": "not a video", "truncated": "truncated or corrupt"}[kind]
    assert expected in msg
    assert not is_video_file(p) and video_error(p)


def test_is_video_file(gray_clip, tmp_path):
    assert is_video_file(gray_clip)
    renamed = tmp_path / "movie.dat"
    renamed.write_bytes(gray_clip.read_bytes())
    assert is_video_file(renamed)  # content, not extension


def _corrupt(path: Path, packet_numbers) -> Path:
    with av.open(str(path)) as c:
        pos = [(p.pos, p.size) for p in c.demux(video=0) if p.size and p.pos is not None]
    data = bytearray(path.read_bytes())
    for k in packet_numbers:
        start, size = pos[k]
        data[start + 4 : start + size - 2] = bytes((i * 37 + 11) % 256 for i in range(size - 6))
    out = path.with_name("corrupt" + path.suffix)
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_corrupt_packets_are_concealed_and_counted(clip_factory, ext):
    path = _corrupt(clip_factory(f"c.{ext}", frames=48, gop=12, audio="aac"), [20, 30])
    with MediaSource(path) as src:
        frames = list(src.luma_frames())
        assert src.concealed_errors >= 2
    assert 40 <= len(frames) < 48
    pts = [f.pts for f in frames]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_damage_near_the_end_loses_no_frames_with_many_decoder_threads(clip_factory, ext):
    # 16 frame threads hold 16 frames: the damaged packets' errors come out while the decoder drains at
    # the end, where FFmpeg cannot hand out the frames behind them (found on a 16-core GPU machine).
    path = _corrupt(clip_factory(f"c.{ext}", frames=24, gop=12, audio="aac"), [9, 10, 11])
    counts = {}
    for threads in (1, 16):
        with MediaSource(path, threads=threads, thread_type="FRAME") as src:
            frames = list(src.luma_frames())
            counts[threads] = (len(frames), src.concealed_errors, src.truncated_at_seconds)
            previewed = [f.pts for f in src.frames_from(0.0)]  # the previews' decoding path
        pts = [f.pts for f in frames]
        assert pts == sorted(pts) and len(set(pts)) == len(pts)
        assert previewed == pts
    assert counts[16] == counts[1]
    assert counts[1][0] >= 20 and counts[1][2] is None


def test_truncated_matroska_tail_still_reads(clip_factory, tmp_path):
    good = clip_factory("t.mkv", frames=48)
    p = tmp_path / "cut.mkv"
    p.write_bytes(good.read_bytes()[: good.stat().st_size * 3 // 4])
    with MediaSource(p) as src:
        n = sum(1 for _ in src.luma_frames())
    assert 20 < n < 48


def test_items_can_be_iterated_twice(gray_clip):
    with MediaSource(gray_clip) as src:
        a = [f.pts for f in src.luma_frames()]
        b = [f.pts for f in src.luma_frames()]
    assert a == b and len(a) == 24


def test_missing_pts_synthesized(monkeypatch, gray_clip):
    with MediaSource(gray_clip) as src:
        frame = av.VideoFrame(96, 64, "yuv420p")
        frame.pts = None
        lf = src._luma_frame(frame, 5, last_pts=1024)
        assert lf.pts == 1024 + int(Fraction(1, 24) / src.video.time_base)


def test_avi_with_b_frames_is_timed_by_slot(tmp_path):
    """AVI with B-frames (as DivX/Xvid films and many encoders write it): frames come in display order with
    their slots as times (FFmpeg's guesses from the AVI index run out of order behind every B-frame),
    from the start and after a seek alike."""
    src = mf.make_clip(tmp_path / "b.avi", frames=24, b_frames=2)
    with av.open(str(src)) as c:
        guessed = [f.pts for f in c.decode(video=0)]
    assert any(b <= a for a, b in zip(guessed, guessed[1:]))  # what a plain decode reports
    pictures = [mf.frame_rgb(i, 96, 64, True)[..., 0].astype(int) for i in range(24)]

    def picture_of(y: np.ndarray) -> int:
        return int(np.argmin([np.abs(y.astype(int) - p).mean() for p in pictures]))

    with MediaSource(src) as ms:
        frames = list(ms.luma_frames())
        first = frames[0].pts
        assert [f.pts for f in frames] == list(range(first, first + 24))
        assert [picture_of(f.y) for f in frames] == list(range(24))
        for k in (14, 23):  # 23: the last frame, which the decoder gives out only at the end
            shown = ms.frame_at(float((first + k) * ms.video.time_base))
            assert shown.pts == first + k and picture_of(shown.y) == k
        assert [f.pts for f in ms.frames_from(0.3)][-1] == first + 23


@pytest.mark.parametrize("b_frames", [0, 2])
def test_damaged_avi_frames_keep_their_slots_after_the_damage(tmp_path, b_frames):
    """Frames the decoder loses to damage take their slots with them: the film does not drift out of sync."""
    src = mf.make_corrupt_clip(tmp_path / "d.avi", frames=48, corrupt=(9, 10, 11), b_frames=b_frames)
    pictures = [mf.frame_rgb(i, 96, 64, True)[..., 0].astype(int) for i in range(48)]
    with MediaSource(src) as ms:
        frames = list(ms.luma_frames())
    assert len(frames) < 48  # the damage cost frames
    shown = [(f.pts, int(np.argmin([np.abs(f.y.astype(int) - p).mean() for p in pictures]))) for f in frames]
    after = [(slot, picture) for slot, picture in shown if picture >= 24]  # the GOPs after the damaged one
    assert len(after) == 24 and all(slot == picture for slot, picture in after), after[:4]


def _film(path: Path, start_ms: int = 0, audio_seconds: float = 0.0) -> Path:
    """1 s of 64x48 picture (timestamps from `start_ms`), and optionally silence lasting `audio_seconds`."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=24)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.codec_context.time_base = Fraction(1, 1000)
        a = c.add_stream("aac", rate=48000) if audio_seconds else None
        for i in range(24):
            f = av.VideoFrame.from_ndarray(np.full((48, 64), i * 10, np.uint8), format="gray").reformat(format="yuv420p")
            f.pts, f.time_base = start_ms + i * 42, Fraction(1, 1000)
            c.mux(v.encode(f))
        c.mux(v.encode(None))
        for k in range(int(audio_seconds * 48000 / 1024)):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            af.sample_rate, af.pts = 48000, k * 1024
            c.mux(a.encode(af))
        if a is not None:
            c.mux(a.encode(None))
    return path


@pytest.mark.parametrize("name,kwargs", [("later.mkv", {"start_ms": 10_000}), ("sound.mkv", {"audio_seconds": 3.0}),
                                         ("later.ts", {"start_ms": 10_000}), ("sound.mp4", {"audio_seconds": 3.0})])
def test_a_whole_film_is_not_called_truncated(tmp_path, name, kwargs):
    """A picture starting at 10 s, or shorter than its sound: nothing is missing, so no warning."""
    with MediaSource(_film(tmp_path / name, **kwargs)) as src:
        assert sum(1 for _ in src.luma_frames()) == 24
        assert src.truncated_at_seconds is None


@pytest.mark.parametrize("audio", [None, "aac"])
def test_a_cut_off_film_is_called_truncated(tmp_path, audio):
    cut = mf.truncate_file(mf.make_clip(tmp_path / "cut.mkv", frames=48, audio=audio), 0.5)
    with MediaSource(cut) as src:
        frames = sum(1 for _ in src.luma_frames())
        assert 0 < frames < 48 and src.truncated_at_seconds is not None
        assert abs(src.truncated_at_seconds - frames / 24) < 0.1
