"""Cut detection on small luma thumbnails, robust to fades and flashes.

Each frame's thumbnail is normalized to zero mean and unit contrast before it is compared, so a fade
(brightness and contrast moving together) or a flash (a global brightness jump) changes little, while
a cut changes both the histogram of the normalized image and its layout.
"""

from __future__ import annotations

import cv2
import numpy as np

THUMB_SIZE_PX = (64, 36)  # (w, h)
HIST_BINS = 32
MIN_CONTRAST = 4.0  # code values; below this a frame is "flat" (black, white) and never starts a cut


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """Small float32 thumbnail of a gray frame."""
    return cv2.resize(gray, THUMB_SIZE_PX, interpolation=cv2.INTER_AREA).astype(np.float32)


class CutDetector:
    """Feed thumbnails in order; `is_cut` says whether a new shot starts at this frame."""

    def __init__(self, threshold: float = 0.25, min_shot_frames: int = 6):
        self.threshold = threshold
        self.min_shot_frames = min_shot_frames
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._since_cut = 0
        self.last_score = 0.0

    @staticmethod
    def _signature(thumb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        std = float(thumb.std())
        if std < MIN_CONTRAST:
            return None
        norm = (thumb - float(thumb.mean())) / std
        hist, _ = np.histogram(np.clip(norm, -3, 3), bins=HIST_BINS, range=(-3, 3))
        layout = cv2.resize(norm, (16, 9), interpolation=cv2.INTER_AREA)
        return hist.astype(np.float32) / norm.size, layout

    def is_cut(self, thumb: np.ndarray) -> bool:
        sig = self._signature(thumb)
        self._since_cut += 1
        if sig is None:  # flat frames (fade to black, flash to white) never cut; keep the last real frame
            self.last_score = 0.0
            return False
        if self._prev is None:
            self._prev = sig
            return False
        hist_dist = 0.5 * float(np.abs(sig[0] - self._prev[0]).sum())  # total variation, 0..1
        layout_dist = float(np.abs(sig[1] - self._prev[1]).mean()) / 2.0  # ~0..1
        self.last_score = 0.5 * hist_dist + 0.5 * min(layout_dist, 1.0)
        self._prev = sig
        if self.last_score > self.threshold and self._since_cut >= self.min_shot_frames:
            self._since_cut = 0
            return True
        return False
