"""Int8 calibration: measure the colour net's activation ranges on training photos (model/int8.py)."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import torch
import torch.nn as nn

from ..model.colorizer import fold_batch_norms, working_size
from ..model.color import gray_to_lightness, photo_luma
from ..model.int8 import calibrate
from .data import TrainingImage, compute_global_vectors

CALIBRATION_SHORT_SIDES_PX = (192, 256)  # working sides the ranges are measured at: the default and the earlier default


def calibration_ranges(net: nn.Module, images: list[TrainingImage], vectors: torch.Tensor | None = None,
                       image_count: int = 160,
                       short_sides_px: tuple[int, ...] = CALIBRATION_SHORT_SIDES_PX) -> dict[str, list[float]]:
    """Activation ranges of `net` (an eager ColorNet; its batch norms are folded here, as for inference)
    over `image_count` of `images` (spread evenly), each seen whole at every working resolution in
    `short_sides_px` with its global vector: `vectors[i]` for `images[i]` (the training loop's cached
    ones), or computed here by the global encoder when not given."""
    picks = list(range(0, len(images), max(1, len(images) // image_count)))[:image_count]
    chosen = [images[i] for i in picks]
    if not net.config.use_global:
        chosen_vectors = None
    elif vectors is None:
        chosen_vectors = compute_global_vectors(chosen, None, torch.device("cpu"))
    else:
        chosen_vectors = vectors[picks].cpu()

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        for k, image in enumerate(chosen):
            gray = photo_luma(image.rgb)
            vec = None if chosen_vectors is None else chosen_vectors[k:k + 1]
            for short_side in short_sides_px:
                h, w = working_size(*gray.shape, short_side)
                work = cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA)
                lightness = gray_to_lightness(torch.from_numpy(work).float() / 255.0)[None, None]
                yield lightness, vec

    return calibrate(fold_batch_norms(net).cpu(), batches())
