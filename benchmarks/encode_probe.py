"""Where the encode thread's time goes, alone and inside `colorize_video` (issue 8, end to end / slowest).

For each size, on bench_pipeline's 20 s clip: the frames are decoded, colorized and composed once, then
encoded alone twice; then the whole pipeline runs twice. Each run prints when the first and the last frame
reached the encoder, and how its `write_frame` time splits into building the frame, muxing packets and
the encoder call itself (libx264 working, or waiting for a free frame thread).

    python benchmarks/encode_probe.py --sizes 1080,720
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class EncodeClock:
    """Wraps MediaSink.write_frame, sink.build_frame and MediaSink._mux with timers."""

    def __init__(self) -> None:
        from vidcolor.media import MediaSink
        from vidcolor.media import sink as sink_module

        self.reset()
        write, build, mux = MediaSink.write_frame, sink_module.build_frame, MediaSink._mux

        def timed_write(sink, *a, **k):
            t = time.perf_counter()
            self.first = self.first or t
            write(sink, *a, **k)
            self.last = time.perf_counter()
            self.write_s += self.last - t
            self.frames += 1

        def timed_build(*a, **k):
            t = time.perf_counter()
            frame = build(*a, **k)
            self.build_s += time.perf_counter() - t
            return frame

        def timed_mux(sink, *a, **k):
            t = time.perf_counter()
            mux(sink, *a, **k)
            self.mux_s += time.perf_counter() - t

        MediaSink.write_frame, sink_module.build_frame, MediaSink._mux = timed_write, timed_build, timed_mux

    def reset(self) -> None:
        self.write_s = self.build_s = self.mux_s = self.first = self.last = 0.0
        self.frames = 0

    def report(self, label: str, started: float, wall_s: float) -> None:
        encode_s = self.write_s - self.build_s - self.mux_s
        print(f"{label}: wall {wall_s:.2f} s; frames reach the encoder from {self.first - started:.2f} s to "
              f"{self.last - started:.2f} s; write_frame {self.write_s:.2f} s = build {self.build_s:.2f} + mux "
              f"{self.mux_s:.2f} + encoder call {encode_s:.2f} ({1000 * self.write_s / self.frames:.2f} ms/frame)",
              flush=True)
        self.reset()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1080,720")
    p.add_argument("--pipeline", default="default")
    p.add_argument("--cache-dir", type=Path, default=None, help="bench_pipeline's clip cache")
    args = p.parse_args()
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_pipeline as bench  # noqa: E402 - also imports vidcolor.model.colorizer first (OpenMP settings)

    from vidcolor.media import LumaFrame, MediaSink, MediaSource, chroma_shape_for
    from vidcolor.model.colorizer import Colorizer
    from vidcolor.pipeline.colorize import (ChromaComposer, ChromaPredictor, FrameDecoder, RunOptions, WorkFrame,
                                            colorize_video, opencv_threads)
    from vidcolor.pipeline.config import load_pipeline_config
    from vidcolor.pipeline.smoothing import FlowSmoother

    config = load_pipeline_config(args.pipeline)
    colorizer = Colorizer(bench.DEFAULT_MODEL, device="auto", temperature=config.temperature)
    clock = EncodeClock()
    out_dir = Path(tempfile.mkdtemp())
    for height in (int(s) for s in args.sizes.split(",")):
        clip = bench.bench_clip(height, args.cache_dir or bench.DEFAULT_CACHE, 20)
        with opencv_threads(config.opencv_threads), MediaSource(clip) as source:
            decoder = FrameDecoder(source, config)
            items = [decoder.prepare(i) if isinstance(i, LumaFrame) else i for i in source.items()]
            frames = [i for i in items if isinstance(i, WorkFrame)]
            batch = colorizer.plan_batch_size(*decoder.work_hw, config.batch_size)
            ChromaPredictor(colorizer, config, True, batch).run(iter(items), bench._ListSink())
            composer = ChromaComposer(FlowSmoother(config.smoothing_strength, config.flow_preset),
                                      chroma_shape_for(source.video.width, source.video.height),
                                      source.video.color_range)
            for f in frames:
                composer.compose(f)
            for _ in range(2):
                started = time.perf_counter()
                with MediaSink(out_dir / f"alone{height}.mp4", source, crf=config.crf, preset=config.x264_preset,
                               threads=config.encode_threads) as sink:
                    for f in frames:
                        sink.write_frame(f.luma.y, f.cb, f.cr, f.luma.pts)
                    sink.commit()
                clock.report(f"{height}p encode alone", started, time.perf_counter() - started)
        del items, frames
        for _ in range(2):
            started = time.perf_counter()
            stats = colorize_video(clip, out_dir / f"e2e{height}.mp4", config, colorizer,
                                   RunOptions(overwrite=True, progress=False))
            clock.report(f"{height}p end to end", started, stats.seconds)


if __name__ == "__main__":
    main()
