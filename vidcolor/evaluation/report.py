"""Evaluation report: result rows, a plain-text table, JSON files and side-by-side PNG strips."""

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

__all__ = ["EvalRow", "format_table", "write_json", "read_json", "save_strip"]


@dataclass
class EvalRow:
    """One evaluated (item, method) pair; cdc and warp_error are None for still images."""

    item: str
    method: str
    psnr: float
    ssim: float
    colorfulness: float
    colorfulness_ratio: float
    cdc: float | None = None
    warp_error: float | None = None
    frames: int = 1


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


def _encode(value: Any) -> Any:
    """Map non-finite floats to the strings 'inf', '-inf', 'nan' so the JSON stays strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _decode(value: Any) -> Any:
    """Inverse of _encode for the float fields."""
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    return value


_FLOAT_FIELDS = {"psnr", "ssim", "colorfulness", "colorfulness_ratio", "cdc", "warp_error"}


def write_json(rows: Sequence[EvalRow], path: str | Path, meta: dict[str, Any] | None = None) -> None:
    """Write {"meta": ..., "rows": [...]} as strict JSON; non-finite floats become "inf"/"-inf"/"nan"."""
    payload = {
        "meta": meta or {},
        "rows": [{k: _encode(v) for k, v in dataclasses.asdict(row).items()} for row in rows],
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
        fields = {k: (_decode(v) if k in _FLOAT_FIELDS else v) for k, v in raw.items()}
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
