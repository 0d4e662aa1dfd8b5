"""The colour path's ceiling: a stand-in for the model that hands out the frames' true chroma.

Run through `colorize_video` in place of a `Colorizer`, it shows what the pipeline after the model
(smoothing, Lab -> RGB, Cb/Cr planes, x264, muxing) keeps of perfect colours: the most any model can score.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext

import cv2
import numpy as np

from ..model.colorizer import working_size


def true_ab(frames: Iterable[np.ndarray], short_side_px: int) -> list[np.ndarray]:
    """Each sRGB uint8 frame's CIELAB ab, averaged down to the pipeline's working size."""
    res = []
    for rgb in frames:
        h, w = working_size(rgb.shape[0], rgb.shape[1], short_side_px)
        lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        res.append(cv2.resize(lab[..., 1:], (w, h), interpolation=cv2.INTER_AREA))
    return res


class TrueChromaColorizer:
    """Stands in for `Colorizer` in `colorize_video`: the given ab of each frame, in decoding order.

    `sign` -1 paints the opposite hues (a check that a fidelity measurement can fail).
    """

    model_id = "true-chroma"

    def __init__(self, ab: list[np.ndarray], sign: float = 1.0):
        self.ab = ab
        self.sign = sign
        self.next_frame = 0
        self.global_calls = 0

    def plan_batch_size(self, height: int, width: int, requested: int) -> int:
        return requested

    def calls_in_flight(self, requested: int = 0) -> int:
        return 1  # hands out the frames in call order

    def threads_shared_by(self, calls: int) -> nullcontext:
        return nullcontext()

    def scene_features(self, grays: list[np.ndarray]) -> np.ndarray:
        return np.zeros((1, 1), np.float32)

    def frame_features(self, grays: list[np.ndarray]) -> np.ndarray:
        return np.zeros((len(grays), 1), np.float32)

    def predict_ab(self, gray: np.ndarray, vecs, temperature: float | None = None) -> np.ndarray:
        batch = self.ab[self.next_frame:self.next_frame + len(gray)]
        if len(batch) != len(gray) or any(ab.shape[:2] != g.shape for ab, g in zip(batch, gray)):
            raise ValueError("the true chroma does not match the frames asked for (another clip or size?)")
        self.next_frame += len(gray)
        return self.sign * np.stack(batch)
