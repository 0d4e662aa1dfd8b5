"""`vidcolor eval` from the command line: what a user sees on the terminal, the exit code and the JSON file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import media_factory as mf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "robustness"))
from robust_cli import run_in_process  # noqa: E402


def _eval(tmp_path: Path, model: Path, *args: str):
    return run_in_process(["eval", *args, "--model", str(model), "--device", "cpu", "--pipeline", "fast"], tmp_path)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A colour photo, a photo that is gray already, and a JPEG that does not decode."""
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "color.png"), cv2.cvtColor(mf.frame_rgb(3, 96, 64, gray=False), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "gray.png"), np.full((64, 64), 128, np.uint8))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    return folder


def test_a_broken_photo_is_one_warning_and_the_report_is_written(tmp_path: Path, photos: Path, tiny_model: Path,
                                                                 capfd) -> None:
    outcome = _eval(tmp_path, tiny_model, "photos", "--json", "out.json")
    assert outcome.code == 0, outcome.stderr
    chatter = capfd.readouterr().err  # what libraries print on file descriptor 2, past sys.stderr
    assert "JPEG" not in chatter and "JPEG" not in outcome.stderr
    warnings = [line for line in outcome.error_lines if line.startswith("vidcolor: warning:")]
    assert len(warnings) == 1 and "broken.jpg" in warnings[0] and "not a readable image" in warnings[0]
    assert not any("error" in line for line in outcome.error_lines)
    assert "skipped 1 input:" in outcome.stdout and "photos/broken.jpg" in outcome.stdout
    assert "gray.png from PSNR (mean of 1)" in outcome.stdout

    raw = json.loads((tmp_path / "out.json").read_text())
    assert [s["item"] for s in raw["skipped"]] == ["photos/broken.jpg"]
    values = [v for row in raw["rows"] for k, v in row.items() if k not in ("item", "method")]
    assert all(v is None or isinstance(v, (int, float)) for v in values)  # never "inf" / "nan" strings
    means = {r["method"]: r["psnr"] for r in raw["rows"] if r["item"] == "MEAN photos"}
    color = {r["method"]: r["psnr"] for r in raw["rows"] if r["item"] == "color.png"}
    assert means == pytest.approx(color)  # the gray photo is out of every method's PSNR mean
    assert raw["means"][0]["covered"]["psnr"] == 1 and raw["means"][0]["inputs"] == 2


def test_an_empty_folder_is_a_one_line_error(tmp_path: Path, tiny_model: Path) -> None:
    (tmp_path / "emptydir").mkdir()
    outcome = _eval(tmp_path, tiny_model, "emptydir")
    assert outcome.code == 2 and outcome.stdout == ""
    assert outcome.error_lines == ["vidcolor: error: no photo or video was found in emptydir"]


def test_only_unreadable_inputs_exit_2(tmp_path: Path, photos: Path, tiny_model: Path) -> None:
    outcome = _eval(tmp_path, tiny_model, "photos/broken.jpg", "--json", "out.json")
    assert outcome.code == 2
    assert outcome.error_lines[-1].startswith("vidcolor: error: no input could be evaluated")
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("value", ["0", "-5", "1000"])
def test_a_temperature_run_refuses_is_refused(tmp_path: Path, photos: Path, tiny_model: Path, value: str) -> None:
    outcome = _eval(tmp_path, tiny_model, "photos", "--temperature", "0.38", "--temperature", value)
    assert outcome.code == 2 and outcome.stdout == ""
    assert outcome.error_lines == ["vidcolor: error: temperature must be between 0.01 and 10"]


@pytest.mark.parametrize("value", ["0", "-3"])
def test_max_frames_below_one_is_refused(tmp_path: Path, tiny_model: Path, value: str) -> None:
    clip = mf.make_clip(tmp_path / "clip.mp4", frames=3, gray=False)
    outcome = _eval(tmp_path, tiny_model, str(clip), "--max-frames", value)
    assert outcome.code == 2 and outcome.stdout == ""
    assert len(outcome.error_lines) == 1 and "Invalid value for '--max-frames'" in outcome.error_lines[0]
