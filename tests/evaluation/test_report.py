"""Tests for vidcolor.evaluation.report: table, JSON round trip, image strips."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidcolor.errors import MediaError
from vidcolor.evaluation.report import EvalRow, format_table, read_json, save_strip, write_json


@pytest.fixture
def rows() -> list[EvalRow]:
    """Rows covering a video (with temporal metrics), a photo (without) and non-finite values."""
    return [
        EvalRow("clip01.mp4", "vidcolor", 27.31, 0.9123, 31.5, 0.82, cdc=0.00412, warp_error=1.234, frames=240),
        EvalRow("clip01.mp4", "no color", 24.0, 0.88, 0.0, 0.0, cdc=0.0, warp_error=0.0, frames=240),
        EvalRow("clip01.mp4", "ground truth", math.inf, 1.0, 38.4, 1.0, cdc=0.0031, warp_error=0.801, frames=240),
        EvalRow("photo.jpg", "vidcolor-per-frame", 25.5, 0.9, 20.0, math.nan),
    ]


def test_table_renders_all_rows_aligned(rows: list[EvalRow]) -> None:
    text = format_table(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)
    assert lines[0].split()[:2] == ["item", "method"]
    for row in rows:
        assert row.method in text
    assert "inf" in lines[4] and "nan" in lines[5]
    assert lines[5].rstrip().endswith("1")  # frames column
    assert lines[5].count(" - ") >= 2  # missing cdc and warp error
    # Right-aligned number columns end at the same offset on every line.
    psnr_end = lines[0].index("PSNR") + len("PSNR")
    for line in lines[2:]:
        assert line[psnr_end - 1] != " "
        assert line[psnr_end] == " "
    assert "27.31" in lines[2] and "0.00412" in lines[2] and "1.234" in lines[2]


def test_table_empty() -> None:
    assert len(format_table([]).splitlines()) == 2


def test_json_round_trip(rows: list[EvalRow], tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.json"
    write_json(rows, path, meta={"checkpoint": "x.pt"})
    raw = json.loads(path.read_text())  # strict JSON: no Infinity / NaN tokens
    assert raw["meta"] == {"checkpoint": "x.pt"}
    assert raw["rows"][2]["psnr"] == "inf"
    back = read_json(path)
    assert len(back) == len(rows)
    for a, b in zip(back, rows):
        for field in ("item", "method", "psnr", "ssim", "colorfulness", "cdc", "warp_error", "frames"):
            assert getattr(a, field) == getattr(b, field)
    assert math.isnan(back[3].colorfulness_ratio)
    assert back[3].cdc is None and back[3].warp_error is None


def test_save_strip(tmp_path: Path) -> None:
    color = np.zeros((60, 80, 3), np.uint8)
    color[..., 0] = 255
    gray = np.full((30, 40), 128, np.uint8)  # different size and grayscale
    path = tmp_path / "strip.png"
    strip = save_strip(path, [color, gray, color], ["original", "no color", "vidcolor"])
    on_disk = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert np.array_equal(on_disk, strip)
    assert strip.shape[0] > 60  # label bar added
    assert strip.shape[1] == 80 * 3 + 2 * 4
    assert (strip[strip.shape[0] - 60 :, :80] == [255, 0, 0]).all()  # image below the label, unchanged
    bar = strip[: strip.shape[0] - 60, :80]
    assert (bar < 128).any() and (bar == 255).any()  # dark text on white


def test_save_strip_errors(tmp_path: Path) -> None:
    img = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError, match="label"):
        save_strip(tmp_path / "a.png", [img, img], ["one"])
    with pytest.raises(MediaError):
        save_strip(tmp_path / "noext", [img], ["x"])
