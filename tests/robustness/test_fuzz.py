"""Fuzz: damaged copies of a small mp4 (bytes flipped with a fixed seed) never crash and never leave partial output.

Each case runs in-process through `colorize_video`, the function `vidcolor run` calls, with one shared
tiny model: the only exceptions allowed are VidcolorError (which the CLI prints as one line).
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np
import pytest

from vidcolor.errors import VidcolorError
from vidcolor.model.colorizer import Colorizer
from vidcolor.pipeline.colorize import RunOptions, colorize_video
from vidcolor.pipeline.config import load_pipeline_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import media_factory as mf  # noqa: E402

FUZZ_SEED = 20240607
FAST_CASES = 300
SLOW_CASES = 2000
MAX_FLIPS = 8


def _damaged(clean: bytes, rng: np.random.Generator) -> bytes:
    """A copy with 1..MAX_FLIPS bytes replaced; half the cases aim at the first and last 512 bytes (headers, index)."""
    data = bytearray(clean)
    for _ in range(int(rng.integers(1, MAX_FLIPS + 1))):
        if rng.random() < 0.5:
            edge = min(512, len(data))
            pos = int(rng.integers(0, edge)) if rng.random() < 0.5 else len(data) - 1 - int(rng.integers(0, edge))
        else:
            pos = int(rng.integers(0, len(data)))
        data[pos] = int(rng.integers(0, 256))
    return bytes(data)


def _decoded_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def _fuzz(tmp_path: Path, model: Path, cases: int) -> dict[str, int]:
    clean = mf.make_clip(tmp_path / "clean.mp4", width=48, height=32, frames=8, audio="aac", gop=4).read_bytes()
    colorizer = Colorizer(model, device="cpu")
    config = load_pipeline_config("fast").replace(working_short_side_px=64, x264_preset="ultrafast")
    options = RunOptions(progress=False, overwrite=False)
    rng = np.random.default_rng(FUZZ_SEED)
    tally = {"colorized": 0, "refused": 0}
    work = tmp_path / "work"
    work.mkdir()
    for case in range(cases):
        src = work / "in.mp4"
        damaged = _damaged(clean, rng)
        src.write_bytes(damaged)
        out = work / "out.mkv"
        try:
            stats = colorize_video(src, out, config, colorizer, options)
        except VidcolorError as exc:
            assert "\n" not in str(exc) and str(exc), (case, str(exc))
            assert not out.exists(), case
            tally["refused"] += 1
        else:
            assert stats.frames > 0
            assert _decoded_frames(out) == stats.frames, case  # a whole, readable file
            tally["colorized"] += 1
        assert sorted(p.name for p in work.iterdir() if p.name != "out.mkv") == ["in.mp4"], case  # no temp file
        assert src.read_bytes() == damaged, case  # the input is never touched
        out.unlink(missing_ok=True)
    return tally


def test_fuzz_flipped_bytes(tmp_path, fast_model):
    tally = _fuzz(tmp_path, fast_model, FAST_CASES)
    assert sum(tally.values()) == FAST_CASES
    assert tally["colorized"] > 0 and tally["refused"] > 0  # both outcomes are exercised


@pytest.mark.slow
def test_fuzz_flipped_bytes_long(tmp_path, fast_model):
    tally = _fuzz(tmp_path, fast_model, SLOW_CASES)
    assert sum(tally.values()) == SLOW_CASES
