"""Tests for vidcolor.evaluation.runner: inputs, option checks, skipped inputs and like-with-like means."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

import media_factory as mf
from vidcolor.errors import ConfigError, MediaError
from vidcolor.evaluation.runner import _like_with_like_psnr, check_options, collect_inputs, evaluate, read_photo
from vidcolor.pipeline.config import load_pipeline_config

BROKEN_JPEG = b"\xff\xd8\xff\xe0garbage"


def write_photo(path: Path, gray: bool = False) -> Path:
    """A 96x64 colour photo (or one that is gray already) as a PNG."""
    cv2.imwrite(str(path), cv2.cvtColor(mf.frame_rgb(3, 96, 64, gray=gray), cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder with a colour photo, a gray photo and a JPEG that does not decode."""
    folder = tmp_path / "photos"
    folder.mkdir()
    write_photo(folder / "color.png")
    cv2.imwrite(str(folder / "gray.png"), np.full((64, 64), 128, np.uint8))
    (folder / "broken.jpg").write_bytes(BROKEN_JPEG)
    return folder


@pytest.fixture(scope="module")
def colorizer(tiny_model: Path):
    from vidcolor.model.colorizer import Colorizer

    return Colorizer(tiny_model, device="cpu", precision="fp32")


def test_a_gray_photo_does_not_inflate_the_mean_gain(photos: Path, colorizer) -> None:
    report = evaluate([photos], colorizer, load_pipeline_config("fast"))
    rows = {(r.item, r.method): r for r in report.rows}
    assert rows["gray.png", "no color"].psnr == math.inf
    # Both methods' PSNR means cover the colour photo only, like with like.
    assert rows["MEAN photos", "no color"].psnr == pytest.approx(rows["color.png", "no color"].psnr)
    assert rows["MEAN photos", "vidcolor"].psnr == pytest.approx(rows["color.png", "vidcolor"].psnr)
    (coverage,) = report.means
    assert coverage.covered["psnr"] == 1 and coverage.covered["ssim"] == 2
    assert [(m.item, m.column) for m in coverage.left_out if m.column == "psnr"] == [("gray.png", "psnr")]


def test_an_unreadable_photo_is_skipped_quietly_and_the_rest_evaluated(photos: Path, colorizer, capfd,
                                                                        caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="vidcolor"):
        report = evaluate([photos], colorizer, load_pipeline_config("fast"))
    assert [s.item for s in report.skipped] == [str(photos / "broken.jpg")]
    assert "not a readable image" in report.skipped[0].reason
    assert {r.item for r in report.rows} == {"color.png", "gray.png", "MEAN photos"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "broken.jpg" in warnings[0] and "skipped" in warnings[0]
    assert "JPEG" not in capfd.readouterr().err  # no libjpeg chatter ("Premature end of JPEG file") on the terminal


@pytest.mark.parametrize("size", [32, 64])
def test_a_decoders_complaint_is_the_reason_not_terminal_noise(tmp_path: Path, capfd, size: int) -> None:
    ok, png = cv2.imencode(".png", mf.frame_rgb(0, size, size, gray=False))
    damaged = bytearray(png.tobytes())
    damaged[40] ^= 0xFF  # a chunk header libpng rejects: libpng or OpenCV print why on stderr
    path = tmp_path / "damaged.png"
    path.write_bytes(bytes(damaged))
    with pytest.raises(MediaError, match=r"damaged\.png is not a readable image \([^\[\]]+\)$"):
        read_photo(path)
    assert capfd.readouterr().err == ""


def test_an_unreadable_video_is_skipped(tmp_path: Path, photos: Path, colorizer) -> None:
    (tmp_path / "fake.mp4").write_text("not a film")
    clip = mf.make_clip(tmp_path / "clip.mp4", frames=3, gray=False)
    report = evaluate([tmp_path / "fake.mp4", clip], colorizer, load_pipeline_config("fast"))
    assert [s.item for s in report.skipped] == [str(tmp_path / "fake.mp4")]
    assert {r.item for r in report.rows} == {"clip.mp4"} and all(r.frames == 3 for r in report.rows)


def test_nothing_readable_is_an_error(photos: Path, colorizer) -> None:
    with pytest.raises(MediaError, match="no input could be evaluated"):
        evaluate([photos / "broken.jpg"], colorizer, load_pipeline_config("fast"))


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a photo")
    with pytest.raises(MediaError, match="no photo or video was found in"):
        collect_inputs([tmp_path])


@pytest.mark.parametrize("temperature", [0.0, -5.0, 1000.0])
def test_a_temperature_outside_what_run_takes_is_refused(temperature: float) -> None:
    with pytest.raises(ConfigError, match="temperature must be between 0.01 and 10"):
        check_options(load_pipeline_config("default"), [0.38, temperature], None)


@pytest.mark.parametrize("max_frames", [0, -3])
def test_max_frames_must_be_at_least_one(max_frames: int) -> None:
    with pytest.raises(ConfigError, match="--max-frames must be at least 1"):
        check_options(load_pipeline_config("default"), None, max_frames)


def test_options_default_to_the_presets_temperature() -> None:
    config = load_pipeline_config("default")
    assert check_options(config, None, None) == [config.temperature]
    assert check_options(config, [0.2, 1.0], 1) == [0.2, 1.0]


def test_a_clips_psnr_averages_the_same_frames_for_every_method() -> None:
    inf = math.inf
    per_frame = {"original": [inf, inf, inf], "no color": [inf, 20.0, 22.0], "vidcolor": [40.0, 10.0, 12.0]}
    assert _like_with_like_psnr(per_frame) == {"original": inf, "no color": 21.0, "vidcolor": 11.0}
    gray_clip = {"original": [inf, inf], "no color": [inf, inf], "vidcolor": [40.0, 42.0]}
    assert _like_with_like_psnr(gray_clip) == {"original": inf, "no color": inf, "vidcolor": 41.0}
