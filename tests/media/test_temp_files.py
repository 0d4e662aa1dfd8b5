"""Temp names beside a final output: who writes them, long names, and removing those of dead runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import media_factory as mf
from vidcolor.errors import MediaError
from vidcolor.media import LumaFrame, MediaSink, MediaSource
from vidcolor.media.temp_files import (TEMP_MARKER, is_stale_temp, name_max_bytes, remove_stale_temp_files,
                                       temp_files_of, temp_prefix, writer_pid)


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has ended."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return dead.pid


def _copy_with_gray_chroma(src_path: Path, dst_path: Path) -> Path:
    with MediaSource(src_path) as src, MediaSink(dst_path, src, preset="ultrafast") as sink:
        ch = sink.chroma_shape
        for item in src.items():
            if isinstance(item, LumaFrame):
                sink.write_frame(item.y, np.full(ch, 128, np.uint8), np.full(ch, 128, np.uint8), item.pts)
        return sink.commit()


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path, dead_pid):
    final = tmp_path / "film [1].mp4"
    stale = tmp_path / f".{final.name}{TEMP_MARKER}{dead_pid}-abc.mp4"
    live = tmp_path / f".{final.name}{TEMP_MARKER}{os.getpid()}-def.mp4"
    other = tmp_path / f".other.mp4{TEMP_MARKER}{dead_pid}-ghi.mp4"
    for p in (stale, live, other):
        p.write_bytes(b"partial")
    assert remove_stale_temp_files(final) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


def test_only_vidcolor_temp_names_count_as_stale(dead_pid):
    assert writer_pid(f".a.mp4{TEMP_MARKER}{dead_pid}-k2x_9q1z.mp4") == dead_pid
    assert is_stale_temp(f".a.mp4{TEMP_MARKER}{dead_pid}-k2x_9q1z.mp4")
    assert not is_stale_temp(f".a.mp4{TEMP_MARKER}{os.getpid()}-k2x_9q1z.mp4")  # its writer runs
    for name in (".draft.part", f".x{TEMP_MARKER}notes.txt", f"a.mp4{TEMP_MARKER}12-ab.mp4", "film.mp4"):
        assert writer_pid(name) is None and not is_stale_temp(name), name


def test_a_film_with_a_name_near_the_limit_is_written(tmp_path):
    """A 232-byte name (76 CJK characters) fits the 255-byte limit; its temp name would not, whole."""
    src = mf.make_clip(tmp_path / "src.mp4", frames=6)
    final = tmp_path / ("片" * 76 + ".mp4")
    assert len(final.name.encode()) <= name_max_bytes(tmp_path) < len(temp_prefix(final).encode()) + 60
    assert len(temp_prefix(final).encode()) + 8 + len(".mp4") <= name_max_bytes(tmp_path)
    assert _copy_with_gray_chroma(src, final) == final
    assert len(mf.read_frames(final)) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["src.mp4", final.name])


def test_shortened_temp_names_are_found_and_stay_apart(tmp_path, dead_pid):
    a, b = tmp_path / ("片" * 80 + "a.mp4"), tmp_path / ("片" * 80 + "b.mp4")
    pa, pb = temp_prefix(a, dead_pid), temp_prefix(b, dead_pid)
    assert pa != pb  # same first 200 bytes: the hash of the whole name keeps them apart
    (tmp_path / f"{pa}zzzz.mp4").write_bytes(b"partial")
    (tmp_path / f"{pb}zzzz.mp4").write_bytes(b"partial")
    assert [p.name for p in temp_files_of(a)] == [f"{pa}zzzz.mp4"]
    assert remove_stale_temp_files(b) == [tmp_path / f"{pb}zzzz.mp4"]


def test_an_output_name_longer_than_the_file_system_allows_is_one_line(tmp_path):
    src = mf.make_clip(tmp_path / "src.mp4", frames=3)
    with pytest.raises(MediaError, match="longer than its file system allows"):
        _copy_with_gray_chroma(src, tmp_path / ("x" * 300 + ".mp4"))
