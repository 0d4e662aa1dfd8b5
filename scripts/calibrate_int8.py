"""Store an int8 calibration in a checkpoint: `python scripts/calibrate_int8.py MODEL DATA... [-o OUT]`.

The activation ranges are measured on training photos (never the held-out set) at the presets' working
resolutions; weights are unchanged, so the model id stays the same. See vidcolor/model/int8.py.
`vidcolor train` does this itself at the end of a run; this script is for checkpoints made before that.
"""

from __future__ import annotations

import argparse
import time

from vidcolor.model.checkpoint import load_checkpoint, save_checkpoint
from vidcolor.training.calibrate import calibration_ranges
from vidcolor.training.data import load_training_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="checkpoint to calibrate")
    parser.add_argument("data", nargs="+", help="folders of colour training photos")
    parser.add_argument("-o", "--output", help="where to write (default: rewrite MODEL in place, atomically)")
    parser.add_argument("--images", type=int, default=160, help="photos to calibrate on")
    args = parser.parse_args()
    start = time.monotonic()
    ckpt = load_checkpoint(args.model)
    ranges = calibration_ranges(ckpt.net, load_training_images(args.data), image_count=args.images)
    name = ckpt.model_id.rsplit("-", 1)[0]
    training = {**ckpt.training, "int8_calibration": {"images": args.images, "data": args.data}}
    model_id = save_checkpoint(args.output or args.model, ckpt.net, ckpt.bins, name=name, training=training,
                               half_precision=True, int8_ranges=ranges)
    print(f"calibrated {len(ranges)} activations on {args.images} photos in {time.monotonic() - start:.0f} s; "
          f"wrote {args.output or args.model} ({model_id})")


if __name__ == "__main__":
    main()
