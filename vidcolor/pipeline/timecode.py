"""Preview times: parse --at values (hh:mm:ss.ms, mm:ss, seconds, f<frame>) and format them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ..errors import ConfigError

_TIME_HELP = "use hh:mm:ss.ms, mm:ss, seconds (83.5) or a frame number (f120)"


@dataclass(frozen=True)
class TimeSpec:
    """A parsed --at value: a time in seconds from the start, or a frame number."""

    text: str
    seconds: Fraction | None = None
    frame: int | None = None


def parse_time(text: str) -> TimeSpec:
    """'01:02:03.5', '02:03', '83.5', '83.5s', 'f120' or 'frame:120' -> TimeSpec; anything else is a ConfigError."""
    s = text.strip().lower()
    if s.startswith("-"):
        raise ConfigError(f"cannot preview at {text!r}: the time must not be negative")
    m = re.fullmatch(r"(?:f|frame:)(\d+)", s)
    if m:
        return TimeSpec(text, frame=int(m.group(1)))
    m = re.fullmatch(r"(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)", s)
    if m:
        hours, minutes, secs = int(m.group(1) or 0), int(m.group(2)), Fraction(m.group(3))
        if secs >= 60 or (m.group(1) is not None and minutes >= 60):
            raise ConfigError(f"cannot read time {text!r}: minutes and seconds must be below 60 ({_TIME_HELP})")
        return TimeSpec(text, seconds=hours * 3600 + minutes * 60 + secs)
    m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)s?", s)
    if m:
        return TimeSpec(text, seconds=Fraction(m.group(1)))
    raise ConfigError(f"cannot read time {text!r}: {_TIME_HELP}")


def format_time(seconds: float) -> str:
    """Seconds -> 'hh:mm:ss.mmm'."""
    ms = int(round(float(seconds) * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
