"""Where the output goes: unwritable, missing, full, the input itself, an existing file; modes of the result."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from robust_cli import assert_clean_folder, assert_outcome, cli_args, hash_files, run_in_process

from vidcolor.media import MediaSink

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import media_factory as mf  # noqa: E402


@pytest.fixture
def clip(tmp_path) -> Path:
    return mf.make_clip(tmp_path / "film.mp4", frames=12, audio="aac")


def _only(tmp_path: Path, *names: str) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_output_under_a_file(tmp_path, fast_model, clip):
    (tmp_path / "notes.txt").write_text("x")
    before = hash_files([clip, tmp_path / "notes.txt"])
    out = run_in_process(cli_args(["film.mp4", "-o", "notes.txt/out.mp4"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="cannot write notes.txt/out.mp4: notes.txt is a file, not a folder")
    _only(tmp_path, "film.mp4", "notes.txt")
    assert_clean_folder(tmp_path, before)


def test_output_folder_missing(tmp_path, fast_model, clip):
    before = hash_files([clip])
    out = run_in_process(cli_args(["film.mp4", "-o", "nowhere/out.mp4"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="cannot write nowhere/out.mp4: nowhere does not exist")
    _only(tmp_path, "film.mp4")
    assert_clean_folder(tmp_path, before)


def test_output_folder_not_writable(tmp_path, fast_model, clip):
    """Even root cannot create files in /sys: a real permission error, reported in one line."""
    if os.access("/sys", os.W_OK) and Path("/sys/out.mp4").parent.is_dir():
        try:
            Path("/sys/.vidcolor-probe").touch()
        except OSError:
            pass
        else:  # pragma: no cover - a writable /sys: nothing to test here
            Path("/sys/.vidcolor-probe").unlink()
            pytest.skip("/sys is writable here")
    before = hash_files([clip])
    out = run_in_process(cli_args(["film.mp4", "-o", "/sys/out.mp4"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="cannot write /sys/out.mp4: permission denied in /sys")
    assert not Path("/sys/out.mp4").exists()
    _only(tmp_path, "film.mp4")
    assert_clean_folder(tmp_path, before)


def test_unknown_output_extension(tmp_path, fast_model, clip):
    out = run_in_process(cli_args(["film.mp4", "-o", "out.xyz"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="cannot write out.xyz: unknown output format '.xyz'; use .mp4, .mkv, .mov or .avi")
    _only(tmp_path, "film.mp4")


class _FullDisk:
    """Stands in for the output container once the disk is full: every write fails with ENOSPC."""

    def __init__(self, container):
        self._container = container

    def mux(self, packets):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._container, name)


def test_disk_full_injected(tmp_path, fast_model, clip, monkeypatch):
    """The OS refuses a write half way (ENOSPC): one line, no partial output, no temp file."""
    calls = {"n": 0}
    real_mux = MediaSink._mux

    def mux(self, packets):
        calls["n"] += 1
        if calls["n"] == 5:
            self._out = _FullDisk(self._out)
        real_mux(self, packets)

    monkeypatch.setattr(MediaSink, "_mux", mux)
    before = hash_files([clip])
    out = run_in_process(cli_args(["film.mp4", "-o", "out.mp4"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="vidcolor: error: writing out.mp4 failed: No space left on device")
    _only(tmp_path, "film.mp4")
    assert_clean_folder(tmp_path, before)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 16 KiB tmpfs (needs mount rights; skipped where there are none)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_disk_full_real_tmpfs(tmp_path, fast_model, small_tmpfs):
    src = mf.make_clip(tmp_path / "big.mp4", width=320, height=240, frames=48)
    before = hash_files([src])
    out = run_in_process(cli_args(["big.mp4", "-o", "small/out.mp4"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="out.mp4 failed: No space left on device")  # writing or finishing
    assert list(small_tmpfs.iterdir()) == []
    assert_clean_folder(tmp_path, before)


def test_output_is_the_input(tmp_path, fast_model, clip):
    before = hash_files([clip])
    out = run_in_process(cli_args(["film.mp4", "-o", "film.mp4"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="the output film.mp4 is the input file; vidcolor never overwrites its input")
    out = run_in_process(cli_args(["film.mp4", "-o", "./sub/../film.mp4", "--overwrite"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="is the input file; vidcolor never overwrites its input")
    _only(tmp_path, "film.mp4")
    assert_clean_folder(tmp_path, before)


def test_output_is_a_link_to_the_input(tmp_path, fast_model, clip):
    os.link(clip, tmp_path / "hard.mp4")
    os.symlink(clip, tmp_path / "soft.mp4")
    before = hash_files([clip])
    for name in ("hard.mp4", "soft.mp4"):
        out = run_in_process(cli_args(["film.mp4", "-o", name, "--overwrite"], fast_model), tmp_path)
        assert_outcome(out, code=2, message=f"the output {name} is the input file")
    assert_clean_folder(tmp_path, before)


def test_overwrite_semantics(tmp_path, fast_model, clip):
    """Without --overwrite an existing output is kept byte for byte; with it, replaced only by a finished file."""
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"an earlier result")
    before = hash_files([clip, existing])
    out = run_in_process(cli_args(["film.mp4", "-o", "out.mp4"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="out.mp4 already exists; pass --overwrite to replace it")
    assert_clean_folder(tmp_path, before)

    broken = mf.truncate_file(mf.make_clip(tmp_path / "broken.mp4", frames=12), 0.5)
    out = run_in_process(cli_args(["broken.mp4", "-o", "out.mp4", "--overwrite"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="broken.mp4 is truncated or corrupt")
    assert existing.read_bytes() == b"an earlier result"  # a failed run never clobbers the old output

    out = run_in_process(cli_args(["film.mp4", "-o", "out.mp4", "--overwrite"], fast_model), tmp_path)
    assert_outcome(out, code=0, stdout="colorized 12 frames")
    assert existing.read_bytes() != b"an earlier result"
    assert_clean_folder(tmp_path, hash_files([clip, broken]))


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_output_mode_honours_umask(tmp_path, fast_model, clip, umask, mode):
    old = os.umask(umask)
    try:
        out = run_in_process(cli_args(["film.mp4", "-o", "out.mp4"], fast_model), tmp_path)
    finally:
        os.umask(old)
    assert_outcome(out, code=0)
    assert (tmp_path / "out.mp4").stat().st_mode & 0o777 == mode
