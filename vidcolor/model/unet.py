"""The colorization network: a U-Net over luma with a fused global scene vector.

Local branch: stride-2 stem, three more downsamplings to H/16, dilated bottleneck, decoder back to
H/4 with skip connections. Global branch: a pooled vector from a pretrained image encoder (computed
elsewhere, once per shot) projected, tiled over the bottleneck, concatenated and mixed by a 1x1 conv
(Iizuka et al. 2016, Baldassarre et al. 2017). Head: logits over chroma bins (classification) or ab
directly (regression), at H/4 of the input; the caller upsamples ab.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT_MULTIPLE_PX = 16
AB_OUTPUT_SCALE = 110.0


@dataclass(frozen=True)
class NetConfig:
    """Everything needed to rebuild the network; stored in checkpoints."""

    base_channels: int = 32
    global_dim: int = 1280
    use_global: bool = True
    head: str = "classification"  # or "regression"
    bin_count: int = 250
    dropout: float = 0.0  # Dropout2d before the head, training only

    def to_dict(self) -> dict:
        return asdict(self)


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ColorNet(nn.Module):
    """Luma (N,1,H,W), L in [0,100], H and W multiples of 16 -> logits (N,Q,H/4,W/4) or ab (N,2,H/4,W/4).

    The global vector must have the net's dtype. The forward pass is traceable by torch.fx (int8 inference).
    """

    def __init__(self, config: NetConfig):
        super().__init__()
        self.config = config
        c = config.base_channels
        self.stem = nn.Sequential(_conv(1, c, stride=2), _conv(c, c))  # H/2
        self.down1 = nn.Sequential(_conv(c, 2 * c, stride=2), _conv(2 * c, 2 * c))  # H/4
        self.down2 = nn.Sequential(_conv(2 * c, 4 * c, stride=2), _conv(4 * c, 4 * c))  # H/8
        self.down3 = nn.Sequential(_conv(4 * c, 8 * c, stride=2), _conv(8 * c, 8 * c))  # H/16
        self.middle = nn.Sequential(_conv(8 * c, 8 * c, dilation=2), _conv(8 * c, 8 * c, dilation=2))
        if config.use_global:
            self.global_proj = nn.Sequential(nn.Linear(config.global_dim, 8 * c), nn.ReLU(inplace=True))
            self.fuse = nn.Sequential(nn.Conv2d(16 * c, 8 * c, 1), nn.ReLU(inplace=True))
        self.up2 = nn.Sequential(_conv(8 * c + 4 * c, 4 * c), _conv(4 * c, 4 * c))  # H/8
        self.up1 = nn.Sequential(_conv(4 * c + 2 * c, 4 * c), _conv(4 * c, 4 * c))  # H/4
        self.dropout = nn.Dropout2d(config.dropout)
        # Hypercolumn-style: the stem's H/2 features, pooled to H/4, join the head's input.
        out_channels = config.bin_count if config.head == "classification" else 2
        self.head = nn.Sequential(_conv(4 * c + c, 4 * c), nn.Conv2d(4 * c, out_channels, 1))

    def forward(self, lightness: torch.Tensor, global_vec: torch.Tensor | None = None) -> torch.Tensor:
        x0 = self.stem((lightness - 50.0) / 50.0)
        x1 = self.down1(x0)
        x2 = self.down2(x1)
        x3 = self.middle(self.down3(x2))
        if self.config.use_global:
            if global_vec is None:
                raise ValueError("this model needs a global feature vector")
            g = self.global_proj(global_vec)[:, :, None, None].expand(-1, -1, x3.size(2), x3.size(3))
            x3 = self.fuse(torch.cat([x3, g], dim=1))
        # Sizes are multiples of 16, so every upsampling is exactly 2x (written so for torch.fx: model/int8.py).
        y = F.interpolate(x3, scale_factor=2.0, mode="bilinear", align_corners=False)
        y = self.up2(torch.cat([y, x2], dim=1))
        y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)
        y = self.up1(torch.cat([y, x1], dim=1))
        y = self.head(self.dropout(torch.cat([y, F.avg_pool2d(x0, 2)], dim=1)))
        if self.config.head == "regression":
            return torch.tanh(y) * AB_OUTPUT_SCALE
        return y
