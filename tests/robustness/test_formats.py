"""Unusual but valid inputs: each is colorized with its size, timing, metadata and other streams intact."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import pytest
from robust_cli import assert_clean_folder, assert_outcome, cli_args, hash_files, run_in_process

from vidcolor.media import MediaSource

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import media_factory as mf  # noqa: E402


def _facts(path: Path) -> dict:
    """What a viewer sees of a file: frames, size, timestamps, stream kinds and languages."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        pts = [f.pts for f in c.decode(vs)]
        tb = vs.time_base
        streams = [(s.type, s.codec_context.name if s.type != "video" else "", s.metadata.get("language"))
                   for s in c.streams if s.type != "video"]
    with MediaSource(path) as src:
        info = src.video
    return {"frames": len(pts), "size": (info.width, info.height), "seconds": [p * tb for p in pts],
            "streams": streams, "rotation": info.rotation_degrees, "sar": info.sample_aspect_ratio,
            "range": info.color_range, "fields": info.field_order}


def _check(expect_pix: str | None = None, *same: str):
    def check(src: Path, out: Path) -> None:
        a, b = _facts(src), _facts(out)
        for key in ("frames", "size", "seconds", "streams", "rotation", "sar", "fields", *same):
            assert a[key] == b[key], (key, a[key], b[key])
        if expect_pix:
            with MediaSource(out) as o:
                assert o.video.pix_fmt == expect_pix
    return check


# case id, file name, maker(path), extra checks
CASES = [
    ("odd-641x359", "odd.mp4", lambda p: mf.make_clip(p, width=641, height=359, frames=4), _check("yuv444p")),
    ("tiny-16x16", "tiny.mp4", lambda p: mf.make_clip(p, width=16, height=16, frames=6), _check("yuv420p")),
    ("4k-3840x2160", "uhd.mp4", lambda p: mf.make_clip(p, width=3840, height=2160, frames=2), _check("yuv420p")),
    ("rotation-90", "rot.mp4", lambda p: mf.make_clip(p, rotation=90, frames=6), _check()),
    ("anamorphic-sar-64-45", "ana.mkv", lambda p: mf.make_clip(p, sar=Fraction(64, 45), frames=6), _check()),
    ("interlaced-tff", "inter.mp4", mf.make_interlaced_clip, _check()),
    ("10-bit-420", "ten.mp4", lambda p: mf.make_clip(p, pix_fmt="yuv420p10le", frames=6), _check("yuv420p")),
    ("422", "c422.mp4", lambda p: mf.make_clip(p, pix_fmt="yuv422p", frames=6), _check("yuv420p")),
    ("444", "c444.mp4", lambda p: mf.make_clip(p, pix_fmt="yuv444p", frames=6), _check("yuv420p")),
    ("full-range-yuvj", "full.mp4", lambda p: mf.make_clip(p, pix_fmt="yuvj420p", full_range=True, frames=6),
     _check(None, "range")),
    ("gray8-ffv1", "gray.mkv", lambda p: mf.make_clip(p, pix_fmt="gray", frames=6), _check("yuv420p")),
    ("rgb-libx264rgb", "rgb.mkv", lambda p: mf.make_clip(p, pix_fmt="rgb24", frames=6), _check("yuv420p")),
    ("already-color", "color.mp4", lambda p: mf.make_clip(p, gray=False, frames=6, audio="aac"), _check()),
    ("variable-frame-rate", "vfr.mkv", lambda p: mf.make_clip(p, vfr=True, frames=16, audio="aac"), _check()),
    ("three-audio-streams", "multi.mp4", mf.make_multi_stream_clip, _check()),
    ("subtitles-mkv", "subs.mkv", lambda p: mf.make_clip(p, subtitles=True, frames=12, audio="ac3"), _check()),
    ("subtitles-mp4", "subs.mp4", lambda p: mf.make_clip(p, subtitles=True, frames=12, audio="aac"), _check()),
]


@pytest.mark.parametrize("name,make,check", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_unusual_input_is_colorized_intact(tmp_path, fast_model, name, make, check):
    src = make(tmp_path / name)
    before = hash_files([src])
    out_name = f"out{src.suffix}"
    out = run_in_process(cli_args([name, "-o", out_name], fast_model), tmp_path)
    assert_outcome(out, code=0, stdout=f"-> {out_name}")
    assert out.stderr == ""
    check(src, tmp_path / out_name)
    assert_clean_folder(tmp_path, before)


def test_stream_the_output_container_cannot_hold(tmp_path, fast_model):
    """PCM audio cannot go into .mp4: refused before any work, with the container that can hold it."""
    src = mf.make_clip(tmp_path / "pcm.mkv", audio="pcm", frames=6)
    before = hash_files([src])
    out = run_in_process(cli_args(["pcm.mkv", "-o", "pcm.mp4"], fast_model), tmp_path)
    assert_outcome(out, code=2,  # the hint never names the input itself
                   message=".mp4 files cannot hold stream #1 (audio, pcm_s16le) of pcm.mkv; use -o pcm.color.mkv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pcm.mkv"]
    assert_clean_folder(tmp_path, before)


def test_rotation_the_output_container_cannot_keep(tmp_path, fast_model):
    """AVI has no place for a display matrix: a phone's rotated film is refused before any work, with a
    container that keeps it (it was written sideways, exit 0, no word)."""
    src = mf.make_clip(tmp_path / "rot.mp4", rotation=90, frames=6, audio="aac")
    before = hash_files([src])
    out = run_in_process(cli_args(["rot.mp4", "-o", "rot.avi"], fast_model), tmp_path)
    assert_outcome(out, code=2, message=".avi files cannot keep the rotation (90 degrees) of rot.mp4; use -o rot.mkv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rot.mp4"]
    assert_clean_folder(tmp_path, before)


@pytest.mark.parametrize("ext", sorted(mf.BROADCAST_CODECS))
def test_a_container_vidcolor_does_not_write_gets_a_matroska_copy(tmp_path, fast_model, ext):
    """`vidcolor run film.mpg` (or .ts, .webm) writes film.color.mkv with the sound copied, as a batch run
    names such films, instead of refusing the default name."""
    src = mf.make_broadcast_clip(tmp_path / f"film{ext}")
    before = hash_files([src])
    out = run_in_process(cli_args([src.name], fast_model), tmp_path)
    assert_outcome(out, code=0, stdout="-> film.color.mkv")
    with av.open(str(src)) as a, av.open(str(tmp_path / "film.color.mkv")) as b:
        assert b.streams.audio[0].codec_context.name == a.streams.audio[0].codec_context.name
        assert sum(1 for _ in b.decode(video=0)) == sum(1 for _ in a.decode(video=0)) == 12
    assert_clean_folder(tmp_path, before)


def test_a_dv_tape_stays_interlaced_bottom_field_first(tmp_path, fast_model):
    """PAL DV: its fields are kept and flagged (bottom first), so players deinterlace the colour copy as they do
    the tape; `.dv` is not written, so the copy is Matroska."""
    src = mf.make_dv_clip(tmp_path / "tape.dv")
    before = hash_files([src])
    out = run_in_process(cli_args([src.name], fast_model), tmp_path)
    assert_outcome(out, code=0, stdout="-> tape.color.mkv")
    with MediaSource(src) as a, MediaSource(tmp_path / "tape.color.mkv") as b:
        assert a.video.field_order == b.video.field_order == "bff"
        assert a.video.sample_aspect_ratio == b.video.sample_aspect_ratio
        assert [f.seconds for f in a.luma_frames()] == [f.seconds for f in b.luma_frames()]
    assert_clean_folder(tmp_path, before)


@pytest.mark.parametrize("flag,pix_fmt", [("--10-bit", "yuv420p10le"), ("--8-bit", "yuv420p")])
def test_a_10_bit_master_is_written_at_the_depth_asked(tmp_path, fast_model, flag, pix_fmt):
    """`--10-bit` (the archive preset's setting) keeps a deep source 10-bit, with its sound and timing."""
    src = mf.make_clip(tmp_path / "master.mov", pix_fmt="yuv420p10le", gray=False, frames=6, audio="pcm")
    before = hash_files([src])
    out = run_in_process(cli_args([src.name, "-o", "out.mov", flag], fast_model), tmp_path)
    assert_outcome(out, code=0, stdout="-> out.mov")
    _check(pix_fmt)(src, tmp_path / "out.mov")
    assert_clean_folder(tmp_path, before)


def test_a_recording_that_changes_picture_size_keeps_its_first_size(tmp_path, fast_model):
    """A DVB recording going from 160x96 to 320x192 half-way: every frame is colorized, at the first size, and
    one warning line says so (it stopped with an internal error)."""
    src = mf.make_size_change_ts(tmp_path / "dvb.ts")
    before = hash_files([src])
    out = run_in_process(cli_args([src.name], fast_model), tmp_path)
    assert_outcome(out, code=0, stdout="colorized 24 frames")
    assert out.error_lines == ["vidcolor: warning: dvb.ts changes picture size to 320x192 at 0.48 s; those frames "
                               "are scaled to its first size, 160x96"]
    with av.open(str(tmp_path / "dvb.color.mkv")) as c:
        assert {(f.width, f.height) for f in c.decode(video=0)} == {(160, 96)}
    assert_clean_folder(tmp_path, before)
