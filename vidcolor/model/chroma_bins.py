"""Quantized ab chroma bins: the in-gamut grid, its prior, class rebalancing and decoding.

Zhang et al. 2016: the ab plane is cut into 10-unit cells; only cells that hold an sRGB colour at some
lightness are kept (a few hundred classes). Targets are soft-encoded over the nearest bins, rare
colours are up-weighted with ((1 - lambda) p + lambda / Q)^-1, and a distribution is decoded with the
annealed mean (softmax at temperature T, then the expectation of the bin centres).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .color import lab_to_linear_rgb, lab_to_rgb

GRID_STEP_AB = 10.0
GRID_LIMIT_AB = 110.0


def in_gamut_bin_centers(step: float = GRID_STEP_AB, limit: float = GRID_LIMIT_AB) -> torch.Tensor:
    """(Q,2) ab centres of grid cells holding at least one in-gamut sRGB colour at some L."""
    axis = torch.arange(-limit, limit + 1e-6, step)
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    ab = torch.stack([a.flatten(), b.flatten()], dim=1)
    lightness = torch.linspace(1.0, 99.0, 99)
    # Sample each cell on a 3x3 sub-grid so a cell counts when any part of it is reachable.
    offsets = torch.tensor([-0.4, 0.0, 0.4]) * step
    oa, ob = torch.meshgrid(offsets, offsets, indexing="ij")
    sub = torch.stack([oa.flatten(), ob.flatten()], dim=1)  # (9,2)
    pts = (ab[:, None, None, :] + sub[None, :, None, :]).expand(-1, -1, lightness.numel(), -1)
    ll = lightness.view(1, 1, -1, 1).expand(ab.shape[0], sub.shape[0], -1, 1)
    lab = torch.cat([ll, pts], dim=-1).reshape(-1, 3).T.reshape(1, 3, -1, 1)
    rgb = lab_to_linear_rgb(lab).reshape(3, ab.shape[0], -1)
    ok = ((rgb >= -1e-3) & (rgb <= 1 + 1e-3)).all(dim=0).any(dim=1)
    return ab[ok].contiguous()


@dataclass
class ChromaBins:
    """The bin set (Q,2) and the empirical prior (Q,) over it, as stored in a checkpoint."""

    centers: torch.Tensor
    prior: torch.Tensor

    @classmethod
    def uniform(cls) -> "ChromaBins":
        centers = in_gamut_bin_centers()
        return cls(centers, torch.full((centers.shape[0],), 1.0 / centers.shape[0]))

    @property
    def count(self) -> int:
        return int(self.centers.shape[0])

    def nearest(self, ab: torch.Tensor) -> torch.Tensor:
        """(N,2,H,W) ab -> (N,H,W) index of the nearest bin centre."""
        flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
        idx = torch.cdist(flat.float(), self.centers.to(ab.device)).argmin(dim=1)
        return idx.view(ab.shape[0], ab.shape[2], ab.shape[3])

    def soft_encode(self, ab: torch.Tensor, neighbours: int = 5, sigma_ab: float = 5.0) -> torch.Tensor:
        """(N,2,H,W) ab -> (N,Q,H,W) soft targets over the `neighbours` nearest bins (Gaussian weights)."""
        n, _, h, w = ab.shape
        flat = ab.permute(0, 2, 3, 1).reshape(-1, 2).float()
        dist = torch.cdist(flat, self.centers.to(ab.device))
        d_near, i_near = dist.topk(neighbours, dim=1, largest=False)
        wts = torch.exp(-(d_near**2) / (2 * sigma_ab**2))
        wts = wts / wts.sum(dim=1, keepdim=True)
        target = torch.zeros(flat.shape[0], self.count, device=ab.device)
        target.scatter_(1, i_near, wts)
        return target.view(n, h, w, self.count).permute(0, 3, 1, 2)

    def rebalance_weights(self, mix_lambda: float = 0.5, sigma_ab: float = 5.0) -> torch.Tensor:
        """(Q,) per-class loss weights ~ ((1-lambda) p_smoothed + lambda/Q)^-1 with E_p[w] = 1."""
        d2 = torch.cdist(self.centers, self.centers) ** 2
        kernel = torch.exp(-d2 / (2 * sigma_ab**2))
        smoothed = kernel @ self.prior
        smoothed = smoothed / smoothed.sum()
        weights = 1.0 / ((1 - mix_lambda) * smoothed + mix_lambda / self.count)
        return weights / (smoothed * weights).sum()

    def annealed_mean(self, logits: torch.Tensor, temperature: float = 0.38) -> torch.Tensor:
        """(N,Q,H,W) logits -> (N,2,H,W) ab: softmax(logits / T) weighted mean of the bin centres."""
        probs = F.softmax(logits.float() / max(temperature, 1e-3), dim=1)
        return torch.einsum("nqhw,qc->nchw", probs, self.centers.to(logits.device))

    def sample(self, logits: torch.Tensor, generator: torch.Generator, temperature: float = 1.0,
               blur_cells: int = 4) -> torch.Tensor:
        """(N,Q,H,W) -> (N,2,H,W) one plausible colorization drawn from the per-pixel distributions.

        Independent per-pixel draws give speckle; instead one uniform number per region (a
        low-frequency noise field, `blur_cells` across) drives inverse-CDF sampling, so each
        variant is a coherent alternative (Larsson et al. 2016, sampling colorizations).
        """
        probs = F.softmax(logits.float() / max(temperature, 1e-3), dim=1)
        n, _, h, w = probs.shape
        coarse = torch.rand((n, 1, blur_cells, blur_cells), generator=generator, device="cpu")
        field = F.interpolate(coarse.to(probs.device), size=(h, w), mode="bicubic", align_corners=False)
        field = field.clamp(0.01, 0.99)  # bicubic overshoots [0,1]; u=0 or ~1 picked an empty end bin (vivid green/magenta blobs)
        cdf = probs.cumsum(dim=1)
        idx = (cdf < field).sum(dim=1).clamp_max(self.count - 1)
        ab = self.centers.to(probs.device)[idx]  # (N,H,W,2)
        return ab.permute(0, 3, 1, 2)


def colors_of_bins(bins: ChromaBins, lightness: float = 60.0) -> torch.Tensor:
    """(Q,3) sRGB colour of each bin at one lightness, for plots and model cards."""
    lab = torch.cat([torch.full((bins.count, 1), lightness), bins.centers], dim=1)
    return lab_to_rgb(lab.T.reshape(1, 3, -1, 1)).reshape(3, -1).T
