"""Open a video file with PyAV: validate it, describe its video stream, and stream luma frames and kept packets."""

from __future__ import annotations

import heapq
import logging
import os
import re
import struct
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidcolor.errors import InputError, MediaError
from vidcolor.media.container import open_container
from vidcolor.media.display import display_view
from vidcolor.media.frames import LumaFrame, VideoInfo
from vidcolor.media.timeline import FrameTimeline

log = logging.getLogger(__name__)

# 8-bit formats whose plane 0 is the Y plane: used as they are, no conversion.
_DIRECT_8BIT = {
    "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
    "yuv411p", "yuvj411p", "yuv410p", "yuva420p", "yuva422p", "yuva444p", "gray", "nv12", "nv21",
    "nv16", "nv24", "nv42",
}  # fmt: skip
# Planar little-endian high-bit-depth formats whose plane 0 is Y, LSB-aligned: shifted down to 8 bits.
_HIGH_DEPTH = re.compile(r"^(?:yuva?4[0-4][0-4]p|gray)(9|10|12|14|16)le$")
_KEPT_TYPES = ("audio", "subtitle")
# A film whose frames stop this much (or 10 %, whichever is more) before its declared duration is
# reported as truncated (the declared duration may include audio that runs a little longer).
TRUNCATION_TOLERANCE_SECONDS = 0.5
# Demuxers that turn still images or text into a "video" stream: not video files.
_NOT_VIDEO_FORMATS = {"tty", "image2", "image2pipe", "webp_pipe", "apng"}


def _range_name(frame_range: int, pix_fmt: str) -> str:
    """'pc' or 'tv' for a frame's color_range code and pixel format."""
    if frame_range == 2:
        return "pc"
    if frame_range == 1:
        return "tv"
    if pix_fmt.startswith("yuvj") or pix_fmt.startswith("gray"):
        return "pc"  # FFmpeg's convention for untagged JPEG-style and gray formats
    return "tv"


def _is_rgb(pix_fmt: str) -> bool:
    """True when the pixel format carries RGB rather than YUV/gray samples."""
    return not (pix_fmt.startswith(("yuv", "gray", "nv", "p0", "p2", "p4", "y2", "uyv", "yuy")))


def luma_of(frame: av.VideoFrame) -> np.ndarray:
    """The frame's 8-bit Y plane as a C-contiguous HxW uint8 array (source range kept)."""
    fmt = frame.format.name
    w, h = frame.width, frame.height
    if fmt in _DIRECT_8BIT:
        plane = frame.planes[0]
        buf = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        return np.ascontiguousarray(buf[:h, :w])
    deep = _deep_luma(frame, 8)
    if deep is not None:
        return deep
    # RGB and anything exotic: convert with BT.709 to limited-range 8-bit 4:2:0 and take Y.
    if _is_rgb(fmt):
        out = frame.reformat(format="yuv420p", dst_colorspace="itu709", dst_color_range=1)
    else:
        rng = frame.color_range if frame.color_range in (1, 2) else 1
        out = frame.reformat(format="yuv420p", src_color_range=rng, dst_color_range=rng)
    plane = out.planes[0]
    buf = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return np.ascontiguousarray(buf[:h, :w])


def bit_depth_of(pix_fmt: str) -> int:
    """Bits per luma sample of a planar YUV or gray format (8 for RGB and everything else, which is read at 8)."""
    m = _HIGH_DEPTH.match(pix_fmt)
    return int(m.group(1)) if m else 8


def _deep_luma(frame: av.VideoFrame, bits: int) -> np.ndarray | None:
    """The Y plane of a 9-16 bit planar format at `bits` bits (uint8 for 8, else uint16; shifted down with
    rounding, or up for fewer source bits), source range kept; None for other formats."""
    m = _HIGH_DEPTH.match(frame.format.name)
    if not m:
        return None
    plane = frame.planes[0]
    buf = np.frombuffer(plane, np.uint16).reshape(plane.height, plane.line_size // 2)[:frame.height, :frame.width]
    dtype = np.uint8 if bits == 8 else np.uint16
    shift = int(m.group(1)) - bits
    if shift == 0:
        return np.ascontiguousarray(buf, dtype)
    if shift < 0:  # fewer source bits (9 to 10): the same code values, moved up
        return buf.astype(dtype) << -shift
    y = (buf.astype(np.uint32) + (1 << (shift - 1))) >> shift
    return np.minimum(y, (1 << bits) - 1).astype(dtype)


def luma10_of(frame: av.VideoFrame) -> np.ndarray | None:
    """The frame's Y plane at 10 bits (HxW uint16, source range kept), for formats of 9 or more bits; else None."""
    return _deep_luma(frame, 10)


def _display_matrix(frame: av.VideoFrame) -> tuple[int, ...] | None:
    """The frame's 3x3 display matrix (9 int32, FFmpeg layout), or None."""
    for sd in frame.side_data:
        if sd.type.name == "DISPLAYMATRIX":
            raw = bytes(sd)
            if len(raw) >= 36:
                return struct.unpack("<9i", raw[:36])
    return None


def _pick_video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """The main video stream (not cover art, not a still image or text file), or None."""
    fmt = container.format.name
    if fmt in _NOT_VIDEO_FORMATS or fmt.endswith("_pipe"):
        return None
    for s in container.streams.video:
        if s.disposition & av.stream.Disposition.attached_pic:
            continue
        return s
    return None


# FFmpeg's AVFieldOrder values by the field shown first (TT, BT: top; BB, TB: bottom).
_TOP_FIELD_FIRST = (2, 5)
_BOTTOM_FIELD_FIRST = (3, 4)


def _field_order(frame: av.VideoFrame, ctx: av.video.codeccontext.VideoCodecContext) -> str:
    """'progressive', or the field shown first of an interlaced picture: 'tff' or 'bff'."""
    if not frame.interlaced_frame:
        return "progressive"
    if ctx.field_order in _TOP_FIELD_FIRST:
        return "tff"
    if ctx.field_order in _BOTTOM_FIELD_FIRST:
        return "bff"
    return "bff" if ctx.name == "dvvideo" else "tff"  # unsaid: DV is bottom field first by its standard


AVI_REORDER_FRAMES = 8  # frames held back to put AVI slots in display order (B-frame reordering is shallower)


class _AviSlots:
    """Display times for AVI, which stores none: only each packet's slot, in decode order.

    FFmpeg's guesses from those slots run out of order behind every B-frame. Instead each packet carries its
    slot into the frame decoded from it (FFmpeg's copy_opaque), and since the decoder gives frames out in
    display order, the slots of the frames' own packets, sorted, are their display slots: the k-th frame out
    takes the k-th smallest, once the few frames after it (which may hold a smaller one) have come. A frame
    the decoder loses takes its slot with it, so the frames after it keep theirs (no drift).
    """

    def __init__(self) -> None:
        self._held: deque = deque()
        self._slots: list[int] = []  # heap

    @staticmethod
    def note(packet: av.Packet) -> None:
        """Tag a packet with its slot, before it is decoded."""
        if packet.size and packet.dts is not None:
            ctx = packet.stream.codec_context
            if not ctx.copy_opaque:
                ctx.copy_opaque = True
            packet.opaque = packet.dts

    def order(self, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        """The frames whose display slot is known now (their `pts` set to it); the rest are held back."""
        for frame in frames:
            if frame.opaque is not None:
                heapq.heappush(self._slots, frame.opaque)
            self._held.append(frame)
        return [self._release() for _ in range(len(self._held) - AVI_REORDER_FRAMES)]

    def drain(self) -> list[av.VideoFrame]:
        """The frames still held back, at the end of a read."""
        return [self._release() for _ in range(len(self._held))]

    def _release(self) -> av.VideoFrame:
        frame = self._held.popleft()
        frame.pts = heapq.heappop(self._slots) if self._slots else None  # None: the reader counts on
        return frame


@dataclass
class _DecodeTally:
    """What a decoder did over one read of the video stream."""

    packets_in: int = 0  # non-empty video packets given to the decoder
    frames_out: int = 0  # frames it returned
    corrupt_frames: int = 0  # frames it returned but flagged as damaged
    avi_slots: _AviSlots | None = None  # AVI: puts the frames' times in display order

    def count(self, frames: list[av.VideoFrame]) -> None:
        self.frames_out += len(frames)
        self.corrupt_frames += sum(1 for f in frames if f.is_corrupt)


class MediaSource:
    """An opened, validated video file: `.video` facts, `.kept_streams`, and `.items()` in demux order."""

    def __init__(self, path: str | os.PathLike, *, threads: int = 0, thread_type: str = "AUTO",
                 keep_10_bit: bool = False) -> None:
        """Open and validate `path`; decode its first frame to learn size, range and rotation. With `keep_10_bit`
        the frames of a source deeper than 8 bits also carry their Y plane at 10 bits (`LumaFrame.y10`)."""
        self.path = Path(path)
        self.keep_10_bit = keep_10_bit
        self.threads = threads
        self.thread_type = thread_type
        self.frames_read = 0
        self._declared_end_s: float | None = None  # where the film says it ends, seconds on its own clock
        self._declared_by_container = False  # that end is the container's (all streams'), not the video's
        self._read_end_s = 0.0  # the latest packet end read, any stream (seconds on the same clock)
        self.truncated_at_seconds: float | None = None  # set when the film ends well before its declared end
        self.resized_frames = 0  # frames of another size than the first (a broadcast's resolution change)
        self._tally = _DecodeTally()  # of items(), for concealed_errors
        self._timeline: FrameTimeline | None = None
        if not self.path.exists():
            raise MediaError(f"{self.path} does not exist")
        if not self.path.is_file():
            raise MediaError(f"{self.path} is not a file")
        opened = self.path.stat()
        if opened.st_size == 0:
            raise InputError(f"{self.path.name} is empty (0 bytes)")
        self._opened_as = (opened.st_size, opened.st_mtime_ns)
        self._container = open_container(self.path)
        try:
            self._init_from_container()
        except BaseException:
            self._container.close()
            raise

    # ---------------------------------------------------------------- opening
    def _init_from_container(self) -> None:
        c = self._container
        vs = _pick_video_stream(c)
        if vs is None:
            raise InputError(f"{self.path.name} is not a video file (no video stream found)")
        self._vindex = vs.index
        # AVI stores no presentation times; FFmpeg's guesses run out of order behind B-frames (88 of the 270
        # frames of OpenCV's Xvid Megamind.avi): see _AviSlots.
        self._slot_timed = c.format.name == "avi"
        first, field_order = self._probe_first_frame()
        if first is None:
            raise InputError(f"{self.path.name} is truncated or corrupt: its video stream has no decodable frame")
        tb = vs.time_base or Fraction(1, 90000)
        rate = vs.average_rate or vs.guessed_rate or None
        duration = None
        start_pts = vs.start_time if vs.start_time is not None else (first.pts or 0)
        if vs.duration is not None:
            duration = float(vs.duration * tb)
            self._declared_end_s = float((start_pts + vs.duration) * tb)
        elif c.duration is not None:
            # The container's span: every stream's, from the earliest start (audio may run past the picture).
            # Matroska's Duration runs from timestamp 0 whatever the first timestamp (FFmpeg, mkvmerge).
            duration = c.duration / av.time_base
            start_s = c.start_time / av.time_base if c.start_time is not None else float(start_pts * tb)
            self._declared_end_s = duration if "matroska" in c.format.name else start_s + duration
            self._declared_by_container = True
        frame_count = vs.frames or None
        if frame_count is None and duration and rate:
            frame_count = int(round(duration * rate))
        matrix = _display_matrix(first)
        rotation = int(first.rotation or 0) % 360 if matrix else 0
        sar = vs.sample_aspect_ratio or Fraction(1, 1)
        if sar <= 0:
            sar = Fraction(1, 1)
        pix_fmt = first.format.name
        self.video = VideoInfo(
            path=self.path,
            width=first.width,
            height=first.height,
            time_base=Fraction(tb),
            average_rate=Fraction(rate) if rate else None,
            frame_count=frame_count,
            duration_seconds=duration,
            rotation_degrees=rotation,
            sample_aspect_ratio=Fraction(sar),
            color_range="tv" if _is_rgb(pix_fmt) else _range_name(first.color_range, pix_fmt),
            pix_fmt=pix_fmt,
            codec_name=vs.codec_context.name,
            start_pts=int(start_pts),
            field_order=field_order,
            display_matrix=matrix,
            stream_index=vs.index,
            bit_depth=bit_depth_of(pix_fmt),
        )
        self.kept_streams = [s for s in c.streams if s.type in _KEPT_TYPES]
        self.attachments = [s for s in c.streams if s.type == "attachment"]  # Matroska's fonts, notes, covers
        self.cover_art = [s for s in c.streams.video if s.disposition & av.stream.Disposition.attached_pic]
        self.metadata: dict[str, str] = dict(c.metadata)
        self.chapters: list[dict] = list(c.chapters())

    def _probe_first_frame(self) -> tuple[av.VideoFrame | None, str]:
        """Decode the first frame with a throwaway container (the main one stays at the start); with its field
        order ('progressive', 'tff' or 'bff')."""
        with open_container(self.path) as c:
            vs = c.streams[self._vindex]
            try:
                for packet in c.demux(vs):
                    for frame in self._decode(packet, _DecodeTally()):
                        return frame, _field_order(frame, vs.codec_context)
            except av.error.FFmpegError:
                pass
        return None, "progressive"

    def changed_since_opened(self) -> bool:
        """True when the file's size or time moved since it was opened: written to meanwhile (still being copied
        or captured), so what was read may be only part of it."""
        try:
            now = self.path.stat()
        except OSError:
            return True
        return (now.st_size, now.st_mtime_ns) != self._opened_as

    @property
    def concealed_errors(self) -> int:
        """Damaged video packets so far: ones the decoder dropped or refused, plus frames it flagged corrupt."""
        t = self._tally
        return t.corrupt_frames + max(0, t.packets_in - t.frames_out)

    @property
    def video_stream(self) -> av.video.stream.VideoStream:
        """The PyAV stream being decoded (for templates and metadata)."""
        return self._container.streams[self._vindex]

    # ---------------------------------------------------------------- reading
    def _configure_decoder(self, vs: av.video.stream.VideoStream) -> None:
        ctx = vs.codec_context
        if self.thread_type:
            ctx.thread_type = self.thread_type
            ctx.thread_count = self.threads

    def _luma_frame(self, frame: av.VideoFrame, index: int, last_pts: int | None) -> LumaFrame:
        pts = frame.pts
        tb = self.video.time_base
        if pts is None:
            if last_pts is None:
                pts = self.video.start_pts
            else:
                pts = last_pts + (self.video.frame_ticks or 1)
        width, height = self.video.width, self.video.height
        if (frame.width, frame.height) != (width, height):
            # A recording whose picture size changes (a DVB channel going from an SD programme to HD) is
            # written at its first size throughout, as FFmpeg's own tools do: the output stream has one size.
            if not self.resized_frames:
                log.warning("%s changes picture size to %dx%d at %.2f s; those frames are scaled to its first "
                            "size, %dx%d", self.path.name, frame.width, frame.height,
                            float((pts - self.video.start_pts) * tb), width, height)
            self.resized_frames += 1
            frame = frame.reformat(width=width, height=height)
        y = luma_of(frame)
        return LumaFrame(
            y=y,
            pts=int(pts),
            time_base=tb,
            index=index,
            key_frame=bool(frame.key_frame),
            duration=int(frame.duration) if frame.duration else None,
            y10=self._luma10(frame, y) if self.keep_10_bit and self.video.bit_depth > 8 else None,
        )

    @staticmethod
    def _luma10(frame: av.VideoFrame, y: np.ndarray) -> np.ndarray:
        """The frame's Y at 10 bits; a frame of an 8-bit format inside a deep stream: its 8-bit codes, scaled."""
        y10 = luma10_of(frame)
        return y10 if y10 is not None else y.astype(np.uint16) << 2

    def items(self) -> Iterator[LumaFrame | av.Packet]:
        """Yield LumaFrames of the video stream and raw packets of kept streams, in demux order."""
        c = self._container
        if self.frames_read:  # a second pass: start over on a fresh container
            indices = [s.index for s in self.kept_streams]  # read before the close: the streams die with it
            c.close()
            self._container = c = open_container(self.path)
            self.kept_streams = [c.streams[i] for i in indices]
        vs = c.streams[self._vindex]
        self._configure_decoder(vs)
        self._tally = self._new_tally()
        kept = self.kept_streams
        index = 0
        last_pts: int | None = None

        def luma(frame: av.VideoFrame) -> LumaFrame:
            nonlocal index, last_pts
            lf = self._luma_frame(frame, index, last_pts)
            last_pts = lf.pts
            index += 1
            self.frames_read = index
            return lf

        demux = c.demux([vs, *kept])
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                break
            except av.error.FFmpegError as e:
                at = f" after {float(last_pts * self.video.time_base):.2f} s" if last_pts is not None else ""
                raise InputError(f"{self.path.name} is truncated or corrupt{at}: {e.strerror or e}") from None
            if packet.pts is not None and packet.time_base is not None:
                end_s = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                self._read_end_s = max(self._read_end_s, end_s)
            if packet.stream_index != self._vindex:
                if packet.dts is None and packet.size == 0:
                    continue  # the demuxer's end-of-stream marker, nothing to copy
                yield packet
                continue
            for frame in self._decode(packet, self._tally):  # dts None + empty = flush: still decoded
                yield luma(frame)
        for frame in self._held_back(self._tally):
            yield luma(frame)
        for frame in self._lost_tail(vs, self._tally, last_pts):
            yield luma(frame)
        if index == 0:
            raise InputError(f"{self.path.name} is truncated or corrupt: no video frame could be decoded")
        self._check_complete(last_pts)

    def _decode(self, packet: av.Packet, tally: _DecodeTally) -> list[av.VideoFrame]:
        """The frames a video packet completes, counted in `tally`; a packet the decoder refuses gives none."""
        tally.packets_in += bool(packet.size)
        if tally.avi_slots is not None:
            tally.avi_slots.note(packet)
        try:
            frames = packet.decode()
        except av.error.FFmpegError as e:
            log.debug("%s: skipped a corrupt video packet (pts %s): %s", self.path.name, packet.pts, e)
            return []
        tally.count(frames)
        return frames if tally.avi_slots is None else tally.avi_slots.order(frames)

    def _new_tally(self) -> _DecodeTally:
        """A tally for one read of the video stream (with the slot orderer for AVI)."""
        return _DecodeTally(avi_slots=_AviSlots() if self._slot_timed else None)

    @staticmethod
    def _held_back(tally: _DecodeTally) -> list[av.VideoFrame]:
        """At the end of a read: the frames the AVI slot orderer still holds."""
        return tally.avi_slots.drain() if tally.avi_slots is not None else []

    def _frames(self, packets: Iterator[av.Packet], tally: _DecodeTally) -> Iterator[av.VideoFrame]:
        """The frames of these video packets in order; when the packets end or break off with an error, also
        the frames the AVI slot orderer still holds (then the error goes on)."""
        try:
            for packet in packets:
                yield from self._decode(packet, tally)
        except av.error.FFmpegError:
            yield from self._held_back(tally)
            raise
        yield from self._held_back(tally)

    def _lost_tail(self, vs: av.video.stream.VideoStream, tally: _DecodeTally,
                   last_pts: int | None) -> Iterator[av.VideoFrame]:
        """After a read: the frames a multi-threaded decoder lost at the end (`_recover_tail`), counted in
        `tally`; none when no frame is missing or the decoder ran on one thread."""
        if tally.packets_in <= tally.frames_out or vs.codec_context.thread_count == 1:
            return
        for frame in self._recover_tail(last_pts):
            tally.count([frame])
            yield frame

    def _recover_tail(self, last_pts: int | None) -> Iterator[av.VideoFrame]:
        """The frames after `last_pts` that a frame-threaded decoder lost, decoded again on one thread.

        A frame-threaded decoder holds one frame per thread (16 on a 16-core machine). When a damaged
        packet's error comes out while it drains at the end of the film, FFmpeg cannot be asked for
        the frames behind it, and the film would end up to 16 frames early. So, when frames are missing,
        the stretch from the keyframe before the last frame read is decoded again single-threaded.
        """
        with open_container(self.path) as c:
            vs = c.streams[self._vindex]
            vs.codec_context.thread_count = 1
            if last_pts is not None:
                try:
                    c.seek(last_pts, stream=vs, backward=True, any_frame=False)
                except av.error.FFmpegError:
                    pass  # not seekable: decode from the start and skip what was read
            tally = self._new_tally()  # damage here was counted in the first read
            for frame in self._frames(c.demux(vs), tally):
                if frame.pts is None or (last_pts is not None and frame.pts <= last_pts):
                    continue
                log.debug("%s: frame at pts %s recovered by a single-threaded decode", self.path.name, frame.pts)
                yield frame

    def _check_complete(self, last_pts: int | None) -> None:
        """Warn (once, one line) when the file ends well before its declared end: the frames read, or (where
        only the container states an end) every stream's packets read, stop short of it."""
        info = self.video
        if last_pts is None or not info.duration_seconds or self._declared_end_s is None:
            return
        read_end_s = float(last_pts * info.time_base) + (info.frame_duration_seconds or 0.0)
        if self._declared_by_container:
            read_end_s = max(read_end_s, self._read_end_s)  # a picture shorter than its sound is not cut off
        read_s = read_end_s - (self._declared_end_s - info.duration_seconds)
        if info.duration_seconds - read_s > max(TRUNCATION_TOLERANCE_SECONDS, 0.1 * info.duration_seconds):
            self.truncated_at_seconds = read_s
            log.warning(
                "%s ends after %.2f s of its declared %.2f s (a truncated file?); the output holds what could be read",
                self.path.name, read_s, info.duration_seconds,
            )

    def luma_frames(self) -> Iterator[LumaFrame]:
        """Only the LumaFrames of `.items()` (kept packets are dropped)."""
        for item in self.items():
            if isinstance(item, LumaFrame):
                yield item

    # ---------------------------------------------------------------- previews
    def frame_at(self, seconds: float) -> LumaFrame:
        """The frame shown at `seconds` from the start: seek to the keyframe before, decode forward."""
        return self._decoded_at(seconds)[1]

    def picture_at(self, seconds: float) -> np.ndarray:
        """The frame shown at `seconds` from the start in RGB (HxWx3 uint8), as players show it: the pixel
        aspect ratio and display rotation applied."""
        return display_view(self._decoded_at(seconds)[0].to_ndarray(format="rgb24"), self.video)

    def _decoded_at(self, seconds: float) -> tuple[av.VideoFrame, LumaFrame]:
        """The frame shown at `seconds` from the start (the last one at or before it), decoded as frames_from
        decodes; MediaError for a negative time or one past the end."""
        info = self.video
        if seconds < 0:
            raise MediaError(f"cannot take a frame at {seconds:g} s: the time must not be negative")
        if info.duration_seconds is not None and seconds >= info.duration_seconds:
            raise MediaError(
                f"cannot take a frame at {seconds:g} s: {self.path.name} lasts {info.duration_seconds:.3f} s"
            )
        target = info.pts_at(seconds)
        shown: tuple[av.VideoFrame, LumaFrame] | None = None
        for frame, lf in self._frames_from(seconds):
            if lf.pts > target:
                return shown or (frame, lf)  # none before it: the film's first frame comes after `seconds`
            shown = (frame, lf)
        if shown is not None and target < shown[1].pts + max(shown[1].duration or info.frame_ticks or 1, 1):
            return shown
        raise MediaError(f"cannot take a frame at {seconds:g} s: it lies beyond the end of {self.path.name}")

    def _frame_by_time(self, frame: av.VideoFrame, last_pts: int | None) -> LumaFrame:
        """A LumaFrame whose `index` is its frame number from the film's start, from its timestamp and the
        average rate (-1 when that is unknown): for frames decoded after a seek."""
        info = self.video
        lf = self._luma_frame(frame, -1, last_pts)
        rate = info.average_rate
        lf.index = int(round((lf.pts - info.start_pts) * info.time_base * rate)) if rate else -1
        return lf

    def frames_from(self, seconds: float) -> Iterator[LumaFrame]:
        """Frames in order from the keyframe at or before `seconds` (from the start) on, on a private container.

        For previews: stop iterating when done (the container is then closed). `index` is the frame
        number from the film's start, from the timestamp and the average rate (-1 when it is unknown).
        """
        return (lf for _, lf in self._frames_from(seconds))

    def _frames_from(self, seconds: float) -> Iterator[tuple[av.VideoFrame, LumaFrame]]:
        """frames_from, each frame also as decoded."""
        info = self.video
        tb = info.time_base
        target = info.pts_at(max(seconds, 0.0))
        for back in (0, int(2 / tb), None):  # a seek that lands after the target is retried further back
            seek_to = None if back is None or target - back <= info.start_pts else target - back
            c = open_container(self.path)
            try:
                vs = c.streams[self._vindex]
                self._configure_decoder(vs)
                if seek_to is not None:
                    try:
                        c.seek(seek_to, stream=vs, backward=True)
                    except av.error.FFmpegError:
                        continue
                last_pts: int | None = None
                late = False
                tally = self._new_tally()
                try:
                    for frame in self._frames(c.demux(vs), tally):  # damaged packets: as in items()
                        if last_pts is None and seek_to is not None and (frame.pts or 0) > target:
                            late = True
                            break
                        lf = self._frame_by_time(frame, last_pts)
                        last_pts = lf.pts
                        yield frame, lf
                except av.error.FFmpegError:
                    pass  # damaged tail: the frames read so far are all there is
                if late or (last_pts is None and seek_to is not None):
                    continue  # the seek landed after the target, or nowhere a frame decodes (MPEG-TS): go back
                if last_pts is not None:  # (nothing read: no tail to recover from the seek point)
                    for frame in self._lost_tail(vs, tally, last_pts):
                        lf = self._frame_by_time(frame, last_pts)
                        last_pts = lf.pts
                        yield frame, lf
                return
            finally:
                c.close()

    # ---------------------------------------------------------------- frame numbers (packets only, no decoding)
    def _frames_timeline(self) -> FrameTimeline:
        """The film's frame numbers from packets, made on first use."""
        if self._timeline is None:
            info = self.video
            declared = None
            if self._declared_end_s is not None:
                declared = int(Fraction(self._declared_end_s).limit_denominator(1_000_000) / info.time_base)
            self._timeline = FrameTimeline(self.path, self._container, self._vindex, self._slot_timed,
                                       info.frame_ticks or 1, declared)
        return self._timeline

    def frame_pts(self, number: int) -> int | None:
        """The pts of frame `number` (counted from 0 in display order, as `run` numbers its frames), found from
        packet timestamps without decoding; None when the film has fewer frames."""
        return self._frames_timeline().pts_of(number)

    def frame_number(self, pts: int) -> int:
        """The number of the frame shown at `pts` (the last frame starting at or before it; -1 before the first)."""
        return self._frames_timeline().number_at(pts)

    def frame_count(self) -> int:
        """The number of frames whose packets can be read (counted from the packets; may read the whole file)."""
        return self._frames_timeline().count()

    def end_pts(self) -> int | None:
        """The pts just after the last frame that can be read (its pts plus its duration), from the stream's own
        timestamps, not the declared duration; None when no video packet can be read."""
        return self._frames_timeline().end()

    # ---------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Close the underlying containers."""
        if self._container is not None:
            self._container.close()
        if self._timeline is not None:
            self._timeline.close()
            self._timeline = None

    def __enter__(self) -> MediaSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
