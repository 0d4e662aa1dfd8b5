"""Batches too large for the GPU, for real (issue 8): they must be halved until they fit, no frame skipped.

Two cases on a CUDA device, with the shipped model at the default working size (192x336):
1. a batch of 5999 frames, which fits in an 80 GB GPU's memory but makes a tensor of more than INT_MAX
   elements that the bilinear upsampling kernel refuses;
2. a batch of 3000 frames with all but 3 GiB of the GPU taken by another allocation (a real
   out-of-memory error).
Each prints how long it took, how many frames came back, how often the batch was halved, and how far the
frames' ab are from the same frames predicted in a batch of 8 (bf16 kernels differ with the batch size).

    python benchmarks/oom_check.py          # needs a CUDA GPU
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WORK_HW = (192, 336)
INT_MAX_BATCH = 5999
OOM_BATCH = 3000
OOM_FREE_BYTES = 3 * 2**30


def check(colorizer, frames: int, label: str, distinct: np.ndarray) -> None:
    """predict_ab on `frames` frames made of `distinct` repeated; print what came back."""
    gray = np.repeat(distinct, frames // len(distinct) + 1, axis=0)[:frames]
    vec = colorizer.global_features(distinct[0])
    t = time.perf_counter()
    ab = colorizer.predict_ab(gray, vec)
    took = time.perf_counter() - t
    ref = colorizer.predict_ab(distinct, vec)
    diffs = [np.abs(ab[i] - ref[i % len(distinct)]) for i in range(0, frames, max(1, frames // 97))]
    print(f"{label}: predict_ab({frames} frames) {took:.1f} s -> {ab.shape[0]} frames "
          f"(all: {ab.shape[0] == frames}), halvings {colorizer.oom_splits}, batches now at most "
          f"{colorizer.max_batch}; |ab - the same frame in a batch of {len(distinct)}| max "
          f"{max(float(d.max()) for d in diffs):.3f}, mean {np.mean([d.mean() for d in diffs]):.4f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=REPO / "models" / "vidcolor-base.pt")
    args = p.parse_args()
    sys.path.insert(0, str(REPO))
    import torch

    from vidcolor.model.colorizer import Colorizer

    if not torch.cuda.is_available():
        sys.exit("oom_check needs a CUDA GPU")
    h, w = WORK_HW
    distinct = (np.random.default_rng(0).random((8, h, w)) * 255).astype(np.uint8)
    first = Colorizer(args.model, device="cuda")
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}; "
          f"{first._cuda_bytes_per_frame(h, w) / 2**20:.2f} MiB per frame at {h}x{w}", flush=True)
    check(first, INT_MAX_BATCH, "(1) a batch over INT_MAX elements", distinct)
    del first
    torch.cuda.empty_cache()  # hand the allocator's cache back, so the ballast really leaves OOM_FREE_BYTES

    second = Colorizer(args.model, device="cuda")
    free, _total = torch.cuda.mem_get_info()
    ballast = torch.empty(free - OOM_FREE_BYTES, dtype=torch.uint8, device="cuda")
    print(f"another allocation of {ballast.numel() / 2**30:.1f} GiB leaves "
          f"{torch.cuda.mem_get_info()[0] / 2**30:.2f} GiB free", flush=True)
    check(second, OOM_BATCH, "(2) a real out-of-memory error", distinct)


if __name__ == "__main__":
    main()
