"""MediaSink: round trips through libx264 with copied streams, atomic writes, up-front container checks."""

from __future__ import annotations

import errno
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import media_factory as mf
from vidcolor.errors import MediaError
from vidcolor.media import (LumaFrame, MediaSink, MediaSource, build_frame, chroma_shape_for, output_pix_fmt,
                            writable_suffix)


def roundtrip(src_path: Path, dst_path: Path, *, crf: int = 10, fail_after: int | None = None,
              preset: str = "ultrafast") -> Path:
    """Decode src, write its Y with constant chroma to dst (like the pipeline does)."""
    with MediaSource(src_path) as src, MediaSink(dst_path, src, crf=crf, preset=preset) as sink:
        ch = sink.chroma_shape
        cb, cr = np.full(ch, 110, np.uint8), np.full(ch, 150, np.uint8)
        for item in src.items():
            if isinstance(item, LumaFrame):
                if fail_after is not None and item.index == fail_after:
                    raise KeyboardInterrupt
                sink.write_frame(item.y, cb, cr, item.pts)
            else:
                sink.write_packet(item)
        return sink.commit()


def stream_duration(path: Path, kind: str = "video") -> float:
    with av.open(str(path)) as c:
        s = getattr(c.streams, kind)[0]
        return float(s.duration * s.time_base) if s.duration else c.duration / 1e6


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if "vidcolor-tmp" in p.name]


@pytest.mark.parametrize("src_name,dst_name,audio", [("in.mp4", "out.mp4", "aac"), ("in.mkv", "out.mkv", "aac51"),
                                                     ("in.mkv", "out.mp4", "ac3"), ("in.mov", "out.mov", "pcm"),
                                                     ("in.mkv", "out.mp4", "alac"), ("in.mkv", "out.mov", "alac")])
def test_roundtrip_frames_pts_audio(clip_factory, tmp_path, src_name, dst_name, audio):
    src = clip_factory(src_name, audio=audio, frames=24)
    out = roundtrip(src, tmp_path / dst_name)
    fin, fout = mf.read_frames(src), mf.read_frames(out)
    assert len(fout) == len(fin) == 24
    assert [t for t, _ in fout] == [t for t, _ in fin]
    ain, aout = mf.read_packets(src), mf.read_packets(out)
    assert [b for b, _, _ in aout] == [b for b, _, _ in ain]
    assert [p for _, p, _ in aout] == [p for _, p, _ in ain]
    assert abs(stream_duration(out) - stream_duration(src)) <= 1 / 24 + 1e-6
    with av.open(str(src)) as a, av.open(str(out)) as b:
        sa, sb = a.streams.audio[0], b.streams.audio[0]
        assert (sb.codec_context.name, sb.layout.name, sb.rate) == (sa.codec_context.name, sa.layout.name, sa.rate)
    assert leftovers(tmp_path) == []


def test_cross_container_keeps_sync(clip_factory, tmp_path):
    src = clip_factory("in.mp4", audio="aac")
    out = roundtrip(src, tmp_path / "out.mkv")
    fin, fout = mf.read_frames(src), mf.read_frames(out)
    ain, aout = mf.read_packets(src), mf.read_packets(out)
    assert [b for b, _, _ in aout] == [b for b, _, _ in ain]
    # Matroska cannot start below 0: the muxer may shift every stream by the AAC priming delay, equally.
    shift = fout[0][0] - fin[0][0]
    assert abs(shift) < Fraction(1, 20)
    assert all(abs((b - a) - shift) <= Fraction(1, 1000) for (a, _), (b, _) in zip(fin, fout))
    assert all(abs((b - a) - shift) <= Fraction(1, 1000) for (_, a, _), (_, b, _) in zip(ain, aout))


def test_y_plane_preserved_through_encoder(clip_factory, tmp_path):
    src = clip_factory("in.mp4", gray=False)
    out = roundtrip(src, tmp_path / "out.mp4", crf=0)
    for (_, a), (_, b) in zip(mf.read_frames(src), mf.read_frames(out)):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # crf 0: only rounding noise


def test_y_plane_close_at_default_crf(clip_factory, tmp_path):
    src = clip_factory("in.mp4", gray=False)
    out = roundtrip(src, tmp_path / "out.mp4", crf=18)
    diffs = [np.abs(a.astype(int) - b.astype(int)).mean() for (_, a), (_, b) in zip(mf.read_frames(src), mf.read_frames(out))]
    assert max(diffs) < 2.0


@pytest.mark.parametrize("w,h,fmt,chroma", [(96, 64, "yuv420p", (32, 48)), (65, 49, "yuv444p", (49, 65)), (64, 49, "yuv444p", (49, 64))])
def test_build_frame_is_exact(w, h, fmt, chroma):
    assert output_pix_fmt(w, h) == fmt and chroma_shape_for(w, h) == chroma
    rng = np.random.default_rng(0)
    y = rng.integers(0, 256, (h, w), dtype=np.uint8)
    cb, cr = (rng.integers(0, 256, chroma, dtype=np.uint8) for _ in range(2))
    f = build_frame(y, cb, cr, pix_fmt=fmt, color_range="pc")
    assert (f.width, f.height, f.format.name, f.color_range, f.colorspace) == (w, h, fmt, 2, 1)
    for plane, arr in zip(f.planes, (y, cb, cr)):
        got = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
        np.testing.assert_array_equal(got, arr)
    with pytest.raises(ValueError):
        build_frame(y, cb[:-1], cr, pix_fmt=fmt)


@pytest.mark.parametrize("w,h,fmt", [(96, 64, "yuv420p10le"), (65, 49, "yuv444p10le")])
def test_build_frame_is_exact_at_10_bits(w, h, fmt):
    assert output_pix_fmt(w, h, bit_depth=10) == fmt
    rng = np.random.default_rng(1)
    y = rng.integers(0, 1024, (h, w), dtype=np.uint16)
    cb, cr = (rng.integers(0, 1024, chroma_shape_for(w, h), dtype=np.uint16) for _ in range(2))
    f = build_frame(y, cb, cr, pix_fmt=fmt)
    for plane, arr in zip(f.planes, (y, cb, cr)):
        got = np.frombuffer(plane, np.uint16).reshape(plane.height, plane.line_size // 2)[:, : plane.width]
        np.testing.assert_array_equal(got, arr)
    with pytest.raises(ValueError, match="uint16"):
        build_frame(y.astype(np.uint8), cb, cr, pix_fmt=fmt)  # 8-bit planes into a 10-bit frame


def test_a_10_bit_sink_writes_high_10(clip_factory, tmp_path):
    src = clip_factory("ten.mkv", pix_fmt="yuv420p10le", gray=False, frames=4)
    out = tmp_path / "out.mkv"
    with MediaSource(src, keep_10_bit=True) as source, MediaSink(out, source, crf=0, preset="ultrafast",
                                                                 bit_depth=10) as sink:
        neutral = np.full(sink.chroma_shape, 512, np.uint16)
        planes = []
        for item in source.items():
            if isinstance(item, LumaFrame):
                planes.append(item.y10)
                sink.write_frame(item.y10, neutral, neutral, item.pts)
        sink.commit()
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.profile.startswith("High")
        frames = list(c.decode(video=0))
    assert len(frames) == 4 and {f.format.name for f in frames} == {"yuv420p10le"}
    for f, y10 in zip(frames, planes):
        got = np.frombuffer(f.planes[0], np.uint16).reshape(f.planes[0].height, -1)[:, :96].astype(int)
        assert np.abs(got - y10.astype(int)).mean() < 0.5  # crf 0 at 10 bits: the 10-bit codes, not 8-bit steps


def test_odd_size_roundtrip(clip_factory, tmp_path):
    src = clip_factory("odd.mp4", width=65, height=49)
    with MediaSource(src) as s, MediaSink(tmp_path / "o.mp4", s) as k:
        assert k.chroma_shape == (49, 65) and k.pix_fmt == "yuv444p"
    out = roundtrip(src, tmp_path / "odd_out.mp4")
    with av.open(str(out)) as c:
        f = next(c.decode(video=0))
        assert (f.width, f.height) == (65, 49)
    assert len(mf.read_frames(out)) == 24


@pytest.mark.parametrize("ext", ["mp4", "mkv", "mov"])
def test_rotation_kept(clip_factory, tmp_path, ext):
    src = clip_factory(f"rot.{ext}", rotation=90)
    out = roundtrip(src, tmp_path / f"out.{ext}")
    with MediaSource(out) as s:
        assert s.video.rotation_degrees == 90
        assert (s.video.width, s.video.height) == (96, 64)
    with av.open(str(out)) as c:
        assert next(c.decode(video=0)).rotation == 90


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_vfr_pts_kept(clip_factory, tmp_path, ext):
    src = clip_factory(f"vfr.{ext}", vfr=True, audio="aac")
    out = roundtrip(src, tmp_path / f"out.{ext}")
    tin = [t for t, _ in mf.read_frames(src)]
    tout = [t for t, _ in mf.read_frames(out)]
    assert tout == tin
    assert len({round(float(b - a), 3) for a, b in zip(tin, tin[1:])}) > 3


def test_metadata_chapters_subtitles_range_sar(clip_factory, tmp_path):
    src = clip_factory("meta.mkv", audio="aac", subtitles=True, chapters=True, title="My film", language="fra",
                       full_range=True, sar=Fraction(4, 3))
    out = roundtrip(src, tmp_path / "out.mkv")
    with av.open(str(out)) as c:
        assert c.metadata["title"] == "My film"
        assert [ch["metadata"]["title"] for ch in c.chapters()] == ["One", "Two"]
        v, a, s = c.streams.video[0], c.streams.audio[0], c.streams.subtitles[0]
        assert a.metadata["language"] == "fra" and s.metadata["language"] == "fra" and v.metadata["language"] == "fra"
        assert v.sample_aspect_ratio == Fraction(4, 3)
        f = next(c.decode(video=0))
        assert f.color_range == 2 and f.colorspace == 1 and f.color_primaries == 1 and f.color_trc == 1
    assert [b for b, _, _ in mf.read_packets(out, "subtitle")] == [b"Hello", b"World"]


def test_mov_text_subtitles_into_mp4(clip_factory, tmp_path):
    src = clip_factory("subs.mp4", subtitles=True)
    out = roundtrip(src, tmp_path / "out.mp4")
    assert mf.read_packets(out, "subtitle") == mf.read_packets(src, "subtitle")


@pytest.mark.parametrize("src_name,dst_name,hint", [("subs.mp4", "out.mkv", None), ("subs.mkv", "out.mp4", ".mkv"),
                                                    ("subs.mkv", "out.avi", ".mkv")])
def test_unsupported_stream_fails_before_writing(clip_factory, tmp_path, src_name, dst_name, hint):
    src = clip_factory(src_name, subtitles=True)
    dst = tmp_path / dst_name
    with MediaSource(src) as s:
        with pytest.raises(MediaError) as e:
            MediaSink(dst, s)
    msg = str(e.value)
    assert "subtitle" in msg and ("mov_text" in msg or "srt" in msg or "subrip" in msg)
    if hint:
        assert f"use -o out{hint}" in msg
    else:
        assert "use -o out.mov" in msg or "use -o out.mp4" in msg
    assert not dst.exists() and leftovers(tmp_path) == []


def test_the_container_hint_never_names_the_input_itself(clip_factory):
    src = clip_factory("film.mkv", subtitles=True)  # srt: not in .mp4
    with MediaSource(src) as s, pytest.raises(MediaError, match=r"use -o film\.color\.mkv$"):
        MediaSink(src.with_suffix(".mp4"), s)


def test_matroska_attachments_are_kept_or_said_to_be_left(clip_factory, tmp_path, caplog):
    plain = clip_factory("plain.mkv", audio="aac")
    src = tmp_path / "fonts.mkv"
    with av.open(str(plain)) as i, av.open(str(src), "w") as o:  # the same film with a font attached
        out = {s.index: o.add_stream_from_template(s) for s in i.streams}
        o.add_attachment("Subtitle Sans.ttf", "font/ttf", b"\0\1\0\0 not a real font")
        for packet in i.demux():
            if packet.dts is not None:
                packet.stream = out[packet.stream.index]
                o.mux(packet)
    kept = roundtrip(src, tmp_path / "out.mkv")
    with av.open(str(kept)) as c:
        fonts = [(a.name, a.mimetype, bytes(a.data)) for a in c.streams if a.type == "attachment"]
    assert fonts == [("Subtitle Sans.ttf", "font/ttf", b"\0\1\0\0 not a real font")]
    with caplog.at_level("WARNING"):
        roundtrip(src, tmp_path / "out.mp4")
    assert "attachment(s) (Subtitle Sans.ttf) are not copied" in caplog.text


def test_no_temp_left_after_commit(gray_clip, tmp_path):
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    with MediaSource(gray_clip) as s, MediaSink(out_dir / "x.mp4", s) as k:
        tmp = k.temp_path
        assert tmp.parent == out_dir and tmp.name.startswith(".x.mp4.vidcolor-tmp-") and tmp.suffix == ".mp4"
        assert not (out_dir / "x.mp4").exists()
        ch = k.chroma_shape
        for f in s.luma_frames():
            k.write_frame(f.y, np.full(ch, 128, np.uint8), np.full(ch, 128, np.uint8), f.pts)
        assert not (out_dir / "x.mp4").exists()
        assert k.commit() == out_dir / "x.mp4"
    assert sorted(p.name for p in out_dir.iterdir()) == ["x.mp4"]


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_exception_removes_temp_and_keeps_old_output(gray_clip, tmp_path, exc):
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"previous result")
    with pytest.raises(exc):
        with MediaSource(gray_clip) as s, MediaSink(dst, s) as k:
            ch = k.chroma_shape
            for f in s.luma_frames():
                k.write_frame(f.y, np.zeros(ch, np.uint8), np.zeros(ch, np.uint8), f.pts)
                if f.index == 10:
                    raise exc("stop")
    assert dst.read_bytes() == b"previous result"
    assert leftovers(tmp_path) == []


def test_abort_and_uncommitted_exit(gray_clip, tmp_path):
    with MediaSource(gray_clip) as s:
        k = MediaSink(tmp_path / "a.mp4", s)
        f = next(s.luma_frames())
        ch = k.chroma_shape
        k.write_frame(f.y, np.zeros(ch, np.uint8), np.zeros(ch, np.uint8), f.pts)
        k.abort()
        k.abort()  # idempotent
        with MediaSink(tmp_path / "b.mp4", s):
            pass  # leaving without commit() throws the file away
    assert list(tmp_path.iterdir()) == [gray_clip] or sorted(p.name for p in tmp_path.iterdir()) == [gray_clip.name]


@pytest.mark.parametrize("name,match", [("out.xyz", "unknown output format"), ("missing/out.mp4", "does not exist")])
def test_bad_output_paths(gray_clip, tmp_path, name, match):
    with MediaSource(gray_clip) as s:
        with pytest.raises(MediaError, match=match):
            MediaSink(tmp_path / name, s)


def test_sample_clip_roundtrip(sample_clip, tmp_path):
    out = roundtrip(sample_clip, tmp_path / "bbb.mp4", crf=30)
    assert mf.read_packets(out) == mf.read_packets(sample_clip)
    assert [t for t, _ in mf.read_frames(out)] == [t for t, _ in mf.read_frames(sample_clip)]
    assert abs(stream_duration(out) - 5.28) < 0.04


def test_avi_roundtrip_keeps_frames_and_audio(clip_factory, tmp_path):
    src = clip_factory("in.avi", audio="mp3")
    out = roundtrip(src, tmp_path / "out.avi")
    fin, fout = mf.read_frames(src), mf.read_frames(out)
    assert len(fout) == len(fin) == 24
    assert [b for b, _, _ in mf.read_packets(out)] == [b for b, _, _ in mf.read_packets(src)]
    assert abs(fout[0][0] - fin[0][0]) <= Fraction(2, 24)  # AVI stores no pts: frames are indexed from 0


def test_non_increasing_pts_are_bumped(gray_clip, tmp_path):
    with MediaSource(gray_clip) as s, MediaSink(tmp_path / "o.mkv", s) as k:
        frames = list(s.luma_frames())[:4]
        ch = k.chroma_shape
        for f, pts in zip(frames, [0, 512, 512, 1024]):
            k.write_frame(f.y, np.zeros(ch, np.uint8), np.zeros(ch, np.uint8), pts)
        assert k.pts_adjusted == 1
        k.commit()
    assert len(mf.read_frames(tmp_path / "o.mkv")) == 4


def test_avi_output_keeps_every_frame_in_its_slot(clip_factory, tmp_path):
    """AVI has no presentation times: each frame must be stored in its own time slot, which B-frames would
    shift by the reorder delay."""
    src = clip_factory("vfr.avi", vfr=True)  # 1 ms slots, most of them empty (dropped) between the frames
    out = roundtrip(src, tmp_path / "out.avi", preset="fast")  # x264's presets from veryfast up use B-frames
    with MediaSource(src) as a, MediaSource(out) as b:
        tin = [f.pts * a.video.time_base for f in a.luma_frames()]
        slot = b.video.time_base
        tout = [f.pts * slot for f in b.luma_frames()]
    assert len(tout) == len(tin) == 24
    assert all(abs(o - i) <= slot / 2 for i, o in zip(tin, tout)), (tin[:6], tout[:6])


@pytest.mark.parametrize("src_name,dst_name", [("tc.mov", "out.mov"), ("tc.mov", "out.mkv"), ("tc.mkv", "out.mp4")])
def test_source_timecode_is_kept(clip_factory, tmp_path, src_name, dst_name):
    """A tape's start timecode (MOV/MP4 tmcd track, Matroska TIMECODE tag) survives into the colour copy."""
    src = clip_factory(src_name, timecode="10:00:00:00")
    out = roundtrip(src, tmp_path / dst_name)
    with av.open(str(out)) as c:
        tags = {k.lower(): v for k, v in c.streams.video[0].metadata.items()}
    assert tags.get("timecode") == "10:00:00:00"


def _copy_with_planes(src_path: Path, dst_path: Path) -> MediaSink:
    """roundtrip() that hands back the committed sink (for its counters)."""
    with MediaSource(src_path) as src, MediaSink(dst_path, src, crf=30, preset="ultrafast") as sink:
        ch = sink.chroma_shape
        cb = cr = np.full(ch, 128, np.uint8)
        for item in src.items():
            if isinstance(item, LumaFrame):
                sink.write_frame(item.y, cb, cr, item.pts)
            else:
                sink.write_packet(item)
        sink.commit()
    return sink


@pytest.mark.parametrize("dst_name", ["out.mkv", "out.mp4", "out.mov"])
def test_damaged_copied_packets_are_dropped_and_counted(tmp_path, caplog, dst_name):
    """AAC from an MPEG-TS passes through aac_adtstoasc, which refuses a frame whose ADTS header a dropout hit
    (INVALIDDATA): that packet is dropped and counted with one warning, not the whole film failed."""
    src = mf.make_damaged_aac_ts(tmp_path / "damaged.ts")
    with caplog.at_level("WARNING", logger="vidcolor"):
        sink = _copy_with_planes(src, tmp_path / dst_name)
    assert sink.dropped_packets == 2  # the zeroed header and the fragment the parser resynced into
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "damaged.ts: dropped a damaged packet of stream #1 (audio, aac)" in warnings[0]
    out = tmp_path / dst_name
    assert len(mf.read_frames(out)) == 24
    assert len(mf.read_packets(out)) == len(mf.read_packets(src)) - 2
    assert leftovers(tmp_path) == []


def test_write_failure_of_a_copied_packet_still_fails(tmp_path, monkeypatch):
    """Only the muxer's refusal of a packet's data drops it: a failing write (ENOSPC) fails the film as before."""
    src = mf.make_clip(tmp_path / "in.mkv", audio="aac", frames=6)

    class FullDisk:
        """The output container once the disk is full: FFmpeg's writes fail with ENOSPC."""

        def __init__(self, container):
            self.container = container

        def mux(self, packets):
            av.error.err_check(-errno.ENOSPC)

        def __getattr__(self, name):
            return getattr(self.container, name)

    with MediaSource(src) as s, MediaSink(tmp_path / "out.mkv", s) as k:
        packet = next(item for item in s.items() if isinstance(item, av.Packet))
        monkeypatch.setattr(k, "_out", FullDisk(k._out))
        with pytest.raises(MediaError, match="writing out.mkv failed: No space left on device"):
            k.write_packet(packet)
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.mkv").exists()


def test_a_stream_the_muxer_refuses_throughout_fails_the_film(tmp_path, monkeypatch):
    """Dropping is for a damaged packet here and there: a stream refused packet after packet is not written
    without its sound; the film fails, naming the stream."""
    src = mf.make_clip(tmp_path / "in.mkv", audio="aac", frames=12)

    class RefusesAudio:
        """The output container with a muxer that refuses every audio packet's data."""

        def __init__(self, container):
            self.container = container

        def mux(self, packets):
            for p in packets if isinstance(packets, list) else [packets]:
                if p.stream.type == "audio":
                    av.error.err_check(-1094995529)  # AVERROR_INVALIDDATA
                self.container.mux(p)

        def __getattr__(self, name):
            return getattr(self.container, name)

    with MediaSource(src) as s, MediaSink(tmp_path / "out.mkv", s, preset="ultrafast") as k:
        monkeypatch.setattr(k, "_out", RefusesAudio(k._out))
        ch = k.chroma_shape
        for item in s.items():
            if isinstance(item, LumaFrame):
                k.write_frame(item.y, np.full(ch, 128, np.uint8), np.full(ch, 128, np.uint8), item.pts)
            else:
                k.write_packet(item)
        assert k.dropped_packets > 5
        with pytest.raises(MediaError, match=r"refused \d+ of the \d+ packets of stream #1 \(audio, aac\) in "
                                             r"in.mkv; the stream is too damaged to copy$"):
            k.commit()
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.mkv").exists()


@pytest.mark.parametrize("src_name", ["in.mp4", "in.mkv"])
def test_avi_output_from_aac_with_priming_keeps_slots(clip_factory, tmp_path, src_name):
    """AAC from MP4/MKV starts one priming frame below 0 (-21 ms). The AVI muxer shifted every stream up by it,
    rounded up to a whole video slot: frames after the first landed one slot late, the audio only 21 ms."""
    src = clip_factory(src_name, audio="aac", b_frames=0)
    assert mf.read_packets(src)[0][1] < 0  # the priming frame
    out = roundtrip(src, tmp_path / "out.avi")
    with av.open(str(out)) as c:
        slots = [p.dts for p in c.demux(video=0) if p.size]
    assert slots == list(range(24))  # the input's frames are at 0, 1/24, 2/24...
    with MediaSource(out) as s:
        assert [f.pts for f in s.luma_frames()] == list(range(24))
    ain, aout = mf.read_packets(src), mf.read_packets(out)
    assert [b for b, _, _ in aout] == [b for b, _, _ in ain]
    assert aout[0][1] == 0  # AVI has no audio times: the priming frame plays at 0


def test_rotation_avi_cannot_keep_is_refused_before_writing(clip_factory, tmp_path):
    """AVI stores no display matrix: the rotation was silently dropped; now refused, naming a container that keeps it."""
    src = clip_factory("rot.mp4", rotation=90, audio="aac")
    with MediaSource(src) as s:
        with pytest.raises(MediaError, match=r"^\.avi files cannot keep the rotation \(90 degrees\) of rot\.mp4; "
                                             r"use -o out\.mkv$"):
            MediaSink(tmp_path / "out.avi", s)
        # a batch mirrors a film of a container it does not write (or an AVI) into one that keeps the rotation
        assert [writable_suffix(s, ext) for ext in (".avi", ".mp4", ".mov", ".ts")] == [".mkv", ".mp4", ".mov", ".mkv"]
    assert not (tmp_path / "out.avi").exists() and leftovers(tmp_path) == []
    with MediaSource(clip_factory("flat.mp4", audio="aac")) as s:
        assert writable_suffix(s, ".avi") == ".avi"
        MediaSink(tmp_path / "flat.avi", s).abort()  # no rotation: AVI is fine
