"""Int8 calibration: measure the colour net's activation ranges on training photos (model/int8.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import cv2
import numpy as np
import torch

from ..model.checkpoint import load_checkpoint
from ..model.colorizer import Colorizer, fold_batch_norms, working_size
from ..model.color import gray_to_lightness
from ..model.int8 import calibrate
from .data import BT709_LUMA, TrainingImage

CALIBRATION_SHORT_SIDES_PX = (192, 256)  # working sides the ranges are measured at: the default and the earlier default


def _gray(rgb: np.ndarray) -> np.ndarray:
    luma = rgb.astype(np.float32) @ np.asarray(BT709_LUMA, np.float32)
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)


def calibration_ranges(checkpoint: str | os.PathLike, images: list[TrainingImage], image_count: int = 160,
                       short_sides_px: tuple[int, ...] = CALIBRATION_SHORT_SIDES_PX) -> dict[str, list[float]]:
    """Activation ranges of `checkpoint`'s net over `image_count` of `images` (spread evenly), each seen
    whole at every working resolution in `short_sides_px`, with its own global vector as the pipeline
    computes it."""
    colorizer = Colorizer(checkpoint, device="cpu", precision="fp32")
    chosen = images[:: max(1, len(images) // image_count)][:image_count]

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        for image in chosen:
            gray = _gray(image.rgb)
            vec = colorizer.global_features(gray) if colorizer.uses_global else None
            for short_side in short_sides_px:
                h, w = working_size(*gray.shape, short_side)
                work = cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA)
                lightness = gray_to_lightness(torch.from_numpy(work).float() / 255.0)[None, None]
                yield lightness, vec

    return calibrate(fold_batch_norms(load_checkpoint(checkpoint).net), batches())
