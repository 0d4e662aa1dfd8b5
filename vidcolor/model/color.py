"""sRGB <-> CIELAB (D65) conversions in torch, for training and batched inference."""

from __future__ import annotations

import torch

_RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE_D65 = torch.tensor([0.950456, 1.0, 1.088754])


def _srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    return torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055).clamp_min(0) ** 2.4)


def _linear_to_srgb(lin: torch.Tensor) -> torch.Tensor:
    lin = lin.clamp(0.0, 1.0)
    return torch.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin.clamp_min(1e-8) ** (1 / 2.4) - 0.055)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) sRGB in [0,1] -> (N,3,H,W) Lab with L in [0,100], a/b roughly in [-110,110]."""
    lin = _srgb_to_linear(rgb.float())
    xyz = torch.einsum("ij,njhw->nihw", _RGB_TO_XYZ.to(rgb.device), lin)
    xyz = xyz / _WHITE_D65.to(rgb.device).view(1, 3, 1, 1)
    eps = (6 / 29) ** 3
    f = torch.where(xyz > eps, xyz.clamp_min(eps) ** (1 / 3), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lightness = 116 * f[:, 1] - 16
    a = 500 * (f[:, 0] - f[:, 1])
    b = 200 * (f[:, 1] - f[:, 2])
    return torch.stack([lightness, a, b], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) Lab -> (N,3,H,W) sRGB clipped to [0,1]."""
    lab = lab.float()
    fy = (lab[:, 0] + 16) / 116
    fx = fy + lab[:, 1] / 500
    fz = fy - lab[:, 2] / 200
    f = torch.stack([fx, fy, fz], dim=1)
    delta = 6 / 29
    xyz = torch.where(f > delta, f**3, 3 * delta**2 * (f - 4 / 29))
    xyz = xyz * _WHITE_D65.to(lab.device).view(1, 3, 1, 1)
    inverse = torch.linalg.inv(_RGB_TO_XYZ).to(lab.device)
    lin = torch.einsum("ij,njhw->nihw", inverse, xyz)
    return _linear_to_srgb(lin)


def gray_to_lightness(gray: torch.Tensor) -> torch.Tensor:
    """Full-range gray sRGB values in [0,1] -> CIELAB L in [0,100] (a = b = 0)."""
    y = _srgb_to_linear(gray.float())
    eps = (6 / 29) ** 3
    f = torch.where(y > eps, y.clamp_min(eps) ** (1 / 3), y / (3 * (6 / 29) ** 2) + 4 / 29)
    return 116 * f - 16
