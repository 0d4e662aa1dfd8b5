"""Frame numbers and display times of a video stream, from its packets' timestamps alone (nothing decoded)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from pathlib import Path

import av

from vidcolor.media.container import open_container

# Frames a decoder may hold back to put them in display order (H.264 and HEVC allow 16): the margin by which a
# frame's place in decode order and in display order can differ, for finding frame numbers from packets.
REORDER_FRAMES_MAX = 32
# The true end of a stream is found by demuxing to the end of the file from this far before its declared end
# (MPEG-PS and -TS declare a length estimated from the bitrate; a truncated file declares more than it holds).
END_SCAN_SECONDS = 10.0


class _Unindexed(Exception):
    """The container's index does not match its packets: count frames by demuxing from the start instead."""


class FrameTimeline:
    """Frame numbers and display times of one video stream, from its packets' timestamps: nothing is decoded.

    A frame's number is its place in display order, counted from 0, as `run` numbers the frames it decodes.
    Packets come in decode order, and a frame's place there differs from its place in display order by at most
    REORDER_FRAMES_MAX, so the sorted timestamps of a run of packets are exact away from its ends. MP4/MOV and
    AVI carry an index of every frame (read with their header): windows of packets are found by seeking, and
    counting costs nothing. Other containers (Matroska, MPEG-PS/TS, ...) are demuxed from the start as far as
    needed, keeping what was read; their end is found by demuxing from shortly before it.
    """

    def __init__(self, path: Path, container: av.container.InputContainer, stream_index: int, slot_timed: bool,
                 frame_ticks: int, declared_end_pts: int | None) -> None:
        """`container`: the film opened (its index is read, nothing else); the timeline reads on containers of
        its own."""
        self.path = path
        self._vindex = stream_index
        self._slot_timed = slot_timed  # AVI: a frame's time is its packet's slot (dts), as _AviSlots gives it
        self._frame_ticks = max(1, frame_ticks)  # nominal frame duration, for a last packet that states none
        self._declared_end = declared_end_pts
        self._keys: list[int] = []  # from the start: times of the frames demuxed so far, in decode order
        self._stop: int | None = None  # the latest time plus duration among those frames
        self._sorted: list[int] = []
        self._complete = False  # the start-to-end demux reached the end
        self._scan: Iterator[av.Packet] | None = None
        self._containers: list[av.container.InputContainer] = []
        self._seeker: av.container.InputContainer | None = None
        self._end: int | None = None
        self._reordered = not slot_timed  # MP4/MOV: dts is not the display time; windows of packets give it
        self._index = self._read_index(container)  # MP4/MOV, AVI: decode-order dts of every frame the file holds

    # ---------------------------------------------------------------- answers
    def pts_of(self, number: int) -> int | None:
        """Display time of frame `number`; None when the stream has fewer frames."""
        if number < 0:
            return None
        if self._index is not None:
            try:
                return self._indexed_pts(number)
            except _Unindexed:
                self._index = None
        self._scan_while(lambda: len(self._keys) < number + 1 + REORDER_FRAMES_MAX)
        keys = self._sorted_keys()
        return keys[number] if number < len(keys) else None

    def number_at(self, pts: int) -> int:
        """Number of the frame shown at `pts`: the last one whose time is at or before it (-1: before the first)."""
        if self._index is not None:
            try:
                return self._indexed_number(pts)
            except _Unindexed:
                self._index = None
        self._scan_while(lambda: not self._keys or self._keys[-1] <= pts)
        while True:
            # The first len - R times in display order are final: once one of them is past `pts`, so is every
            # frame still to be read.
            keys = self._sorted_keys()
            settled = len(keys) - REORDER_FRAMES_MAX
            if self._complete or (settled > 0 and keys[settled - 1] > pts):
                return bisect.bisect_right(keys, pts) - 1
            self._scan_while(lambda n=len(keys): len(self._keys) < n + REORDER_FRAMES_MAX + 1)

    def count(self) -> int:
        """Frames in the stream (every packet counted)."""
        if self._index is not None:
            return len(self._index)
        self._scan_while(lambda: True)
        return len(self._keys)

    def end(self) -> int | None:
        """The time just after the last frame (its time plus its duration); None when no packet can be read."""
        if self._end is None:
            self._end = self._find_end()
        return self._end

    # ---------------------------------------------------------------- indexed containers
    def _read_index(self, c: av.container.InputContainer) -> list[int] | None:
        """Decode-order dts of every frame in an MP4/MOV or AVI index whose bytes lie in the file; None when the
        container has no complete index."""
        vs = c.streams[self._vindex]
        if not (self._slot_timed or c.format.name.startswith("mov,")):
            return None
        entries = vs.index_entries
        if not vs.frames or len(entries) < vs.frames:
            return None
        size = self.path.stat().st_size  # a truncated file: frames past its end are not there
        keys = [e.timestamp for e in entries if e.size > 0 and not e.is_discard and e.pos + e.size <= size]
        if not keys or any(b <= a for a, b in zip(keys, keys[1:])):
            return None
        return keys

    def _window(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """(time, duration) of the frames at decode places lo..hi-1 of an indexed stream, by seeking to the
        keyframe before place lo and demuxing."""
        index = self._index
        c = self._seeker or self._open()
        self._seeker = c
        vs = c.streams[self._vindex]
        got: dict[int, tuple[int, int]] = {}
        try:
            c.seek(index[lo], stream=vs, backward=True)
            for packet in c.demux(vs):
                if not packet.size or packet.is_discard or packet.dts is None:
                    continue
                place = bisect.bisect_left(index, packet.dts)
                if place == len(index) or index[place] != packet.dts:
                    raise _Unindexed
                if place >= hi:
                    break
                if place >= lo:
                    got[place] = (self._key(packet), packet.duration or 0)
        except av.error.FFmpegError:
            raise _Unindexed from None
        if len(got) != hi - lo:
            raise _Unindexed  # the seek landed after place lo, or packets are missing
        return [got[place] for place in range(lo, hi)]

    def _indexed_pts(self, number: int) -> int | None:
        """pts_of for an indexed stream: a window of packets around decode place `number`."""
        index = self._index
        if number >= len(index):
            return None
        if not self._reordered:
            return index[number]
        # Frames before decode place lo are shown before frame `number`, frames from hi on after it.
        lo, hi = max(0, number - 2 * REORDER_FRAMES_MAX), min(len(index), number + 2 * REORDER_FRAMES_MAX + 1)
        return sorted(t for t, _ in self._window(lo, hi))[number - lo]

    def _indexed_number(self, pts: int) -> int:
        """number_at for an indexed stream: a window of packets ending just past the frames decoded by `pts`."""
        index = self._index
        shown = bisect.bisect_right(index, pts)  # dts <= pts: every frame shown by `pts` is among these
        if not self._reordered or shown == 0:
            return shown - 1
        lo, hi = max(0, shown - 4 * REORDER_FRAMES_MAX), min(len(index), shown + REORDER_FRAMES_MAX + 1)
        times = sorted(t for t, _ in self._window(lo, hi))
        number = lo + bisect.bisect_right(times, pts) - 1
        # The window's display order is exact from place lo + R (or 0) to hi - R (or the end).
        settled_from = lo + REORDER_FRAMES_MAX if lo else -1
        settled_to = hi - REORDER_FRAMES_MAX if hi < len(index) else hi + 1
        if settled_from <= number and number + 1 < settled_to:  # it and the frame after it are settled
            return number
        low, high = -1, len(index) - 1  # dts far from pts: bisect on display times, one window each
        while low < high:
            mid = (low + high + 1) // 2
            if self._indexed_pts(mid) <= pts:
                low = mid
            else:
                high = mid - 1
        return low

    # ---------------------------------------------------------------- demuxing from the start
    def _key(self, packet: av.Packet) -> int | None:
        """A frame's display time from its packet (AVI: its slot)."""
        if self._slot_timed or packet.pts is None:
            return packet.dts
        return packet.pts

    def _scan_while(self, more: Callable[[], bool]) -> None:
        """Demux from the start (resuming where the last call stopped) while `more()` and packets remain."""
        if self._complete:
            return
        if self._scan is None:
            c = self._open()
            self._scan = c.demux(c.streams[self._vindex])
        keys = self._keys
        while more():
            try:
                packet = next(self._scan)
            except (StopIteration, av.error.FFmpegError):  # the end, or a damaged tail: what was read is all
                self._complete = True
                return
            if not packet.size or packet.is_discard:
                continue
            key = self._key(packet)
            if key is None:  # no timestamp at all: one frame after the last
                key = keys[-1] + self._frame_ticks if keys else 0
            keys.append(key)
            self._stop = self._stopping(key, packet, self._stop)

    def _stopping(self, key: int, packet: av.Packet, stop: int | None) -> int:
        """The later of `stop` and the end of this packet's frame (its time plus its duration, or a nominal one)."""
        end = key + (packet.duration or self._frame_ticks)
        return end if stop is None else max(stop, end)

    def _sorted_keys(self) -> list[int]:
        """The times demuxed from the start, in display order."""
        if len(self._sorted) != len(self._keys):
            self._sorted = sorted(self._keys)
        return self._sorted

    # ---------------------------------------------------------------- the end
    def _find_end(self) -> int | None:
        """end(): from the index's last window, else the file's tail, else a demux of the whole stream."""
        if self._index is not None:
            try:
                index = self._index
                lo = max(0, len(index) - 2 * REORDER_FRAMES_MAX - 1)
                last, duration = max(self._window(lo, len(index)))
                return last + (duration or self._frame_ticks)
            except _Unindexed:
                self._index = None
        if not self._complete and self._declared_end is not None:
            end = self._tail_end()
            if end is not None:
                return end
        self._scan_while(lambda: True)  # no seeking, or it found nothing: demux the whole stream
        return self._stop

    def _tail_end(self) -> int | None:
        """The end from demuxing the file's tail, from END_SCAN_SECONDS before the declared end; None when that
        seek fails or finds no packet (the declared end lies past a truncated file's)."""
        c = self._open()
        try:
            vs = c.streams[self._vindex]
            ticks = int(END_SCAN_SECONDS / vs.time_base) if vs.time_base else 0
            try:
                c.seek(self._declared_end - ticks, stream=vs, backward=True)
            except av.error.FFmpegError:
                return None
            end = None
            try:
                for packet in c.demux(vs):
                    key = self._key(packet)
                    if not packet.size or packet.is_discard or key is None:
                        continue
                    end = self._stopping(key, packet, end)
            except av.error.FFmpegError:
                pass  # a damaged tail: the packets before it are what can be read
            return end
        finally:
            c.close()
            self._containers.remove(c)

    # ---------------------------------------------------------------- lifetime
    def _open(self) -> av.container.InputContainer:
        """A container of its own on the film, closed with the timeline."""
        c = open_container(self.path)
        self._containers.append(c)
        return c

    def close(self) -> None:
        """Close the containers it opened."""
        for c in self._containers:
            c.close()
        self._containers.clear()
        self._scan = self._seeker = None
