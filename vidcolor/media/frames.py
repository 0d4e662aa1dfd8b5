"""Plain data carried between the media layer and the pipeline: video facts and luma frames."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    """Facts about the decoded video stream of an input file."""

    path: Path
    width: int
    height: int
    time_base: Fraction
    average_rate: Fraction | None
    frame_count: int | None
    duration_seconds: float | None
    rotation_degrees: int
    sample_aspect_ratio: Fraction
    color_range: str
    pix_fmt: str
    codec_name: str
    start_pts: int
    display_matrix: tuple[int, ...] | None = field(default=None, repr=False)
    stream_index: int = 0
    field_order: str = "progressive"  # or, for interlaced video, the field shown first: "tff" or "bff"
    bit_depth: int = 8  # bits per luma sample of the source (9-16 for deep YUV/gray formats; 8 for RGB and others)

    @property
    def frame_duration_seconds(self) -> float | None:
        """Nominal duration of one frame, from the average rate."""
        return float(1 / self.average_rate) if self.average_rate else None

    def pts_at(self, seconds: float | Fraction) -> int:
        """The timestamp `seconds` after the film's start, rounded down (a float taken to the microsecond)."""
        exact = seconds if isinstance(seconds, (int, Fraction)) else Fraction(seconds).limit_denominator(1_000_000)
        return self.start_pts + math.floor(exact / self.time_base)

    @property
    def frame_ticks(self) -> int | None:
        """Nominal duration of one frame in time-base ticks (at least 1), from the average rate; None if unknown."""
        return max(1, round(1 / self.average_rate / self.time_base)) if self.average_rate else None


@dataclass
class LumaFrame:
    """One decoded picture: the source's 8-bit Y plane (HxW uint8) and its timestamp; for a deeper source read
    with `keep_10_bit`, also its Y plane at 10 bits (HxW uint16, 0..1023), and a consumer that needs only that
    one may drop `y`."""

    y: np.ndarray | None
    pts: int
    time_base: Fraction
    index: int
    key_frame: bool
    duration: int | None = None
    y10: np.ndarray | None = None

    @property
    def seconds(self) -> float:
        """Presentation time in seconds."""
        return float(self.pts * self.time_base)
