"""sRGB <-> CIELAB (D65) conversions in torch, for training and batched inference; BT.709 luma."""

from __future__ import annotations

import numpy as np
import torch

BT709_LUMA = (0.2126, 0.7152, 0.0722)  # R, G, B weights of BT.709 luma Y'
_BT709_LUMA_F32 = np.array(BT709_LUMA, np.float32)

_RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE_D65 = torch.tensor([0.950456, 1.0, 1.088754])


def _srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    return torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055).clamp_min(0) ** 2.4)


def _linear_to_srgb(lin: torch.Tensor) -> torch.Tensor:
    lin = lin.clamp(0.0, 1.0)
    return torch.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin.clamp_min(1e-8) ** (1 / 2.4) - 0.055)


_LAB_DELTA = 6 / 29


def _lab_f(t: torch.Tensor) -> torch.Tensor:
    """CIELAB's companding of relative XYZ: cube root above (6/29)^3, linear below."""
    eps = _LAB_DELTA**3
    return torch.where(t > eps, t.clamp_min(eps) ** (1 / 3), t / (3 * _LAB_DELTA**2) + 4 / 29)


def _lab_f_inverse(f: torch.Tensor) -> torch.Tensor:
    return torch.where(f > _LAB_DELTA, f**3, 3 * _LAB_DELTA**2 * (f - 4 / 29))


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) sRGB in [0,1] -> (N,3,H,W) Lab with L in [0,100], a/b roughly in [-110,110]."""
    lin = _srgb_to_linear(rgb.float())
    xyz = torch.einsum("ij,njhw->nihw", _RGB_TO_XYZ.to(rgb.device), lin)
    f = _lab_f(xyz / _WHITE_D65.to(rgb.device).view(1, 3, 1, 1))
    lightness = 116 * f[:, 1] - 16
    a = 500 * (f[:, 0] - f[:, 1])
    b = 200 * (f[:, 1] - f[:, 2])
    return torch.stack([lightness, a, b], dim=1)


def lab_to_linear_rgb(lab: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) Lab -> linear-light RGB, not clipped (values outside [0,1] are out of the sRGB gamut)."""
    lab = lab.float()
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], dim=1)
    xyz = _lab_f_inverse(f) * _WHITE_D65.to(lab.device).view(1, 3, 1, 1)
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB_TO_XYZ).to(lab.device), xyz)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) Lab -> (N,3,H,W) sRGB clipped to [0,1]."""
    return _linear_to_srgb(lab_to_linear_rgb(lab))


def gray_to_lightness(gray: torch.Tensor) -> torch.Tensor:
    """Full-range gray sRGB values in [0,1] -> CIELAB L in [0,100] (a = b = 0)."""
    return 116 * _lab_f(_srgb_to_linear(gray.float())) - 16


def photo_luma(rgb: np.ndarray) -> np.ndarray:
    """BT.709 luma (uint8) of a gamma-encoded uint8 RGB photo: what a black-and-white print of it records."""
    return np.clip(rgb.astype(np.float32) @ _BT709_LUMA_F32 + 0.5, 0, 255).astype(np.uint8)
