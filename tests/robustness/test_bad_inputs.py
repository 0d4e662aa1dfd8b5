"""Inputs that are not (whole) videos: a one-line error or a reported, honest partial result; never a traceback."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import av
import pytest
from robust_cli import assert_clean_folder, assert_outcome, cli_args, hash_files, run_in_process

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import media_factory as mf  # noqa: E402


def _text(p: Path) -> Path:
    p.write_text("this is not a video\n" * 20)
    return p


def _empty(p: Path) -> Path:
    p.write_bytes(b"")
    return p


def _half_mp4(p: Path) -> Path:
    return mf.truncate_file(mf.make_clip(p, frames=24, audio="aac"), 0.5)


# case id, file name, maker, expected message (exit code 2, nothing written)
REFUSED = [
    ("text-named-mp4", "notes.mp4", _text, "notes.mp4 is not a video file (FFmpeg cannot recognise its format)"),
    ("png-named-mp4", "still.mp4", mf.make_image_file, "still.mp4 is not a video file (no video stream found)"),
    ("empty-file", "empty.mp4", _empty, "empty.mp4 is empty (0 bytes)"),
    ("truncated-mp4-half", "cut.mp4", _half_mp4,
     "cut.mp4 is truncated or corrupt: its container cannot be read (header or index missing)"),
    ("audio-only", "sound.m4a", lambda p: mf.make_non_video(p, kind="audio"),
     "sound.m4a is not a video file (no video stream found)"),
    ("zero-frames-mkv", "zero.mkv", mf.make_zero_frame_clip,
     "zero.mkv is truncated or empty: it ends before any video frame"),
    ("zero-frames-mp4", "zero.mp4", mf.make_zero_frame_clip, "zero.mp4 is not a video file (no video stream found)"),
]


@pytest.mark.parametrize("name,make,message", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused_with_one_line(tmp_path, fast_model, name, make, message):
    src = make(tmp_path / name)
    before = hash_files([src])
    out = run_in_process(cli_args([name], fast_model), tmp_path)
    assert_outcome(out, code=2, message=message)
    assert out.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no output, no temp file
    assert_clean_folder(tmp_path, before)


def test_missing_input(tmp_path, fast_model):
    out = run_in_process(cli_args(["nowhere.mp4"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="input not found: nowhere.mp4")
    assert list(tmp_path.iterdir()) == []


def test_output_may_be_given_as_the_second_argument(tmp_path, fast_model):
    src = mf.make_clip(tmp_path / "film.mkv", frames=6)
    before = hash_files([src])
    out = run_in_process(cli_args(["film.mkv", "out.mkv"], fast_model), tmp_path)  # `vidcolor run IN OUT`
    assert_outcome(out, code=0, stdout="colorized 6 frames")
    assert _frame_count(tmp_path / "out.mkv") == 6
    assert_clean_folder(tmp_path, before)
    out = run_in_process(cli_args(["film.mkv", "a.mkv", "-o", "b.mkv"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="two outputs given: a.mkv and --output b.mkv; give one")
    assert not (tmp_path / "a.mkv").exists() and not (tmp_path / "b.mkv").exists()


def test_directory_named_like_a_video_is_a_batch_of_nothing(tmp_path, fast_model):
    """`film.mp4/` is a folder: it is run as a directory batch (none of its contents touched), not opened as a file."""
    d = tmp_path / "film.mp4"
    d.mkdir()
    (d / "readme.txt").write_text("not a film")
    before = hash_files([d / "readme.txt"])
    out = run_in_process(cli_args(["film.mp4"], fast_model), tmp_path)
    assert_outcome(out, code=0, stdout="0 films")
    assert [p.name for p in d.iterdir()] == ["readme.txt"]
    assert_clean_folder(tmp_path, before)


def _frame_count(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_truncated_matroska_colorizes_what_is_there_and_says_so(tmp_path, fast_model):
    src = mf.truncate_file(mf.make_clip(tmp_path / "cut.mkv", frames=48, audio="aac"), 0.5)
    readable = _frame_count(src)
    before = hash_files([src])
    out = run_in_process(cli_args(["cut.mkv", "-o", "out.mkv"], fast_model), tmp_path)
    assert_outcome(out, code=0, stdout=f"colorized {readable} frames")
    assert len(out.error_lines) == 1 and re.fullmatch(
        r"vidcolor: warning: cut\.mkv ends after 1\.0\d s of its declared 2\.0\d s \(a truncated file\?\); "
        r"the output holds what could be read", out.error_lines[0]), out.stderr
    assert 0 < readable < 48 and _frame_count(tmp_path / "out.mkv") == readable
    assert_clean_folder(tmp_path, before)


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_corrupt_packets_are_concealed_and_counted(tmp_path, fast_model, ext):
    src = mf.make_corrupt_clip(tmp_path / f"scratched.{ext}", frames=24, corrupt=(9, 10, 11), audio="aac")
    before = hash_files([src])
    out = run_in_process(cli_args([src.name, "-o", f"out.{ext}"], fast_model), tmp_path)
    assert_outcome(out, code=0)
    assert "3 corrupt packets concealed" in out.stdout, out.stdout
    frames = _frame_count(tmp_path / f"out.{ext}")
    assert frames == int(out.stdout.split()[1]) and 18 <= frames < 24
    assert out.stderr == ""
    assert_clean_folder(tmp_path, before)


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_damaged_audio_packet_is_dropped_and_counted(tmp_path, fast_model, ext):
    """A dropout in a DVB recording's AAC (zeroed ADTS header): the packets it spoils are dropped with one warning, the
    film is written whole (it failed with `writing out.mkv failed: Invalid data found when processing input`)."""
    src = mf.make_damaged_aac_ts(tmp_path / "damaged.ts")
    before = hash_files([src])
    out = run_in_process(cli_args(["damaged.ts", "-o", f"out.{ext}"], fast_model), tmp_path)
    assert_outcome(out, code=0, stdout="colorized 24 frames")
    assert "2 corrupt packets concealed" in out.stdout, out.stdout  # the zeroed header and a fragment after it
    assert len(out.error_lines) == 1 and out.error_lines[0].startswith(
        "vidcolor: warning: damaged.ts: dropped a damaged packet of stream #1 (audio, aac) at "), out.stderr
    assert _frame_count(tmp_path / f"out.{ext}") == 24
    assert len(mf.read_packets(tmp_path / f"out.{ext}")) == len(mf.read_packets(src)) - 2
    assert_clean_folder(tmp_path, before)
