"""Tests for vidcolor.evaluation.report: table, JSON round trip, image strips."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidcolor.errors import MediaError
from vidcolor.evaluation.report import (
    EvalReport,
    EvalRow,
    Skipped,
    format_report,
    format_table,
    mean_rows,
    read_json,
    save_strip,
    write_json,
)


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
    assert raw["rows"][2]["psnr"] is None and "finite" in raw["null"]  # inf: null, and the file says what null means
    back = read_json(path)
    assert len(back) == len(rows)
    for a, b in zip(back[:2], rows[:2]):
        assert a == b
    assert back[2].psnr is None and back[3].colorfulness_ratio is None
    assert back[3].cdc is None and back[3].warp_error is None


def test_json_numbers_are_numbers_or_null(rows: list[EvalRow], tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    rows = rows + [EvalRow("clip02.mp4", "vidcolor", -math.inf, math.nan, 1.0, 1.0, cdc=math.nan, warp_error=math.inf)]
    write_json(rows, path, skipped=[Skipped("bad.jpg", "bad.jpg is not a readable image")])
    raw = json.loads(path.read_text())
    for row in raw["rows"]:
        for field in ("psnr", "ssim", "colorfulness", "colorfulness_ratio", "cdc", "warp_error"):
            assert row[field] is None or isinstance(row[field], (int, float)), (field, row[field])
    assert raw["skipped"] == [{"item": "bad.jpg", "reason": "bad.jpg is not a readable image"}]


def test_read_json_still_reads_the_old_inf_and_nan_strings(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"rows": [{"item": "a.png", "method": "no color", "psnr": "inf", "ssim": 1.0,
                                          "colorfulness": 0.0, "colorfulness_ratio": "nan"}]}))
    (row,) = read_json(path)
    assert row.psnr == math.inf and math.isnan(row.colorfulness_ratio)


def photo_rows() -> list[EvalRow]:
    """A colour photo, and a photo that is gray already: its "no color" PSNR is inf, its ratio nan."""
    return [
        EvalRow("color.png", "no color", 14.6, 0.73, 0.0, 0.0),
        EvalRow("color.png", "vidcolor", 11.3, 0.51, 105.0, 1.04),
        EvalRow("gray.png", "no color", math.inf, 1.0, 0.0, math.nan),
        EvalRow("gray.png", "vidcolor", 42.3, 0.99, 3.6, math.nan),
    ]


def test_means_average_the_same_inputs_for_every_method() -> None:
    means, coverage = mean_rows(photo_rows(), "MEAN photos")
    by_method = {r.method: r for r in means}
    # The gray photo cannot enter the "no color" PSNR mean, so it is left out of every method's: no bogus gain.
    assert by_method["no color"].psnr == pytest.approx(14.6)
    assert by_method["vidcolor"].psnr == pytest.approx(11.3)
    assert by_method["vidcolor"].ssim == pytest.approx((0.51 + 0.99) / 2)  # finite everywhere: all inputs
    assert by_method["vidcolor"].colorfulness_ratio == pytest.approx(1.04)
    assert by_method["vidcolor"].cdc is None and by_method["vidcolor"].frames == 2
    assert coverage.inputs == 2
    assert coverage.covered["psnr"] == 1 and coverage.covered["ssim"] == 2
    left = {(m.item, m.column): m.reason for m in coverage.left_out}
    assert set(left) == {("gray.png", "psnr"), ("gray.png", "colorfulness_ratio")}
    assert "no color" in left["gray.png", "psnr"] and "inf" in left["gray.png", "psnr"]
    assert "every method" in left["gray.png", "colorfulness_ratio"]


def test_means_leave_out_nothing_for_the_original_frames_own_inf_psnr() -> None:
    rows = [EvalRow(clip, method, psnr, 1.0, 30.0, 1.0, cdc=0.01, warp_error=1.0, frames=8)
            for clip in ("a.mp4", "b.mp4")
            for method, psnr in (("original", math.inf), ("no color", 20.0 if clip == "a.mp4" else 22.0),
                                 ("vidcolor", 25.0))]
    means, coverage = mean_rows(rows, "MEAN videos")
    assert coverage.left_out == [] and coverage.covered["psnr"] == 2
    assert {r.method: r.psnr for r in means} == {"original": math.inf, "no color": 21.0, "vidcolor": 25.0}
    assert means[0].frames == 16


def test_means_need_two_inputs() -> None:
    assert mean_rows(photo_rows()[:2], "MEAN photos") == ([], None)


def test_report_says_what_the_means_cover_and_what_was_skipped() -> None:
    rows = photo_rows()
    means, coverage = mean_rows(rows, "MEAN photos")
    text = format_report(EvalReport(rows + means, [coverage], [Skipped("photos/broken.jpg", "not a readable image")]))
    notes = text.split("\n\n", 1)[1].splitlines()
    assert notes[0].startswith("MEAN photos averages 2 inputs")
    assert any(line.split()[:3] == ["gray.png", "from", "PSNR"] and "(mean of 1)" in line for line in notes)
    assert notes[-2:] == ["skipped 1 input:", "  photos/broken.jpg: not a readable image"]


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
