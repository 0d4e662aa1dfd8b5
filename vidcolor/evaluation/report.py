"""Evaluation report: result rows, like-with-like means, a plain-text table, JSON files and PNG strips.

In the JSON file every number is a JSON number or null. null means the value is not a finite number: a PSNR
of an output identical to the original (infinite), a colourfulness ratio whose original has no colour, a CDC
or warp error of a photo (temporal metrics) or of a clip too short for them, or a mean that no input could
enter. The table shows the same values as "inf", "nan" or "-".
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from vidcolor.errors import MediaError

__all__ = [
    "EvalRow", "LeftOut", "MeanCoverage", "Skipped", "EvalReport", "REFERENCE_METHOD", "mean_rows",
    "format_table", "format_notes", "format_report", "write_json", "read_json", "save_strip",
]

# The row of a video's own frames: the floor of the temporal metrics, not a method; it leaves nothing out.
REFERENCE_METHOD = "original"
# Meaning of JSON null, written into every report next to the rows.
JSON_NULL_MEANING = ("not a finite number: the PSNR of an output identical to the original (infinite), a ratio "
                     "whose original has no colour, a temporal metric of a photo or of a clip too short for it, "
                     "or a mean no input could enter")


@dataclass
class EvalRow:
    """One evaluated (item, method) pair; cdc and warp_error are None for still images."""

    item: str
    method: str
    psnr: float | None
    ssim: float | None
    colorfulness: float | None
    colorfulness_ratio: float | None
    cdc: float | None = None
    warp_error: float | None = None
    frames: int = 1


@dataclass
class LeftOut:
    """An input left out of one column's means, and why."""

    item: str
    column: str
    reason: str


@dataclass
class MeanCoverage:
    """Which inputs a group's MEAN rows average: all of them, less the ones left out per column."""

    item: str
    inputs: int
    covered: dict[str, int]
    left_out: list[LeftOut]


@dataclass
class Skipped:
    """An input that could not be evaluated, and why."""

    item: str
    reason: str


@dataclass
class EvalReport:
    """Everything `vidcolor eval` reports: rows (means included), what the means cover, skipped inputs."""

    rows: list[EvalRow]
    means: list[MeanCoverage]
    skipped: list[Skipped]


# (header, field, format) for each table column; text columns are left-aligned, numbers right-aligned.
_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("item", "item", "s"),
    ("method", "method", "s"),
    ("PSNR", "psnr", ".2f"),
    ("SSIM", "ssim", ".4f"),
    ("colorful", "colorfulness", ".2f"),
    ("ratio", "colorfulness_ratio", ".3f"),
    ("CDC", "cdc", ".5f"),
    ("warp err", "warp_error", ".3f"),
    ("frames", "frames", "d"),
)


_HEADERS = {field: header for header, field, _ in _COLUMNS}
# The metric fields of a row: the float ones (inf/nan possible), each averaged in the MEAN rows.
_METRIC_FIELDS = ("psnr", "ssim", "colorfulness", "colorfulness_ratio", "cdc", "warp_error")
# Why a metric is not finite, where the cause is known.
_NON_FINITE_CAUSES = {
    ("psnr", "inf"): "identical to the original",
    ("colorfulness_ratio", "nan"): "the original has no colour",
    ("cdc", "nan"): "too few frames",
    ("warp_error", "nan"): "too few frames",
}


def _non_finite(row: EvalRow | None, field: str) -> str | None:
    """'inf', 'nan' or 'missing' when the row's value cannot enter a mean, else None."""
    if row is None or getattr(row, field) is None:
        return "missing"
    value = getattr(row, field)
    if math.isfinite(value):
        return None
    return "nan" if math.isnan(value) else "inf"


def _why_left_out(by_method: dict[str, EvalRow], methods: list[str], field: str) -> str | None:
    """Why one input cannot enter the column's means (some method's value is not finite), or None."""
    compared = [m for m in methods if m != REFERENCE_METHOD]
    bad = {m: w for m in compared if (w := _non_finite(by_method.get(m), field))}
    if not bad:
        return None
    words = sorted(set(bad.values()))
    header = _HEADERS[field]
    if len(bad) == len(compared) and len(words) == 1:
        reason = f"{header} is {words[0]} for every method"
    else:
        reason = "; ".join(f"{header} of {', '.join(m for m in bad if bad[m] == w)} is {w}" for w in words)
    causes = [c for w in words if (c := _NON_FINITE_CAUSES.get((field, w)))]
    return f"{reason} ({', '.join(causes)})" if causes else reason


def _applies(by_method: dict[str, EvalRow], field: str) -> bool:
    """True when the metric was measured for this input at all (CDC and warp error are not, for photos)."""
    return any(getattr(r, field) is not None for r in by_method.values())


def _mean(values: list[float]) -> float | None:
    """Plain mean (inf stays inf), None for no values."""
    if not values:
        return None
    with np.errstate(invalid="ignore"):
        return float(np.mean(values))


def mean_rows(rows: Sequence[EvalRow], item: str) -> tuple[list[EvalRow], MeanCoverage | None]:
    """One MEAN row per method; each column averages, for every method alike, the inputs where every method's
    value is finite (the original's row decides nothing). Nothing for fewer than two inputs."""
    by_item: dict[str, dict[str, EvalRow]] = {}
    for r in rows:
        by_item.setdefault(r.item, {})[r.method] = r
    if len(by_item) < 2:
        return [], None
    methods = list(dict.fromkeys(r.method for r in rows))
    kept: dict[str, list[str]] = {}
    left_out: list[LeftOut] = []
    for field in _METRIC_FIELDS:
        kept[field] = []
        for name, by_method in by_item.items():
            if not _applies(by_method, field):
                continue
            reason = _why_left_out(by_method, methods, field)
            if reason is None:
                kept[field].append(name)
            else:
                left_out.append(LeftOut(name, field, reason))
    means = []
    for method in methods:
        values = {f: _mean([getattr(by_item[i][method], f) for i in kept[f] if method in by_item[i]])
                  for f in _METRIC_FIELDS}
        frames = sum(by_item[i][method].frames for i in by_item if method in by_item[i])
        means.append(EvalRow(item, method, frames=frames, **values))
    coverage = MeanCoverage(item, len(by_item), {f: len(kept[f]) for f in _METRIC_FIELDS}, left_out)
    return means, coverage


def _cell(value: Any, fmt: str) -> str:
    """Format one table cell: '-' for None, 'inf'/'nan' for non-finite floats."""
    if value is None:
        return "-"
    if fmt == "s":
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return format(value, fmt)


def format_table(rows: Sequence[EvalRow]) -> str:
    """Render rows as an aligned plain-text table (header, rule, one line per row)."""
    cells = [[header for header, _, _ in _COLUMNS]]
    cells += [[_cell(getattr(row, field), fmt) for _, field, fmt in _COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]

    def render(line: list[str]) -> str:
        """Join one line's cells with two spaces, aligned per column type."""
        parts = [
            c.ljust(w) if fmt == "s" else c.rjust(w) for c, w, (_, _, fmt) in zip(line, widths, _COLUMNS)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(cells[0]), rule] + [render(line) for line in cells[1:]])


def _coverage_lines(coverage: MeanCoverage) -> list[str]:
    """What one group's MEAN rows average: a line, and one more per input left out of a column."""
    if not coverage.left_out:
        return [f"{coverage.item} averages all {coverage.inputs} inputs in every column"]
    lines = [f"{coverage.item} averages {coverage.inputs} inputs, the same ones for every method; left out of "
             "some columns:"]
    for miss in coverage.left_out:
        header = _HEADERS[miss.column]
        lines.append(f"  {miss.item} from {header} (mean of {coverage.covered[miss.column]}): {miss.reason}")
    return lines


def _skip_text(skipped: Skipped) -> str:
    """The reason, prefixed with the input unless the reason already names it."""
    named = skipped.item in skipped.reason or Path(skipped.item).name in skipped.reason
    return skipped.reason if named else f"{skipped.item}: {skipped.reason}"


def format_notes(means: Sequence[MeanCoverage], skipped: Sequence[Skipped]) -> str:
    """Lines under the table: what each MEAN averages, and the inputs skipped (empty when nothing to say)."""
    lines = [line for coverage in means for line in _coverage_lines(coverage)]
    if skipped:
        lines.append(f"skipped {len(skipped)} input{'s' if len(skipped) > 1 else ''}:")
        lines += [f"  {_skip_text(s)}" for s in skipped]
    return "\n".join(lines)


def format_report(report: EvalReport) -> str:
    """The table, then the notes on means and skipped inputs."""
    notes = format_notes(report.means, report.skipped)
    return format_table(report.rows) + (f"\n\n{notes}" if notes else "")


def _encode(value: Any) -> Any:
    """Map non-finite floats to None (JSON null) so the JSON stays strict and numeric."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _decode(value: Any) -> Any:
    """Read a float field: reports written before null was used hold 'inf', '-inf', 'nan' strings."""
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    return value


def write_json(rows: Sequence[EvalRow], path: str | Path, meta: dict[str, Any] | None = None,
               means: Sequence[MeanCoverage] = (), skipped: Sequence[Skipped] = ()) -> None:
    """Write {"meta", "null", "rows", "means", "skipped"} as strict JSON; non-finite floats become null."""
    payload = {
        "meta": meta or {},
        "null": JSON_NULL_MEANING,
        "rows": [{k: _encode(v) for k, v in dataclasses.asdict(row).items()} for row in rows],
        "means": [dataclasses.asdict(m) for m in means],
        "skipped": [dataclasses.asdict(s) for s in skipped],
    }
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise MediaError(f"Cannot write the report {path}: {exc.strerror or exc}.") from exc


def read_json(path: str | Path) -> list[EvalRow]:
    """Read the rows written by write_json back into EvalRow objects."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MediaError(f"Cannot read the report {path}: {exc}.") from exc
    rows = []
    for raw in payload.get("rows", []):
        fields = {k: (_decode(v) if k in _METRIC_FIELDS else v) for k, v in raw.items()}
        rows.append(EvalRow(**fields))
    return rows


def _to_rgb(image: np.ndarray) -> np.ndarray:
    """Return a uint8 HxWx3 RGB copy of a uint8 RGB or grayscale (HxW or HxWx1) image."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("Strip images must be uint8 numpy arrays.")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"Strip images must be HxW or HxWx3, got shape {image.shape}.")


def _label_bar(text: str, width: int, height: int) -> np.ndarray:
    """Return a white RGB bar of the given size with the label in black, shrunk to fit."""
    bar = np.full((height, width, 3), 255, dtype=np.uint8)
    text = text.encode("ascii", "replace").decode("ascii")  # Hershey fonts are ASCII only
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = height / 40.0
    (tw, th), _ = cv2.getTextSize(text, font, scale, 1)
    if tw > width - 8 and tw > 0:
        scale *= (width - 8) / tw
        (tw, th), _ = cv2.getTextSize(text, font, scale, 1)
    org = (max(4, (width - tw) // 2), (height + th) // 2)
    cv2.putText(bar, text, org, font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def save_strip(
    path: str | Path, images: Sequence[np.ndarray], labels: Sequence[str], gap: int = 4
) -> np.ndarray:
    """Write images side by side (scaled to the first one's height) with a label above each as a PNG; return it."""
    if len(images) == 0:
        raise ValueError("A strip needs at least one image.")
    if len(images) != len(labels):
        raise ValueError(f"A strip needs one label per image, got {len(images)} images and {len(labels)} labels.")
    panels = [_to_rgb(img) for img in images]
    height = panels[0].shape[0]
    resized = []
    for p in panels:
        if p.shape[0] != height:
            new_w = max(1, round(p.shape[1] * height / p.shape[0]))
            p = cv2.resize(p, (new_w, height), interpolation=cv2.INTER_AREA)
        resized.append(p)
    bar_h = max(20, min(40, height // 8))
    columns = []
    for i, (p, label) in enumerate(zip(resized, labels)):
        columns.append(np.vstack([_label_bar(str(label), p.shape[1], bar_h), p]))
        if i < len(resized) - 1 and gap > 0:
            columns.append(np.full((height + bar_h, gap, 3), 255, dtype=np.uint8))
    strip = np.hstack(columns)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MediaError(f"Cannot create the folder for {path}: {exc.strerror or exc}.") from exc
    try:
        ok = cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    except cv2.error:
        ok = False
    if not ok:
        raise MediaError(f"Cannot write the image strip {path}; use a writable path ending in .png.")
    return strip
