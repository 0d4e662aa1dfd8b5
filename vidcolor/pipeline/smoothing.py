"""Temporal smoothing of predicted chroma along optical flow, with occlusion handling.

The previous frame's smoothed ab is warped into the current frame with dense flow computed on the
working-resolution luma (OpenCV DIS). Where the warp is trustworthy (the warped luma matches the
current luma and the flow stays inside the frame) the result blends the warped history with the new
prediction: an exponential filter that follows motion. Elsewhere (occlusions, new content) the new
prediction is taken as is, so moving objects do not drag colour ghosts. Reset at every cut.
"""

from __future__ import annotations

import cv2
import numpy as np

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
OCCLUSION_LUMA_DIFF = 12.0  # gray code values: warped luma farther than this from the current is occluded
# DIS sizes its pyramid by the long side: on a strip (640x16) a coarse level has no rows and OpenCV fails.
# Flow of such a frame is computed on it padded (edge pixels repeated) to at most this long:short ratio.
MAX_FLOW_ASPECT = 8
_ERODE_KERNEL = np.ones((3, 3), np.uint8)


class FlowSmoother:
    """Stateful smoother: call `smooth(gray, ab)` per frame in order, `reset()` at a cut."""

    def __init__(self, strength: float = 0.7, flow_preset: str = "fast"):
        self.strength = strength
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[flow_preset])
        self._prev_gray: np.ndarray | None = None
        self._prev_ab: np.ndarray | None = None
        self._grid: tuple[np.ndarray, np.ndarray] | None = None  # pixel coordinates, built once per size
        self.last_valid_fraction = 0.0

    def reset(self) -> None:
        self._prev_gray = None
        self._prev_ab = None

    def _pixel_grid(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        if self._grid is None or self._grid[0].shape != (h, w):
            self._grid = tuple(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
        return self._grid

    def _flow(self, gray: np.ndarray, prev_gray: np.ndarray) -> np.ndarray:
        """Dense flow from `gray` to `prev_gray` (H,W,2), for frames of any shape."""
        h, w = gray.shape
        pad_y = max(0, -(-w // MAX_FLOW_ASPECT) - h)
        pad_x = max(0, -(-h // MAX_FLOW_ASPECT) - w)
        if not pad_x and not pad_y:
            return self._dis.calc(gray, prev_gray, None)
        pads = (0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
        flow = self._dis.calc(cv2.copyMakeBorder(gray, *pads), cv2.copyMakeBorder(prev_gray, *pads), None)
        return np.ascontiguousarray(flow[:h, :w])

    def smooth(self, gray: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """gray (H,W) uint8 and predicted ab (H,W,2) float32 at the same size -> smoothed ab."""
        if self.strength <= 0:
            return ab
        if self._prev_gray is None or self._prev_gray.shape != gray.shape:
            out = np.asarray(ab, dtype=np.float32)
        else:
            # Flow from the current frame to the previous one: where each current pixel came from.
            flow = self._flow(gray, self._prev_gray)
            h, w = gray.shape
            grid_x, grid_y = self._pixel_grid(h, w)
            map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
            warped_ab = cv2.remap(self._prev_ab, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            warped_gray = cv2.remap(self._prev_gray, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
            match = cv2.absdiff(warped_gray, gray) < OCCLUSION_LUMA_DIFF
            valid = cv2.erode((inside & match).view(np.uint8), _ERODE_KERNEL)
            # Soften the mask edge so the blend does not draw a seam.
            weight = cv2.blur(valid.astype(np.float32), (5, 5))
            weight *= self.strength
            self.last_valid_fraction = float(valid.mean())
            # warped * w + ab * (1 - w), as ab + (warped - ab) * w
            out = warped_ab - ab
            out *= weight[..., None]
            out += ab
        self._prev_gray = gray
        self._prev_ab = out
        return out
