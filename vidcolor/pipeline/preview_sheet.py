"""Lay preview frames out as images: side-by-side rows, variant strips, contact sheets; atomic PNG writes."""

from __future__ import annotations

import errno
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..errors import ConfigError, MediaError
from ..media import VideoInfo
from ..media.display import display_view
from ..media.temp_files import name_max_bytes, temp_prefix, write_atomically

if TYPE_CHECKING:
    from .preview import PreviewFrame

GAP_PX = 4  # between panels and rows
BACKGROUND_RGB = (24, 24, 24)
GRID_PANEL_MAX_WIDTH_PX = 480  # contact-sheet panels are shrunk to this width at most
MIN_PANEL_WIDTH_PX = 96  # labelled panels of smaller films are enlarged (whole pixels) to at least this width
LABEL_FONT = cv2.FONT_HERSHEY_SIMPLEX


def label(img: np.ndarray, text: str) -> np.ndarray:
    """A copy of an RGB image with `text` drawn at its bottom left on a dark box."""
    out = img.copy()
    h, w = out.shape[:2]
    scale = max(0.35, min(h, w) / 720 * 0.9)
    thick = max(1, round(scale * 1.6))
    (tw, th), base = cv2.getTextSize(text, LABEL_FONT, scale, thick)
    pad = max(2, th // 3)
    y1 = h - pad
    cv2.rectangle(out, (0, max(0, y1 - th - base - pad)), (min(w - 1, tw + 2 * pad), h - 1), BACKGROUND_RGB, -1)
    cv2.putText(out, text, (pad, y1 - base), LABEL_FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def _join(images: list[np.ndarray], axis: int) -> np.ndarray:
    """Stack RGB images along an axis (1: left to right, 0: top to bottom) with gaps, padding the other side."""
    other = 1 - axis
    size = max(im.shape[other] for im in images)
    parts = []
    for i, im in enumerate(images):
        if im.shape[other] < size:
            shape = list(im.shape)
            shape[other] = size
            canvas = np.full(shape, BACKGROUND_RGB, np.uint8)
            canvas[: im.shape[0], : im.shape[1]] = im
            im = canvas
        if i:
            gap_shape = [size, size, 3]
            gap_shape[axis] = GAP_PX
            parts.append(np.full(gap_shape, BACKGROUND_RGB, np.uint8))
        parts.append(im)
    return np.concatenate(parts, axis=axis)


def frame_row(pf: PreviewFrame, info: VideoInfo, *, side_by_side: bool = False, labelled: bool = True,
              max_panel_width: int | None = None) -> np.ndarray:
    """One frame's panels left to right: [gray source] colorized [variants...], labelled with its time."""
    when = f"{pf.timestamp}  f{pf.index}" if pf.index >= 0 else pf.timestamp
    panels: list[tuple[np.ndarray, str]] = []
    if side_by_side:
        panels.append((np.repeat(pf.gray[..., None], 3, axis=2), f"source {when}"))
    panels.append((pf.rgb, when if not pf.variants else f"as run {when}"))
    panels += [(v, f"variant {k + 1}") for k, v in enumerate(pf.variants)]
    out = []
    for img, text in panels:
        img = display_view(img, info)
        if img.shape[1] < MIN_PANEL_WIDTH_PX:  # a tiny film: pixels enlarged, so its label does not hide it
            scale = math.ceil(MIN_PANEL_WIDTH_PX / img.shape[1])
            img = cv2.resize(img, (img.shape[1] * scale, img.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
        if max_panel_width and img.shape[1] > max_panel_width:
            h = max(1, round(img.shape[0] * max_panel_width / img.shape[1]))
            img = cv2.resize(img, (max_panel_width, h), interpolation=cv2.INTER_AREA)
        out.append(label(img, text) if labelled else img)
    return _join(out, axis=1)


def stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Rows top to bottom (one per --at time)."""
    return _join(rows, axis=0)


def contact_sheet(tiles: list[np.ndarray], columns: int | None = None) -> np.ndarray:
    """Tiles in a grid, `columns` wide (default: a square-ish grid), left to right then top to bottom."""
    columns = columns or math.ceil(math.sqrt(len(tiles)))
    rows = [_join(tiles[i:i + columns], axis=1) for i in range(0, len(tiles), columns)]
    return _join(rows, axis=0)


def _cannot_write(path: Path, err: OSError) -> str:
    """One sentence on why `path` cannot be written, naming the user's path (never a temp file)."""
    folder = path.parent
    if err.errno == errno.ENOENT:
        return f"cannot write {path}: the folder {folder} does not exist"
    if err.errno == errno.ENOTDIR:
        return f"cannot write {path}: {folder} is not a folder"
    if err.errno == errno.EROFS:
        return f"cannot write {path}: the folder {folder} is on a read-only file system"
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"cannot write {path}: no permission to create files in the folder {folder}"
    return f"cannot write {path}: {err.strerror or err}"


def check_output(path: str | os.PathLike) -> None:
    """Make sure a PNG can be written at `path` before any work: the folder exists and takes a new file there
    (tried by creating and removing a temp file), and the name fits; a one-sentence ConfigError otherwise."""
    path = Path(path)
    limit = name_max_bytes(path.parent)
    size = len(os.fsencode(path.name))
    if size > limit:
        raise ConfigError(f"cannot write {path}: its name is {size} bytes long, more than the {limit} the file "
                          f"system allows; give a shorter name with -o")
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=path.suffix, dir=path.parent)
    except OSError as e:
        raise ConfigError(_cannot_write(path, e)) from None
    os.close(fd)
    Path(tmp).unlink(missing_ok=True)


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Write an RGB image as PNG atomically (temp file beside it, then rename)."""
    path = Path(path)
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ConfigError(f"could not encode the preview image for {path}")
    try:
        return write_atomically(path, data.tobytes())
    except OSError as e:
        raise MediaError(_cannot_write(path, e)) from None
