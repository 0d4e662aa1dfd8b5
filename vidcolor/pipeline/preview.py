"""Previews: colorize single frames exactly as `run` would, by seeking instead of decoding the whole film.

What `run` writes at a frame depends on (1) the frame's global-feature group: groups start at cuts and
at fixed slots of `max_group_seconds` from the film's start, and a group's vector comes from the most
detailed of its first `keyframe_lookahead_frames` frames; (2) the temporal smoother's history since
the last cut, whose weight decays as `smoothing_strength ** n`. A preview therefore seeks to the
keyframe before the slot holding its warm-up window, runs the same `FrameDecoder` over the frames from
there (same cut and group decisions), predicts chroma for the few warm-up frames with their own
groups' vectors, smooths them in order, and composes the target frame's chroma planes like `run`.

Where to look is decided from the film's packets, never from its frame rate or declared length: frame N is
the N-th frame in display order (exact on variable-frame-rate films), and the film ends where its last
readable frame does (MPEG-PS/TS declare a length estimated from the bitrate; a truncated file declares more
than it holds).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from fractions import Fraction

import cv2
import numpy as np

from ..errors import ConfigError, MediaError
from ..media import LumaFrame, MediaSource, build_frame, chroma_shape_for, output_pix_fmt
from ..media.source import TRUNCATION_TOLERANCE_SECONDS
from ..model.colorizer import Colorizer
from .colorize import ChromaPredictor, FrameDecoder, WorkFrame, group_bucket
from .compose import chroma_planes, luma_to_gray_lut
from .config import PipelineConfig
from .smoothing import FlowSmoother
from .timecode import TimeSpec, format_time

# Frames decoded before the first needed group slot, so the cut detector has the history `run` had.
CUT_WARMUP_SECONDS = 1.0
# Weight of the smoother's history left out by the warm-up: strength ** frames <= this (0.7 -> 7 frames).
# Measured on the sample clip with the shipped model against a lossless run: 6 warm-up frames leave a
# mean chroma error of 0.01-0.02 code values (max 1, a rounding step); libx264 at crf 18 adds far more.
SMOOTHING_HISTORY_TOLERANCE = 0.1
FALLBACK_FRAME_RATE = Fraction(25)
TYPED_TIME_TOLERANCE_S = Fraction(1, 2000)  # half the millisecond printed times are rounded to
VARIANT_TEMPERATURE = 0.6
_NO_PIXELS = np.zeros((0, 0), np.uint8)


# ---------------------------------------------------------------- colour conversion
def yuv_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, color_range: str) -> np.ndarray:
    """Y, Cb, Cr planes as `run` encodes them -> uint8 sRGB (H,W,3), BT.709, as a player shows them."""
    h, w = y.shape
    frame = build_frame(y, cb, cr, pix_fmt=output_pix_fmt(w, h), color_range=color_range)
    return frame.to_ndarray(format="rgb24", src_colorspace="itu709", src_color_range=1 if color_range == "tv" else 2)


def smoothing_warmup_frames(strength: float, tolerance: float = SMOOTHING_HISTORY_TOLERANCE) -> int:
    """Frames of smoother history needed before a frame so that older history weighs <= tolerance."""
    if strength <= 0:
        return 0
    return max(1, math.ceil(math.log(tolerance) / math.log(strength)))


# ---------------------------------------------------------------- where to look
def _seconds_of(source: MediaSource, pts: int) -> Fraction:
    """Exact seconds from the film's start of a pts."""
    info = source.video
    return max(Fraction(0), (pts - info.start_pts) * info.time_base)


def readable_length(source: MediaSource) -> Fraction:
    """Seconds from the film's start to the end of its last readable frame (from packets, not the declared length)."""
    end = source.end_pts()
    if end is None:
        raise MediaError(f"{source.path.name} has no readable video packet")
    return _seconds_of(source, end)


def resolve_at(source: MediaSource, spec: TimeSpec) -> Fraction:
    """Seconds from the start of the frame an --at value names; a one-sentence ConfigError outside the film."""
    name = source.path.name
    if spec.frame is not None:
        pts = source.frame_pts(spec.frame)
        if pts is None:
            count = source.frame_count()
            frames = f"{count} frames (f0 to f{count - 1})" if count > 1 else f"{count} frame (f0)"
            raise ConfigError(f"frame {spec.frame} is beyond the end of {name}, which has {frames}")
        return _seconds_of(source, pts)
    length = readable_length(source)
    if spec.seconds >= length:
        declared = source.video.duration_seconds
        if declared and declared - length > max(TRUNCATION_TOLERANCE_SECONDS, 0.1 * declared):
            raise ConfigError(f"{spec.text} is beyond the end of {name}: its frames end at {format_time(length)}, "
                              f"short of its declared {format_time(declared)} (a truncated file?)")
        raise ConfigError(f"{spec.text} is beyond the end of {name}, which lasts {format_time(length)}")
    # Times are printed rounded to the millisecond: a label typed back names its own frame, even one that starts
    # up to half a millisecond after it (at 24 fps, every other frame).
    return min(spec.seconds + TYPED_TIME_TOLERANCE_S, max(spec.seconds, length - Fraction(1, 1_000_000)))


def default_time(source: MediaSource) -> Fraction:
    """The default preview time: the middle of the part of the film that can be read."""
    return readable_length(source) / 2


def grid_times(source: MediaSource, count: int) -> list[Fraction]:
    """`count` times spread evenly over the readable film (the middles of equal parts), for contact sheets; each
    shows another frame, so a film of fewer frames gets fewer times."""
    length = readable_length(source)
    info = source.video
    times: list[Fraction] = []
    shown: set[int] = set()
    for i in range(count):
        seconds = length * (2 * i + 1) / (2 * count)
        number = source.frame_number(info.pts_at(seconds))
        if number not in shown:
            shown.add(number)
            times.append(seconds)
    return times


# ---------------------------------------------------------------- previews
@dataclass
class PreviewFrame:
    """One colorized frame, as `run` would write it."""

    seconds: float  # from the film's start
    index: int  # frame number from the film's start, in display order (counted from packets, exact on VFR)
    y: np.ndarray  # the source's Y plane, HxW uint8 (source range)
    cb: np.ndarray  # the chroma planes `run` encodes for this frame
    cr: np.ndarray
    rgb: np.ndarray  # what a player shows: Y + Cb/Cr -> sRGB uint8 (H,W,3)
    gray: np.ndarray  # the source as full-range gray (H,W) uint8, for side-by-side views
    variants: list[np.ndarray] = field(default_factory=list)  # alternative colorizations, sRGB uint8
    decoded_frames: int = 0  # frames decoded from the seek point
    predicted_frames: int = 0  # frames the model colorized (warm-up included)

    @property
    def timestamp(self) -> str:
        return format_time(self.seconds)


class _Group:
    """A global-feature group seen while decoding: its first frames (for the keyframe choice)."""

    def __init__(self, trusted: bool):
        self.trusted = trusted  # False when decoding began inside it: its true start is unknown
        self.frames: list[WorkFrame] = []
        self.count = 0
        self.vector = None

    def add(self, wf: WorkFrame, lookahead: int) -> None:
        if self.count < lookahead:
            self.frames.append(wf)
        self.count += 1


def _light(wf: WorkFrame) -> WorkFrame:
    """The frame without its full-size luma (only the target frame keeps it)."""
    return replace(wf, luma=replace(wf.luma, y=_NO_PIXELS))


class Previewer:
    """Colorizes single frames of one opened film with `run`'s model, groups, smoothing and composition."""

    def __init__(self, source: MediaSource, config: PipelineConfig, colorizer: Colorizer, smoothing: bool = True):
        self.source = source
        self.info = source.video
        self.config = config
        self.colorizer = colorizer
        self.strength = config.smoothing_strength if smoothing else 0.0
        self.warmup_frames = smoothing_warmup_frames(self.strength)
        self._predictor = ChromaPredictor(colorizer, config)
        self._frame_pts = self.info.frame_ticks or max(1, round(1 / FALLBACK_FRAME_RATE / self.info.time_base))

    def _decode_start(self, target_pts: int) -> float:
        """Seconds from the start to decode from: before the group slot that holds the warm-up window (one frame
        more, found by frame number, so long frames of a variable-rate film are counted as frames, not time)."""
        info = self.info
        tb = info.time_base
        number = self.source.frame_number(target_pts)
        first = self.source.frame_pts(number - self.warmup_frames - 1) if number > self.warmup_frames else None
        earliest_pts = max(info.start_pts, first if first is not None else info.start_pts)
        slot = group_bucket(float(earliest_pts * tb), self.config.max_group_seconds)
        slot_start = slot * self.config.max_group_seconds - float(info.start_pts * tb)
        return max(0.0, slot_start - CUT_WARMUP_SECONDS)

    def _collect(self, target_pts: int, clamp: bool) -> tuple[list[tuple[WorkFrame, _Group]], LumaFrame, int]:
        """Decode from the seek point: the target frame, the warm-up frames before it and their groups (with
        `clamp`, the last frame when the decodable frames end before `target_pts`)."""
        info = self.info
        decoder = FrameDecoder(self.source, self.config)  # fresh cut and slot state, as at a film's start
        lookahead = self.config.keyframe_lookahead_frames
        window: deque[tuple[WorkFrame, _Group]] = deque(maxlen=self.warmup_frames + 1)
        groups: list[_Group] = []
        target: tuple[WorkFrame, _Group] | None = None
        target_luma: LumaFrame | None = None
        prev_luma: LumaFrame | None = None
        decoded = 0
        start_seconds = self._decode_start(target_pts)
        start_pts = info.pts_at(start_seconds)
        for lf in self.source.frames_from(start_seconds):
            if lf.pts < start_pts:
                decoded += 1
                continue  # between the seek's keyframe and the cut detector's warm-up: decoded, not needed
            wf = decoder.prepare(lf)
            if target is None and lf.pts > target_pts:
                if not window:
                    raise MediaError(f"cannot seek in {info.path.name}: decoding started after the wanted frame")
                target, target_luma = window[-1], prev_luma
            if target is not None and (wf.group_start or groups[-1].count >= lookahead):
                break  # the target's group is complete as far as its keyframe choice goes
            decoded += 1
            light = _light(wf)
            if wf.group_start:
                groups.append(_Group(trusted=bool(groups) or lf.pts <= info.start_pts))
            groups[-1].add(light, lookahead)
            if target is None:
                window.append((light, groups[-1]))
                groups = [g for g in groups if g is groups[-1] or any(g is wg for _, wg in window)]
            prev_luma = lf
        else:
            if target is None:
                if not window or (not clamp and
                                  target_pts >= window[-1][0].luma.pts + (prev_luma.duration or self._frame_pts)):
                    end = format_time(float((window[-1][0].luma.pts - info.start_pts + self._frame_pts) * info.time_base)) \
                        if window else "its start"
                    raise ConfigError(f"{format_time(float((target_pts - info.start_pts) * info.time_base))} is "
                                      f"beyond the last frame of {info.path.name} (it ends at {end})")
                target, target_luma = window[-1], prev_luma
        frames = list(window)  # ends with the target
        start = 0
        for i, (wf, g) in enumerate(frames):
            if not g.trusted:
                start = i + 1  # its keyframe is unknown; only the first decoded group can be so
            elif wf.cut:
                start = max(start, i)  # the smoother starts afresh at a cut
        return frames[start:] or [target], target_luma, decoded

    def _vector(self, group: _Group):
        if group.vector is None:
            group.vector = self._predictor._keyframe_vector(group.frames)
        return group.vector

    def frame(self, seconds: float | Fraction, variants: int = 0, seed: int = 0, *,
              clamp: bool = False) -> PreviewFrame:
        """The frame shown at `seconds` from the start, colorized as `run` writes it (plus sampled variants).

        With `clamp` (for times the user did not give) a film whose frames cannot be decoded that far shows its
        last decodable frame instead of refusing."""
        info = self.info
        if seconds < 0:
            raise ConfigError(f"cannot preview at {float(seconds):g} s: the time must not be negative")
        target_pts = info.pts_at(seconds)
        frames, luma, decoded = self._collect(target_pts, clamp)
        if self.strength <= 0:
            frames = frames[-1:]
        smoother = FlowSmoother(self.strength, self.config.flow_preset)
        bs = self.config.batch_size
        ab = None
        i = 0
        while i < len(frames):  # batches never mix groups: each group has its own vector
            group = frames[i][1]
            batch = [wf for wf, g in frames[i:i + bs] if g is group]
            preds = self.colorizer.predict_ab(np.stack([wf.gray for wf in batch]), self._vector(group),
                                              self.config.temperature)
            for wf, pred in zip(batch, preds):
                ab = smoother.smooth(wf.gray, pred)
            i += len(batch)
        target_wf, target_group = frames[-1]
        y = luma.y
        chroma_shape = chroma_shape_for(info.width, info.height)
        cb, cr = chroma_planes(target_wf.gray, ab, chroma_shape, info.color_range)
        result = PreviewFrame(
            seconds=float((luma.pts - info.start_pts) * info.time_base), index=self.source.frame_number(luma.pts),
            y=y, cb=cb, cr=cr, rgb=yuv_to_rgb(y, cb, cr, info.color_range),
            gray=cv2.LUT(y, luma_to_gray_lut(info.color_range)),
            decoded_frames=decoded, predicted_frames=len(frames),
        )
        if variants > 0:
            samples = self.colorizer.sample_ab(target_wf.gray[None], self._vector(target_group), variants, seed=seed,
                                               temperature=VARIANT_TEMPERATURE)
            for s in samples:
                vcb, vcr = chroma_planes(target_wf.gray, s, chroma_shape, info.color_range)
                result.variants.append(yuv_to_rgb(y, vcb, vcr, info.color_range))
        return result
