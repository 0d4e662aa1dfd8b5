"""Before/after still strips for the morning report: a few input frames above the same output frames."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from ...media import MediaSource
from ...media.temp_files import write_atomically
from ..preview_sheet import display_view

STILL_HEIGHT_PX = 72
STILL_POSITIONS = (0.1, 0.5, 0.9)  # fractions of the film's duration
STILL_JPEG_QUALITY = 80


def _frames_at(path: Path, fractions: tuple[float, ...], height: int) -> list[np.ndarray]:
    """RGB frames at these fractions of the film as players show them (rotation, pixel aspect), `height` high."""
    with MediaSource(path) as source:
        info = source.video
    out: list[np.ndarray] = []
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        tb = vs.time_base
        duration = float(vs.duration * tb) if vs.duration else (c.duration / av.time_base if c.duration else 0.0)
        start = float(vs.start_time * tb) if vs.start_time is not None else 0.0
        for frac in fractions:
            target = start + duration * frac
            c.seek(int(target / tb), stream=vs, backward=True, any_frame=False)
            frame = None
            for f in c.decode(vs):
                frame = f
                if f.pts is not None and float(f.pts * tb) >= target:
                    break
            if frame is None:
                continue
            rgb = display_view(frame.to_ndarray(format="rgb24"), info)
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
        raise ValueError(f"no frame could be decoded from {output_path.name}")
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
