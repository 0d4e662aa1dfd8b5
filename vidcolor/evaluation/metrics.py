"""Evaluation metrics: per-image fidelity and vividness, streaming temporal consistency.

Pure numpy / OpenCV / scikit-image (no torch, no PyAV). Images are uint8 RGB arrays of shape HxWx3;
reference luma is a uint8 HxW array. The temporal accumulators keep only the last few frames, so a
video of any length is evaluated in bounded memory.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Literal

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

__all__ = [
    "psnr_rgb",
    "ssim_rgb",
    "colorfulness",
    "rgb_to_luma",
    "rgb_to_ab",
    "js_divergence",
    "consistency_mask",
    "CDCAccumulator",
    "WarpErrorAccumulator",
]


# --------------------------------------------------------------------------------------------------
# validation and color helpers


def _check_rgb(rgb: np.ndarray, name: str = "image") -> np.ndarray:
    """Return rgb unchanged if it is a uint8 HxWx3 array, else raise ValueError with a sentence."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise ValueError(f"The {name} must be a uint8 HxWx3 RGB array, got shape {shape} and dtype {dtype}.")
    return rgb


def _check_pair(pred: np.ndarray, ref: np.ndarray) -> None:
    """Raise ValueError unless pred and ref are uint8 RGB arrays of the same shape."""
    _check_rgb(pred, "prediction")
    _check_rgb(ref, "reference")
    if pred.shape != ref.shape:
        raise ValueError(f"The prediction {pred.shape} and the reference {ref.shape} must have the same shape.")


def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    """Return the BT.601 luma (OpenCV RGB2GRAY) of a uint8 RGB image as a uint8 HxW array."""
    return cv2.cvtColor(np.ascontiguousarray(_check_rgb(rgb)), cv2.COLOR_RGB2GRAY)


def rgb_to_ab(rgb: np.ndarray) -> np.ndarray:
    """Return the CIELAB a and b channels (D65, Lab units, roughly [-128, 127]) as float32 HxWx2."""
    rgb = np.ascontiguousarray(_check_rgb(rgb), dtype=np.float32) * np.float32(1.0 / 255.0)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    return np.ascontiguousarray(lab[:, :, 1:])


# --------------------------------------------------------------------------------------------------
# per-image metrics


def psnr_rgb(pred: np.ndarray, ref: np.ndarray) -> float:
    """PSNR in dB over all RGB values (data range 255); inf when the images are identical."""
    _check_pair(pred, ref)
    if np.array_equal(pred, ref):
        return math.inf
    return float(peak_signal_noise_ratio(ref, pred, data_range=255))


def ssim_rgb(pred: np.ndarray, ref: np.ndarray) -> float:
    """Mean SSIM over the three RGB channels (7x7 window, data range 255); 1.0 for identical images."""
    _check_pair(pred, ref)
    if min(pred.shape[:2]) < 7:
        raise ValueError(f"SSIM needs images at least 7x7 pixels, got {pred.shape[1]}x{pred.shape[0]}.")
    return float(structural_similarity(ref, pred, channel_axis=-1, data_range=255))


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colorfulness: sqrt(sd_rg^2+sd_yb^2) + 0.3*sqrt(mu_rg^2+mu_yb^2)."""
    img = _check_rgb(rgb).astype(np.float64)
    r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    std_root = math.sqrt(float(rg.var()) + float(yb.var()))
    mean_root = math.sqrt(float(rg.mean()) ** 2 + float(yb.mean()) ** 2)
    return std_root + 0.3 * mean_root


# --------------------------------------------------------------------------------------------------
# color distribution consistency (CDC)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in nats (natural log, bounded by ln 2) of two histograms; normalizes them."""
    p = np.asarray(p, dtype=np.float64).ravel()
    q = np.asarray(q, dtype=np.float64).ravel()
    if p.shape != q.shape:
        raise ValueError(f"Histograms must have the same number of bins, got {p.size} and {q.size}.")
    sp, sq = p.sum(), q.sum()
    if sp <= 0 or sq <= 0:
        raise ValueError("Histograms must have a positive total count.")
    p = p / sp
    q = q / sq
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_pm = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_qm = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(max(0.0, 0.5 * kl_pm + 0.5 * kl_qm))


class CDCAccumulator:
    """Streaming color distribution consistency (CDC); lower is more consistent.

    Each frame becomes per-channel color histograms: by default 64 bins over [-128, 128) for each of
    the CIELAB a and b channels (``space="ab"``); with ``space="rgb"`` the bins cover [0, 256) for each
    of R, G and B. For frame t and each gap k in ``gaps`` (default 1, 2, 4) the Jensen-Shannon
    divergence (nats) between the histograms of frames t-k and t is averaged over channels; each gap's
    values are averaged over all its pairs, and the result is the mean over the gaps that have pairs
    (as in the DeepRemaster / TCVC / BiSTNet evaluations). Only the last max(gaps) frames' histograms
    are kept. ``cut()`` (alias ``reset()``) starts a new shot: no pair spans it; totals are kept.
    """

    def __init__(self, bins: int = 64, space: Literal["ab", "rgb"] = "ab", gaps: tuple[int, ...] = (1, 2, 4)) -> None:
        """Configure the histogram bins, the color space ("ab" or "rgb") and the frame gaps."""
        if space not in ("ab", "rgb"):
            raise ValueError(f"CDC color space must be 'ab' or 'rgb', got {space!r}.")
        if not isinstance(bins, int) or bins < 2:
            raise ValueError(f"CDC needs an integer of at least 2 histogram bins, got {bins!r}.")
        if not gaps or any((not isinstance(k, int)) or k < 1 for k in gaps):
            raise ValueError(f"CDC gaps must be positive integers, got {gaps!r}.")
        self.bins = bins
        self.space = space
        self.gaps = tuple(sorted(set(gaps)))
        self._history: deque[np.ndarray] = deque(maxlen=max(self.gaps))
        self._sums = {k: 0.0 for k in self.gaps}
        self._counts = {k: 0 for k in self.gaps}
        self.frames = 0

    def _histograms(self, rgb: np.ndarray) -> np.ndarray:
        """Return the normalized per-channel histograms of one frame as float64 (channels, bins)."""
        if self.space == "ab":
            planes, lo, hi = rgb_to_ab(rgb), -128.0, 128.0
        else:
            planes, lo, hi = np.ascontiguousarray(_check_rgb(rgb)), 0.0, 256.0
        hists = [
            cv2.calcHist([planes], [c], None, [self.bins], [lo, hi]).ravel() for c in range(planes.shape[2])
        ]
        h = np.stack(hists).astype(np.float64)
        return h / np.maximum(h.sum(axis=1, keepdims=True), 1.0)

    def update(self, rgb: np.ndarray, cut: bool = False) -> None:
        """Add the next frame (uint8 RGB); cut=True means it starts a new shot."""
        if cut:
            self.cut()
        h = self._histograms(rgb)
        for k in self.gaps:
            if len(self._history) >= k:
                prev = self._history[-k]
                jsd = sum(js_divergence(prev[c], h[c]) for c in range(h.shape[0])) / h.shape[0]
                self._sums[k] += jsd
                self._counts[k] += 1
        self._history.append(h)
        self.frames += 1

    def cut(self) -> None:
        """Forget the kept frames so no pair spans a scene cut; accumulated totals are kept."""
        self._history.clear()

    def reset(self) -> None:
        """Same as cut(): forget the kept frames, keep the totals (make a new accumulator to start over)."""
        self.cut()

    @property
    def pairs(self) -> int:
        """Number of frame pairs counted over all gaps."""
        return sum(self._counts.values())

    def per_gap(self) -> dict[int, float]:
        """Mean JSD per gap; NaN for a gap with no pairs."""
        return {k: (self._sums[k] / self._counts[k] if self._counts[k] else math.nan) for k in self.gaps}

    def value(self) -> float:
        """CDC: mean over gaps (that have pairs) of the mean per-pair JSD; NaN when no pair was seen."""
        vals = [v for v in self.per_gap().values() if not math.isnan(v)]
        return float(sum(vals) / len(vals)) if vals else math.nan


# --------------------------------------------------------------------------------------------------
# flow warping error


def consistency_mask(flow_fw: np.ndarray, flow_bw: np.ndarray) -> np.ndarray:
    """Boolean HxW mask of pixels passing the Ruder et al. (2016) forward-backward check and in bounds.

    ``flow_fw`` is defined on frame A's grid and points into frame B; ``flow_bw`` is defined on B's grid
    and points back into A. Pixel x is kept when x + f_fw(x) lies inside B and
    |f_fw(x) + f_bw(x + f_fw(x))|^2 <= 0.01 (|f_fw(x)|^2 + |f_bw(x + f_fw(x))|^2) + 0.5.
    """
    if flow_fw.shape != flow_bw.shape or flow_fw.ndim != 3 or flow_fw.shape[2] != 2:
        raise ValueError(f"Flows must both be HxWx2 of the same shape, got {flow_fw.shape} and {flow_bw.shape}.")
    map_x, map_y = _flow_maps(flow_fw)
    return _consistency_from_maps(flow_fw, flow_bw, map_x, map_y)


def _flow_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return float32 sampling maps x + u(x), y + v(x) for cv2.remap."""
    h, w = flow.shape[:2]
    gx = np.arange(w, dtype=np.float32)[None, :]
    gy = np.arange(h, dtype=np.float32)[:, None]
    return gx + flow[:, :, 0].astype(np.float32), gy + flow[:, :, 1].astype(np.float32)


def _consistency_from_maps(
    flow_fw: np.ndarray, flow_bw: np.ndarray, map_x: np.ndarray, map_y: np.ndarray
) -> np.ndarray:
    """Forward-backward consistency and in-bounds mask given precomputed sampling maps."""
    h, w = flow_fw.shape[:2]
    bw_at = cv2.remap(
        np.ascontiguousarray(flow_bw, dtype=np.float32), map_x, map_y, cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    s = flow_fw + bw_at
    lhs = s[:, :, 0] ** 2 + s[:, :, 1] ** 2
    rhs = 0.01 * ((flow_fw**2).sum(axis=2) + (bw_at**2).sum(axis=2)) + 0.5
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    return inside & (lhs <= rhs)


_DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


class WarpErrorAccumulator:
    """Streaming flow warping error of the chroma; lower is more temporally stable.

    Each step is fed the ORIGINAL video's luma (uint8 HxW) and the predicted frame (uint8 RGB). Optical
    flow between consecutive original lumas is computed with OpenCV DIS (both directions); the previous
    prediction's CIELAB a,b channels are warped onto the current frame with cv2.remap (bilinear),
    pixels failing the forward-backward check or warped from outside the frame are masked out, and
    the pair's error is the mean absolute a,b difference (Lab units, averaged over both channels) over
    the kept pixels. ``value()`` is the mean over pairs. Feeding the original color frames as the
    prediction gives the floor. ``cut()`` (alias ``reset()``) starts a new shot; totals are kept.
    """

    def __init__(self, preset: Literal["ultrafast", "fast", "medium"] = "medium", mask_occlusions: bool = True) -> None:
        """Choose the DIS preset and whether occluded pixels are masked."""
        if preset not in _DIS_PRESETS:
            raise ValueError(f"DIS preset must be one of {sorted(_DIS_PRESETS)}, got {preset!r}.")
        self.preset = preset
        self.mask_occlusions = mask_occlusions
        self._dis = cv2.DISOpticalFlow.create(_DIS_PRESETS[preset])
        self._prev_luma: np.ndarray | None = None
        self._prev_ab: np.ndarray | None = None
        self._sum = 0.0
        self.pairs = 0
        self.frames = 0
        self.last_error: float = math.nan
        self.last_valid_fraction: float = math.nan
        self.last_mask: np.ndarray | None = None

    def update(self, ref_luma: np.ndarray, pred_rgb: np.ndarray, cut: bool = False) -> None:
        """Add the next frame: original luma (uint8 HxW) and prediction (uint8 RGB); cut=True starts a shot."""
        if not isinstance(ref_luma, np.ndarray) or ref_luma.dtype != np.uint8 or ref_luma.ndim != 2:
            raise ValueError(
                f"The reference luma must be a uint8 HxW array, got shape {getattr(ref_luma, 'shape', None)} "
                f"and dtype {getattr(ref_luma, 'dtype', type(ref_luma).__name__)}."
            )
        _check_rgb(pred_rgb, "prediction")
        if pred_rgb.shape[:2] != ref_luma.shape:
            raise ValueError(f"The prediction {pred_rgb.shape[:2]} and the luma {ref_luma.shape} differ in size.")
        if max(ref_luma.shape) < 12:
            raise ValueError(f"Optical flow needs frames at least 12 pixels wide or high, got {ref_luma.shape}.")
        if cut:
            self.cut()
        luma = np.ascontiguousarray(ref_luma)
        ab = rgb_to_ab(pred_rgb)
        if self._prev_luma is not None and self._prev_luma.shape == luma.shape:
            self._add_pair(self._prev_luma, self._prev_ab, luma, ab)
        self._prev_luma, self._prev_ab = luma, ab
        self.frames += 1

    def _add_pair(self, prev_luma: np.ndarray, prev_ab: np.ndarray, luma: np.ndarray, ab: np.ndarray) -> None:
        """Warp the previous chroma onto the current frame and accumulate the masked error."""
        flow_cur_to_prev = self._dis.calc(luma, prev_luma, None)  # cur(x) ~ prev(x + f(x))
        map_x, map_y = _flow_maps(flow_cur_to_prev)
        warped = cv2.remap(prev_ab, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        h, w = luma.shape
        if self.mask_occlusions:
            flow_prev_to_cur = self._dis.calc(prev_luma, luma, None)
            mask = _consistency_from_maps(flow_cur_to_prev, flow_prev_to_cur, map_x, map_y)
        else:
            mask = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
        self.last_mask = mask
        kept = int(mask.sum())
        self.last_valid_fraction = kept / mask.size
        if kept == 0:
            self.last_error = math.nan
            return
        diff = np.abs(ab - warped)
        err = float(diff[mask].mean())
        self.last_error = err
        self._sum += err
        self.pairs += 1

    def cut(self) -> None:
        """Forget the previous frame so no pair spans a scene cut; accumulated totals are kept."""
        self._prev_luma = None
        self._prev_ab = None

    def reset(self) -> None:
        """Same as cut(): forget the previous frame, keep the totals (make a new accumulator to start over)."""
        self.cut()

    def value(self) -> float:
        """Mean over frame pairs of the masked mean absolute a,b difference; NaN when no pair was counted."""
        return self._sum / self.pairs if self.pairs else math.nan
