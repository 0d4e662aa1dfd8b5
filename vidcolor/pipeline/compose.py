"""Turn predicted (L, ab) at working resolution into the Cb/Cr planes of the output frame.

Luma is never touched: the output's Y plane is the source's. Only chroma is computed, at working
resolution, converted with one fixed BT.709 matrix and upsampled to the output's chroma plane size.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..model.color import BT709_LUMA, gray_to_lightness

# BT.709 luma weights and the Pb/Pr scale factors.
KR, KG, KB = BT709_LUMA
PB_SCALE = 2.0 * (1.0 - KB)  # 1.8556
PR_SCALE = 2.0 * (1.0 - KR)  # 1.5748
LIMITED_Y_BLACK, LIMITED_Y_SPAN = 16.0, 219.0
LIMITED_C_SPAN, FULL_C_SPAN = 224.0, 255.0


def luma_to_gray_lut(color_range: str) -> np.ndarray:
    """256-entry table mapping the source's Y code values to full-range gray (0..255)."""
    codes = np.arange(256, dtype=np.float32)
    if color_range == "tv":
        codes = (codes - LIMITED_Y_BLACK) * (255.0 / LIMITED_Y_SPAN)
    return np.clip(codes + 0.5, 0, 255).astype(np.uint8)


def gray_to_lightness_lut() -> np.ndarray:
    """256-entry table: full-range gray sRGB code -> CIELAB L (0..100)."""
    return gray_to_lightness(torch.arange(256, dtype=torch.float64) / 255.0).numpy().astype(np.float32)


_LIGHTNESS = gray_to_lightness_lut()


def lab_to_rgb(gray: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Full-range gray (H,W) uint8 and ab (H,W,2) float32 -> sRGB (H,W,3) float32 in [0,1]."""
    lab = cv2.merge([_LIGHTNESS[gray], np.asarray(ab, dtype=np.float32)])
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def rgb_to_cbcr(rgb: np.ndarray, color_range: str) -> tuple[np.ndarray, np.ndarray]:
    """sRGB float (H,W,3) -> BT.709 Cb, Cr float planes in code values of the given range."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = KR * r + KG * g + KB * b
    span = LIMITED_C_SPAN if color_range == "tv" else FULL_C_SPAN
    cb = 128.0 + span * (b - y) / PB_SCALE
    cr = 128.0 + span * (r - y) / PR_SCALE
    return cb, cr


def rgb_to_cbcr_matrix(color_range: str) -> np.ndarray:
    """(2,4) affine matrix for cv2.transform: sRGB float (r, g, b, 1) -> (Cb, Cr) code values (as rgb_to_cbcr)."""
    span = LIMITED_C_SPAN if color_range == "tv" else FULL_C_SPAN
    luma = np.array([KR, KG, KB])
    cb = (np.array([0.0, 0.0, 1.0]) - luma) * (span / PB_SCALE)
    cr = (np.array([1.0, 0.0, 0.0]) - luma) * (span / PR_SCALE)
    return np.array([[*cb, 128.0], [*cr, 128.0]], dtype=np.float32)


_CBCR_MATRIX = {rng: rgb_to_cbcr_matrix(rng) for rng in ("tv", "pc")}


def chroma_planes(gray: np.ndarray, ab: np.ndarray, chroma_shape: tuple[int, int],
                  color_range: str, bit_depth: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Working-resolution gray + ab -> Cb, Cr planes of size chroma_shape (h, w): uint8, or for `bit_depth` 10
    uint16 code values 0..1023 (the 8-bit codes times 4, as BT.709 scales them, kept to a quarter step)."""
    matrix = _CBCR_MATRIX.get(color_range)
    if matrix is None:
        matrix = rgb_to_cbcr_matrix(color_range)
    scale = 1 << (bit_depth - 8)
    cbcr = cv2.transform(lab_to_rgb(gray, ab), matrix * scale if scale > 1 else matrix)  # as rgb_to_cbcr (x scale)
    size = (chroma_shape[1], chroma_shape[0])
    planes = cv2.resize(cbcr, size, interpolation=cv2.INTER_LINEAR)
    planes += 0.5
    np.clip(planes, 0, 256 * scale - 1, out=planes)
    cb, cr = cv2.split(planes.astype(np.uint8 if bit_depth == 8 else np.uint16))
    return cb, cr


def compose_rgb(y_gray_full: np.ndarray, ab_work: np.ndarray) -> np.ndarray:
    """Full-size full-range gray + working-res ab -> full-size uint8 sRGB (for photos and previews)."""
    h, w = y_gray_full.shape
    ab = cv2.resize(ab_work, (w, h), interpolation=cv2.INTER_LINEAR)
    return (lab_to_rgb(y_gray_full, ab) * 255.0 + 0.5).astype(np.uint8)
