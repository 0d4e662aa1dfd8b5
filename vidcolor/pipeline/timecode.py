"""Preview times: parse --at values (hh:mm:ss.ms, mm:ss, seconds, f<frame>), check them against a film, format them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ..errors import ConfigError
from ..media import VideoInfo

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


def film_duration(info: VideoInfo) -> Fraction | None:
    """The film's length in seconds (stream duration, else frames / rate), or None when unknown."""
    if info.duration_seconds:
        return Fraction(info.duration_seconds).limit_denominator(1_000_000)
    if info.frame_count and info.average_rate:
        return info.frame_count / info.average_rate
    return None


def resolve_time(spec: TimeSpec, info: VideoInfo) -> Fraction:
    """Seconds from the film's start for a TimeSpec; one-sentence ConfigError when it lies outside the film."""
    name = info.path.name
    duration = film_duration(info)
    if spec.frame is not None:
        if not info.average_rate:
            raise ConfigError(f"{name} has no known frame rate; give the time in seconds instead of {spec.text!r}")
        if info.frame_count and spec.frame >= info.frame_count:
            raise ConfigError(f"frame {spec.frame} is beyond the end of {name}, which has {info.frame_count} "
                              f"frames (f0 to f{info.frame_count - 1})")
        seconds = (spec.frame + Fraction(1, 2)) / info.average_rate  # mid-frame: robust to rounded timestamps
    else:
        seconds = spec.seconds
    if duration is not None and seconds >= duration:
        raise ConfigError(f"{spec.text} is beyond the end of {name}, which lasts {format_time(duration)}")
    return seconds


def middle_time(info: VideoInfo) -> Fraction:
    """The default preview time: the middle of the film."""
    duration = film_duration(info)
    if duration is None:
        raise ConfigError(f"cannot tell how long {info.path.name} is; pass --at TIME")
    return duration / 2


def spread_times(info: VideoInfo, count: int) -> list[Fraction]:
    """`count` times spread evenly over the film (the middles of equal parts), for contact sheets."""
    duration = film_duration(info)
    if duration is None:
        raise ConfigError(f"cannot tell how long {info.path.name} is, so --grid cannot spread frames over it")
    return [duration * (2 * i + 1) / (2 * count) for i in range(count)]
