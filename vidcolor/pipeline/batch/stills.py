"""Before/after still strips for the morning report: a few input frames above the same output frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ...errors import MediaError
from ...media import MediaSource
from ...media.temp_files import write_atomically
from ..preview import readable_length

STILL_HEIGHT_PX = 72
STILL_POSITIONS = (0.1, 0.5, 0.9)  # fractions of the film's duration
STILL_JPEG_QUALITY = 80


def _frames_at(path: Path, fractions: tuple[float, ...], height: int) -> list[np.ndarray]:
    """RGB frames at these fractions of the film's readable length as players show them, `height` high."""
    out: list[np.ndarray] = []
    with MediaSource(path) as source:
        length_s = float(readable_length(source))
        for frac in fractions:
            try:
                rgb = source.picture_at(length_s * frac)
            except MediaError:
                continue  # a damaged stretch: the strip shows the frames that decode
            w = max(2, round(rgb.shape[1] * height / rgb.shape[0]))
            out.append(cv2.resize(rgb, (w, height), interpolation=cv2.INTER_AREA))
    return out


def make_still_strip(input_path: Path, output_path: Path, strip_path: Path,
                     height_px: int = STILL_HEIGHT_PX) -> Path:
    """Write a JPEG: input frames on the top row, the colorized frames below; returns strip_path."""
    before = _frames_at(input_path, STILL_POSITIONS, height_px)
    after = _frames_at(output_path, STILL_POSITIONS, height_px)
    n = min(len(before), len(after))
    if n == 0:
        unread = input_path if not before else output_path
        raise MediaError(f"no frame could be taken from {unread.name} at {', '.join(map(str, STILL_POSITIONS))} of "
                         "its length")
    gap = np.full((height_px, 2, 3), 255, np.uint8)

    def row(frames: list[np.ndarray]) -> np.ndarray:
        parts: list[np.ndarray] = []
        for f in frames[:n]:
            parts += [f, gap]
        return np.concatenate(parts[:-1], axis=1)

    top, bottom = row(before), row(after)
    width = min(top.shape[1], bottom.shape[1])
    strip = np.concatenate([top[:, :width], np.full((2, width, 3), 255, np.uint8), bottom[:, :width]], axis=0)
    strip_path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(strip, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, STILL_JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return write_atomically(strip_path, data.tobytes())
