"""The real CLI in a subprocess: exit codes, Ctrl-C and kill -9 in the middle of a film, and no tracebacks."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from robust_cli import (TEMP_MARKER, assert_clean_folder, assert_outcome, cli_args, hash_files, run_subprocess,
                        temp_leftovers)

from vidcolor.media import is_video_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import media_factory as mf  # noqa: E402

WAIT_FOR_WORK_SECONDS = 60


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """A clip that takes a few seconds to colorize on 2 cores (long enough to be interrupted)."""
    return mf.make_clip(tmp_path_factory.mktemp("long") / "long.mp4", width=320, height=240, frames=300, audio="aac")


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    # Ctrl-C as a terminal delivers it, even when the suite runs as a background job (which ignores it)
    return subprocess.Popen([sys.executable, "-m", "vidcolor", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_frames(proc: subprocess.Popen, folder: Path, min_bytes: int = 16384) -> None:
    """Wait until the temp output holds encoded frames (the run is in the middle of the film)."""
    deadline = time.monotonic() + WAIT_FOR_WORK_SECONDS
    while time.monotonic() < deadline:
        tmps = temp_leftovers(folder)
        if tmps and tmps[0].exists() and tmps[0].stat().st_size >= min_bytes:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be interrupted: {proc.communicate()}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("no output was being written")


def _copy(src: Path, folder: Path) -> Path:
    dst = folder / src.name
    dst.write_bytes(src.read_bytes())
    return dst


@pytest.mark.parametrize("signum,code,line", [(signal.SIGINT, 130, "vidcolor: interrupted"),
                                               (signal.SIGTERM, 143, "vidcolor: stopped by SIGTERM")])
def test_sigint_or_sigterm_mid_film(tmp_path, fast_model, long_clip, signum, code, line):
    src = _copy(long_clip, tmp_path)
    before = hash_files([src])
    proc = _start(cli_args([src.name, "-o", "out.mp4"], fast_model, ("--pipeline", "fast")), tmp_path)
    _wait_for_frames(proc, tmp_path)
    proc.send_signal(signum)  # Ctrl-C; or `kill`, systemd, `docker stop`
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == [line]  # said once
    assert stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]  # no output, no temp file
    assert_clean_folder(tmp_path, before)


def test_sigkill_mid_film_then_rerun(tmp_path, fast_model, long_clip):
    src = _copy(long_clip, tmp_path)
    before = hash_files([src])
    args = cli_args([src.name, "-o", "out.mp4"], fast_model)
    proc = _start(args, tmp_path)
    _wait_for_frames(proc, tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != src.name)
    assert len(left) == 1 and left[0].startswith(".out.mp4" + TEMP_MARKER), left  # at most the hidden temp file
    stale = tmp_path / left[0]
    assert not is_video_file(stale)  # never mistaken for a finished film (batch scans skip it)

    # The next run to the same output is not fooled by the leftover (a short film, to keep the test quick).
    short = mf.make_clip(tmp_path / "short.mp4", frames=12, audio="aac")
    out = run_subprocess(cli_args([short.name, "-o", "out.mp4"], fast_model), tmp_path)
    assert_outcome(out, code=0, stdout="colorized 12 frames")
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert c.streams.video[0].frames == 12
    assert not stale.exists()  # the killed run's temp file was cleaned up by the next run to that output
    assert hash_files([src]) == before


def test_errors_are_one_line_in_a_real_process(tmp_path, fast_model):
    """The same one-line errors and exit codes from `python -m vidcolor`, for a user error and a damaged file."""
    (tmp_path / "notes.mp4").write_text("hello")
    cut = mf.truncate_file(mf.make_clip(tmp_path / "cut.mp4", frames=12), 0.5)
    before = hash_files([tmp_path / "notes.mp4", cut])
    out = run_subprocess(cli_args(["notes.mp4"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="notes.mp4 is not a video file (FFmpeg cannot recognise its format)")
    out = run_subprocess(cli_args(["cut.mp4", "-o", "out.mkv"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="cut.mp4 is truncated or corrupt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4", "notes.mp4"]
    assert_clean_folder(tmp_path, before)
