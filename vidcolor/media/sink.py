"""Write the colorized video: source Y + new Cb/Cr through libx264, kept streams copied, atomic rename."""

from __future__ import annotations

import io
import logging
import os
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidcolor.errors import InputError, MediaError
from vidcolor.media.source import MediaSource
from vidcolor.media.temp_files import (NEW_FILE_MODE, current_umask, name_too_long, remove_stale_temp_files,
                                       temp_prefix)

log = logging.getLogger(__name__)

# Output extension -> FFmpeg muxer name.
FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
# Containers tried, in order, when the input's own container cannot be written or cannot hold its streams.
FALLBACK_CONTAINERS = ((".mkv", "matroska"), (".mp4", "mp4"))
# Containers tried, in order, when suggesting one that can hold a stream.
_SUGGEST = ((".mkv", "matroska"), (".mov", "mov"), (".mp4", "mp4"))
# Muxers that store a video stream's display matrix (rotation, flips); AVI has no place for one.
_KEEP_DISPLAY_MATRIX = {"mp4", "mov", "matroska"}
_IDENTITY_MATRIX = (1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30)  # FFmpeg's 16.16 / 2.30 fixed-point identity
# Container metadata that the muxer writes itself; not copied.
_MUXER_KEYS = {"major_brand", "minor_version", "compatible_brands", "encoder", "software", "creation_time"}
# Stream metadata copied onto the output streams (a video stream's timecode: MOV/MP4 write it as a tmcd track).
_STREAM_KEYS = {"language", "title", "handler_name", "timecode"}
_BT709 = 1
# Muxers that store each sample's duration: a copied audio packet that comes without one (Matroska gives ALAC
# packets none) is held until the next packet of its stream says how long it lasts; else the film's last one is
# written 0 long and players never play it.
_SAMPLE_DURATION_FORMATS = {"mp4", "mov"}
_RANGE_CODE = {"tv": 1, "pc": 2}
_FIELD_ORDER_CODE = {"tff": 2, "bff": 3}  # FFmpeg's AV_FIELD_TT, AV_FIELD_BB
# Errors with which a muxer, or a bitstream filter it inserts (aac_adtstoasc for ADTS AAC from MPEG-TS into
# MP4/MOV/Matroska), refuses one copied packet's bytes or timestamps: that packet is damaged, not the output
# (INVALIDDATA: an ADTS header hit by a dropout; EINVAL: timestamps a damaged PES header made non-monotonic).
# A failing write (ENOSPC, EIO...) raises an OSError instead and still fails the film.
_REFUSED_PACKET_ERRORS = (av.error.InvalidDataError, av.error.ArgumentError)
# More than this share of a stream's packets refused: the stream cannot be written, the film fails.
MAX_REFUSED_PACKET_SHARE = 0.5


def output_pix_fmt(width: int, height: int, bit_depth: int = 8) -> str:
    """yuv420p when both sides are even, else yuv444p (libx264 refuses odd sizes in 4:2:0); yuv...p10le at 10 bits."""
    if bit_depth not in (8, 10):
        raise ValueError(f"libx264 writes 8 or 10 bits per sample, not {bit_depth}")
    fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    return fmt if bit_depth == 8 else f"{fmt}10le"


def chroma_shape_for(width: int, height: int) -> tuple[int, int]:
    """(h, w) of the Cb/Cr planes for an output of this size."""
    if output_pix_fmt(width, height) == "yuv420p":
        return height // 2, width // 2
    return height, width


def build_frame(
    y: np.ndarray, cb: np.ndarray, cr: np.ndarray, *, pix_fmt: str, color_range: str = "tv"
) -> av.VideoFrame:
    """An av.VideoFrame whose planes hold exactly these Y, Cb and Cr arrays (BT.709 tagged): uint8 for 8-bit
    formats, uint16 for the 10-bit ones."""
    h, w = y.shape
    frame = av.VideoFrame(w, h, pix_fmt)
    dtype = np.dtype(np.uint16 if pix_fmt.endswith("10le") else np.uint8)
    for plane, arr in zip(frame.planes, (y, cb, cr)):
        if arr.dtype != dtype or arr.shape != (plane.height, plane.width):
            raise ValueError(
                f"plane of shape {arr.shape} {arr.dtype} does not fit {pix_fmt} {w}x{h}: "
                f"expected {(plane.height, plane.width)} {dtype}"
            )
        dst = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // dtype.itemsize)
        dst[:, : plane.width] = arr
    frame.color_range = _RANGE_CODE[color_range]
    frame.colorspace = _BT709
    frame.color_primaries = _BT709
    frame.color_trc = _BT709
    return frame


def _format_for(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def writable_suffix(source: MediaSource, suffix: str) -> str | None:
    """The output extension for a film read from a file with `suffix`: that one when vidcolor writes its
    container and the container can hold every kept stream and the rotation, else the first fallback that can
    (None: none)."""
    fmt = FORMATS.get(suffix.lower())
    if fmt and _holds(fmt, source):
        return suffix
    return next((ext for ext, fallback in FALLBACK_CONTAINERS if _holds(fallback, source)), None)


def _holds(format_name: str, source: MediaSource) -> bool:
    """True when the muxer `format_name` can keep every kept stream of the source and its rotation."""
    return keeps_rotation(format_name, source) and all(container_accepts(format_name, s) for s in source.kept_streams)


def keeps_rotation(format_name: str, source: MediaSource) -> bool:
    """True when the muxer `format_name` can store the source video's display matrix (or it has none to keep)."""
    matrix = source.video.display_matrix
    return matrix is None or tuple(matrix) == _IDENTITY_MATRIX or format_name in _KEEP_DISPLAY_MATRIX


def container_accepts(format_name: str, stream: av.stream.Stream, sample: av.Packet | None = None) -> bool:
    """True when the muxer `format_name` can store `stream`'s codec as it is (no re-encode).

    With `sample` (a real packet of that stream) a whole tiny file is written and finished, which also
    catches muxers that accept a stream's header but refuse it when writing the index (PCM in MP4).
    """
    try:
        with av.open(io.BytesIO(), "w", format=format_name) as probe:
            o = probe.add_stream_from_template(stream)
            if sample is not None:
                pk = av.Packet(bytes(sample))
                pk.pts = pk.dts = 0
                pk.duration = sample.duration
                pk.time_base = sample.time_base or stream.time_base
                pk.stream = o
                probe.mux(pk)
    except (ValueError, av.error.FFmpegError):
        return False
    return True


def first_packets(path: str | os.PathLike, stream_indices: list[int], max_packets: int = 2000) -> dict[int, av.Packet]:
    """The first non-empty packet of each given stream, looking at most `max_packets` packets in."""
    found: dict[int, av.Packet] = {}
    if not stream_indices:
        return found
    try:
        with av.open(str(path), "r", metadata_errors="replace") as c:
            for n, packet in enumerate(c.demux([c.streams[i] for i in stream_indices])):
                if packet.size and packet.stream_index not in found:
                    found[packet.stream_index] = packet
                if len(found) == len(stream_indices) or n >= max_packets:
                    break
    except (av.error.FFmpegError, OSError):
        pass
    return found


def _describe(stream: av.stream.Stream) -> str:
    name = stream.codec_context.name if stream.codec_context else "unknown codec"
    return f"stream #{stream.index} ({stream.type}, {name})"


class MediaSink:
    """Output file for one source: libx264 video plus copied streams, renamed into place on commit()."""

    def __init__(
        self,
        final_path: str | os.PathLike,
        source: MediaSource,
        *,
        crf: int = 18,
        preset: str = "medium",
        threads: int = 0,
        bit_depth: int = 8,
    ) -> None:
        """Check everything up front, then open the temp file beside final_path and write the header. `bit_depth`
        10 writes H.264 High 10 (yuv420p10le), whose planes write_frame then takes as uint16."""
        self.final_path = Path(final_path)
        self.source = source
        self.frames_written = 0
        self.pts_adjusted = 0
        # per copied stream (source index): packets given to the muxer, and those it refused (damaged)
        self._packets_offered: dict[int, int] = {}
        self._packets_refused: dict[int, int] = {}
        self._committed = False
        self._closed = False
        self._last_pts: int | None = None
        self._tmp: Path | None = None
        self._out: av.container.OutputContainer | None = None

        final = self.final_path
        if name_too_long(final):
            raise MediaError(f"cannot write {final.name}: the name is longer than its file system allows; "
                             "give a shorter output name")
        if final.is_dir():
            raise MediaError(f"cannot write {final}: it is a directory")
        if not final.parent.is_dir():
            why = "is a file, not a folder" if final.parent.exists() else "does not exist"
            raise MediaError(f"cannot write {final}: {final.parent} {why}")
        fmt = _format_for(final)
        if fmt is None:
            raise MediaError(
                f"cannot write {final.name}: unknown output format {final.suffix or '(no extension)'!r}; "
                "use .mp4, .mkv, .mov or .avi"
            )
        if not 0 <= crf <= 51:
            raise MediaError(f"crf must be between 0 and 51, got {crf}")
        self._check_streams(fmt)

        info = source.video
        self.width, self.height = info.width, info.height
        self.pix_fmt = output_pix_fmt(info.width, info.height, bit_depth)
        self.color_range = info.color_range
        self.in_time_base = info.time_base
        remove_stale_temp_files(final)
        try:
            fd, tmp = tempfile.mkstemp(prefix=temp_prefix(final), suffix=final.suffix,
                                       dir=final.parent)
        except OSError as e:
            raise MediaError(f"cannot write {final}: {(e.strerror or str(e)).lower()} in {final.parent}") from None
        os.close(fd)
        self._tmp = Path(tmp)
        try:
            self._out = av.open(str(self._tmp), "w", format=fmt)
            self._setup(fmt, crf, preset, threads)
            self._out.start_encoding()
        except BaseException as e:
            self.abort()
            if isinstance(e, (av.error.FFmpegError, ValueError, OSError)):
                raise MediaError(f"cannot write {final.name}: {getattr(e, 'strerror', None) or e}") from None
            raise

    # ---------------------------------------------------------------- setup
    def _check_streams(self, fmt: str) -> None:
        """Refuse, before any work, an output container that cannot hold a kept stream or keep the rotation."""
        source = self.source
        samples = first_packets(source.path, [s.index for s in source.kept_streams])
        for s in source.kept_streams:
            if container_accepts(fmt, s, samples.get(s.index)):
                continue
            better = [ext for ext, f in _SUGGEST if f != fmt and container_accepts(f, s, samples.get(s.index))]
            hint = f"; use -o {self._other_name(better[0])}" if better else ""
            raise MediaError(
                f"{self.final_path.suffix} files cannot hold {_describe(s)} of {source.path.name}{hint}"
            )
        if not keeps_rotation(fmt, source):
            better = [ext for ext, f in _SUGGEST if keeps_rotation(f, source)
                      and all(container_accepts(f, s, samples.get(s.index)) for s in source.kept_streams)]
            hint = f"; use -o {self._other_name(better[0])}" if better else ""
            what = (f"rotation ({source.video.rotation_degrees} degrees)" if source.video.rotation_degrees
                    else "display matrix (a flip)")
            raise MediaError(f"{self.final_path.suffix} files cannot keep the {what} of {source.path.name}{hint}")

    def _other_name(self, suffix: str) -> str:
        """The output's name with another container's suffix, for a hint: never the input's own name."""
        name = self.final_path.with_suffix(suffix)
        if name.resolve() == self.source.path.resolve():
            name = self.final_path.with_name(f"{self.final_path.stem}.color{suffix}")
        return name.name

    def _setup(self, fmt: str, crf: int, preset: str, threads: int) -> None:
        out = self._out
        info = self.source.video
        src_vs = self.source.video_stream
        # AVI stores one frame per time-base tick: give it the frame rate as its time base.
        if fmt == "avi" and info.average_rate:
            self.out_time_base = Fraction(1, 1) / info.average_rate
        else:
            self.out_time_base = info.time_base
        vs = out.add_stream("libx264")
        ctx = vs.codec_context
        ctx.width, ctx.height = self.width, self.height
        ctx.pix_fmt = self.pix_fmt
        ctx.time_base = self.out_time_base
        vs.time_base = self.out_time_base
        if info.average_rate:
            ctx.framerate = info.average_rate
        ctx.sample_aspect_ratio = info.sample_aspect_ratio
        ctx.color_range = _RANGE_CODE[self.color_range]
        ctx.colorspace = _BT709
        ctx.color_primaries = _BT709
        ctx.color_trc = _BT709
        ctx.thread_count = threads
        ctx.options = {"crf": str(crf), "preset": preset}
        if info.field_order != "progressive":
            # Interlaced in, interlaced out: the Y plane is the source's own fields, and players deinterlace
            # only what is flagged so (as progressive, a DV or broadcast tape shows combs on every motion).
            ctx.options["x264-params"] = f"{info.field_order}=1"
            ctx.field_order = _FIELD_ORDER_CODE[info.field_order]
        if fmt == "avi":
            # AVI stores no presentation times, only each frame's slot: with B-frames every frame landed in its
            # decode-order slot, shifted by the reorder delay (OpenCV's tree.avi, 15 fps with dropped frames:
            # frames up to 5 slots, 0.33 s, late).
            ctx.options["bf"] = "0"
        if info.display_matrix is not None:
            vs.set_display_matrix(info.display_matrix)
        for k, v in src_vs.metadata.items():
            if k.lower() in _STREAM_KEYS:  # Matroska's tags read back upper-case (TIMECODE)
                vs.metadata[k.lower()] = v
        self._video = vs
        self._avi = fmt == "avi"
        self._lift: dict[int, int] = {}  # AVI: source stream index -> ticks added to its timestamps (see _lift_start)
        self._map: dict[int, av.stream.Stream] = {}
        self._fill_durations = fmt in _SAMPLE_DURATION_FORMATS
        self._held: dict[int, tuple[av.Packet, av.stream.Stream]] = {}  # source index -> packet awaiting its duration
        self._last_duration: dict[int, int] = {}  # source index -> duration of its last packet, in its time base
        for s in self.source.kept_streams:
            o = out.add_stream_from_template(s)
            for k, v in s.metadata.items():
                if k.lower() in _STREAM_KEYS:
                    o.metadata[k.lower()] = v
            o.disposition = s.disposition
            self._map[s.index] = o
        self._copy_attachments(fmt)
        for k, v in self.source.metadata.items():
            if k.lower() not in _MUXER_KEYS:
                out.metadata[k] = v
        if self.source.chapters:
            out.set_chapters(self.source.chapters)

    def _copy_attachments(self, fmt: str) -> None:
        """Matroska attachments (the fonts of styled subtitles, notes) into a Matroska output; what cannot go
        into this output (attachments elsewhere, cover art) is said, not dropped in silence."""
        source = self.source
        if fmt == "matroska":
            for a in source.attachments:
                self._out.add_attachment(a.name or "attachment", a.mimetype or "application/octet-stream",
                                         bytes(a.data))
        elif source.attachments:
            names = ", ".join(a.name or "unnamed" for a in source.attachments)
            log.warning("%s: its %d attachment(s) (%s) are not copied: only .mkv files hold attachments; use -o %s",
                        source.path.name, len(source.attachments), names, self._other_name(".mkv"))
        if source.cover_art:
            log.warning("%s: its cover art is not copied", source.path.name)

    # ---------------------------------------------------------------- writing
    @property
    def chroma_shape(self) -> tuple[int, int]:
        """(h, w) of the Cb/Cr planes write_frame expects."""
        return chroma_shape_for(self.width, self.height)

    @property
    def temp_path(self) -> Path | None:
        """The file being written (None once committed or aborted)."""
        return self._tmp

    def _mux(self, packets) -> None:
        try:
            self._out.mux(packets)
        except (av.error.FFmpegError, OSError) as e:  # e.g. ENOSPC: the disk is full
            raise self._write_failed(e) from None

    def _write_failed(self, error: Exception) -> MediaError:
        """The one-line error for a write to the output that failed."""
        return MediaError(f"writing {self.final_path.name} failed: {getattr(error, 'strerror', None) or error}")

    @property
    def dropped_packets(self) -> int:
        """Damaged packets of copied streams that the muxer refused."""
        return sum(self._packets_refused.values())

    def _check_refused_share(self) -> None:
        """A stream the muxer refused mostly is not damaged here and there but unwritable: fail, do not lose it."""
        streams = {s.index: s for s in self.source.kept_streams}
        for index, refused in self._packets_refused.items():
            offered = self._packets_offered[index]
            if refused > MAX_REFUSED_PACKET_SHARE * offered:
                advice = ("the stream is too damaged to copy" if self._out.format.name == "matroska"
                          else f"use -o {self._other_name('.mkv')}")
                raise InputError(f"the {self._out.format.name} muxer refused {refused} of the {offered} packets of "
                                 f"{_describe(streams[index])} in {self.source.path.name}; {advice}")

    def _drop(self, packet: av.Packet, source_stream: av.stream.Stream, error: av.error.FFmpegError) -> None:
        """Count a copied packet the muxer refused; the first one of a film is also reported (one line)."""
        index = source_stream.index
        self._packets_refused[index] = self._packets_refused.get(index, 0) + 1
        if self.dropped_packets > 1:
            return
        tb = packet.time_base or source_stream.time_base  # mux may have rebased the packet to the output's
        at = f" at {float(packet.pts * tb):.2f} s" if packet.pts is not None and tb else ""
        log.warning("%s: dropped a damaged packet of %s%s that the %s muxer refuses (%s); the film is written "
                    "without it, and any more are counted in the summary", self.source.path.name,
                    _describe(source_stream), at, self._out.format.name, error.strerror or error)

    def write_frame(self, y: np.ndarray, cb: np.ndarray, cr: np.ndarray, pts: int) -> None:
        """Encode one frame made of the given planes, at `pts` in the source's time base."""
        if self._closed:
            raise RuntimeError("MediaSink is closed")
        frame = build_frame(y, cb, cr, pix_fmt=self.pix_fmt, color_range=self.color_range)
        if self.out_time_base != self.in_time_base:
            pts = int(round(pts * self.in_time_base / self.out_time_base))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # the encoder refuses non-increasing timestamps
            self.pts_adjusted += 1
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = self.out_time_base
        try:
            packets = self._video.encode(frame)
        except av.error.FFmpegError as e:
            raise MediaError(f"encoding {self.final_path.name} failed: {e.strerror or e}") from None
        self._mux(packets)
        self.frames_written += 1

    def write_packet(self, packet: av.Packet) -> None:
        """Mux a packet of a kept stream unchanged (same bytes, same timestamps)."""
        if self._closed:
            raise RuntimeError("MediaSink is closed")
        o = self._map.get(packet.stream_index)
        if o is None or (packet.dts is None and packet.size == 0):
            return
        if packet.size == 2 and o.type == "subtitle" and o.codec_context.name == "mov_text" and bytes(packet) == b"\0\0":
            return  # an empty mov_text sample is a gap filler: the mp4/mov muxer writes its own
        source_stream = packet.stream
        if self._avi:
            self._lift_start(packet)
        if self._fill_durations and o.type == "audio":
            index = source_stream.index
            held = self._held.pop(index, None)
            if held is not None:
                before = held[0]
                if before.dts is not None and packet.dts is not None and packet.dts > before.dts:
                    before.duration = packet.dts - before.dts
                    self._last_duration[index] = before.duration
                self._copy(*held)
            if not packet.duration:
                self._held[index] = (packet, source_stream)
                return
            self._last_duration[index] = packet.duration
        self._copy(packet, source_stream)

    def _copy(self, packet: av.Packet, source_stream: av.stream.Stream) -> None:
        """Mux a packet of a kept stream; one the muxer refuses as damaged is dropped and counted."""
        packet.stream = self._map[source_stream.index]
        index = source_stream.index
        self._packets_offered[index] = self._packets_offered.get(index, 0) + 1
        try:
            self._out.mux(packet)
        except _REFUSED_PACKET_ERRORS as e:  # this packet's data, not the file: see _REFUSED_PACKET_ERRORS
            self._drop(packet, source_stream, e)
        except (av.error.FFmpegError, OSError) as e:
            raise self._write_failed(e) from None

    def _release_held(self) -> None:
        """Mux the packets still waiting for their duration (each stream's last): as long as the one before."""
        for index, (packet, source_stream) in sorted(self._held.items()):
            packet.duration = self._last_duration.get(index, 0)
            self._copy(packet, source_stream)
        self._held.clear()

    def _lift_start(self, packet: av.Packet) -> None:
        """AVI: move a copied stream that starts below 0 up to start at 0 (timestamps + a constant).

        MP4/MOV/MKV AAC starts one priming frame early (-1024 samples, trimmed by an edit list). Given a negative
        timestamp, the muxer shifts every stream up by it, rounded up to each one's time base: the video by a
        whole slot (1/24 s for 21 ms), so every frame after the first landed one slot late and out of sync.
        AVI stores no audio times (its first packet plays at 0 whatever its timestamp), so moving only that
        stream changes nothing in it, and the video keeps its slots.
        """
        index = packet.stream_index
        lift = self._lift.get(index)
        if lift is None:
            first = [t for t in (packet.pts, packet.dts) if t is not None]
            if not first:
                return
            lift = self._lift[index] = max(0, -min(first))
        if lift:
            if packet.pts is not None:
                packet.pts += lift
            if packet.dts is not None:
                packet.dts += lift

    def write(self, item) -> None:
        """write_packet for packets; LumaFrames cannot be written here (they need chroma)."""
        if isinstance(item, av.Packet):
            self.write_packet(item)
        else:
            raise TypeError("use write_frame(y, cb, cr, pts) for video frames")

    # ---------------------------------------------------------------- finishing
    def commit(self) -> Path:
        """Flush the encoder, finish the file and rename it to final_path; returns final_path."""
        if self._committed:
            return self.final_path
        if self._closed:
            raise RuntimeError("MediaSink was aborted")
        try:
            if self.frames_written == 0:
                raise InputError(f"nothing was written to {self.final_path.name}: no video frame")
            self._release_held()
            self._check_refused_share()
            try:
                packets = self._video.encode(None)
            except av.error.FFmpegError as e:
                raise MediaError(f"encoding {self.final_path.name} failed: {e.strerror or e}") from None
            self._mux(packets)
            try:
                out, self._out = self._out, None
                out.close()
            except av.error.FFmpegError as e:
                raise MediaError(f"finishing {self.final_path.name} failed: {e.strerror or e}") from None
            self._closed = True
            os.chmod(self._tmp, NEW_FILE_MODE & ~current_umask())  # mkstemp made it 0600
            os.replace(self._tmp, self.final_path)
        except BaseException:
            self.abort()
            raise
        self._tmp = None
        self._committed = True
        return self.final_path

    def abort(self) -> None:
        """Drop everything written so far: close and delete the temp file (final_path is untouched)."""
        self._closed = True
        if self._out is not None:
            try:
                self._out.close()
            except Exception:  # noqa: BLE001 - the file is being thrown away
                pass
            self._out = None
        if self._tmp is not None:
            try:
                self._tmp.unlink()
            except FileNotFoundError:
                pass
            self._tmp = None

    def __enter__(self) -> MediaSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self._committed:
            self.abort()
