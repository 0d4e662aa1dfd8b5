"""Inference API: gray frames in, predicted ab out. Knows nothing about video files."""

from __future__ import annotations

import os
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .checkpoint import load_checkpoint
from .color import gray_to_lightness
from .global_encoder import GlobalEncoder
from .unet import INPUT_MULTIPLE_PX

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(requested: str) -> torch.device:
    """'auto' picks cuda when present; an explicit 'cuda' without a GPU is a clear error."""
    if requested not in DEVICE_CHOICES:
        raise ConfigError(f"unknown device {requested!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but no CUDA GPU is available here (use --device auto or cpu)")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def working_size(height: int, width: int, short_side_px: int) -> tuple[int, int]:
    """Working resolution: short side ~short_side_px, aspect kept, both multiples of 16, never upscaled much."""
    scale = min(1.0, short_side_px / min(height, width)) if min(height, width) > 0 else 1.0
    def snap(v: float) -> int:
        return max(INPUT_MULTIPLE_PX, int(round(v / INPUT_MULTIPLE_PX)) * INPUT_MULTIPLE_PX)
    return snap(height * scale), snap(width * scale)


class Colorizer:
    """A loaded checkpoint on a device, with the global encoder, ready for batched inference."""

    def __init__(self, checkpoint_path: str | os.PathLike, device: str = "auto", temperature: float = 0.38,
                 cpu_threads: int | None = None):
        self.device = resolve_device(device)
        if cpu_threads:
            torch.set_num_threads(cpu_threads)
        ckpt = load_checkpoint(checkpoint_path)
        self.model_id = ckpt.model_id
        self.bins = ckpt.bins
        self.net = ckpt.net.to(self.device).eval()
        self.uses_global = self.net.config.use_global
        self.encoder = GlobalEncoder().to(self.device) if self.uses_global else None
        if self.device.type == "cuda":
            self.net = self.net.to(memory_format=torch.channels_last)
        self.temperature = temperature
        self.global_calls = 0
        self._centers = self.bins.centers.to(self.device)
        self._lightness_lut = gray_to_lightness(torch.arange(256, dtype=torch.float32) / 255.0).to(self.device)

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _to_device_u8(self, gray: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(gray))
        if self.device.type == "cuda":
            return t.pin_memory().to(self.device, non_blocking=True)
        return t

    @torch.inference_mode()
    def global_features(self, gray: np.ndarray) -> torch.Tensor:
        """One gray keyframe (H,W) uint8 full-range -> (1,1280) scene vector (zeros if the model has no global branch)."""
        if self.encoder is None:
            return torch.zeros((1, 1), device=self.device)
        self.global_calls += 1
        x = self._to_device_u8(gray)[None, None].float() / 255.0
        with self._autocast():
            return self.encoder(x).float()

    @torch.inference_mode()
    def logits(self, gray: np.ndarray, global_vecs: torch.Tensor) -> torch.Tensor:
        """(N,H,W) uint8 gray at working size -> raw network output (N,Q,H/4,W/4) (or ab for regression nets)."""
        lightness = self._lightness_lut[self._to_device_u8(gray).long()][:, None]
        if self.device.type == "cuda":
            lightness = lightness.contiguous(memory_format=torch.channels_last)
        vecs = global_vecs.to(self.device) if self.uses_global else None
        if vecs is not None and vecs.shape[0] == 1 and lightness.shape[0] > 1:
            vecs = vecs.expand(lightness.shape[0], -1)
        with self._autocast():
            return self.net(lightness, vecs).float()

    @torch.inference_mode()
    def predict_ab(self, gray: np.ndarray, global_vecs: torch.Tensor, temperature: float | None = None) -> np.ndarray:
        """(N,H,W) uint8 gray at working size -> (N,H,W,2) float32 ab at the same size.

        On a CUDA out-of-memory error the batch is split in halves and retried: frames are never skipped.
        """
        try:
            out = self.logits(gray, global_vecs)
        except torch.cuda.OutOfMemoryError:
            if gray.shape[0] == 1:
                raise
            torch.cuda.empty_cache()
            half = gray.shape[0] // 2
            vecs_a, vecs_b = (global_vecs, global_vecs) if global_vecs.shape[0] == 1 else (global_vecs[:half], global_vecs[half:])
            return np.concatenate([self.predict_ab(gray[:half], vecs_a, temperature),
                                   self.predict_ab(gray[half:], vecs_b, temperature)])
        ab = self.decode(out, temperature)
        ab = F.interpolate(ab, size=gray.shape[1:], mode="bilinear", align_corners=False)
        return ab.permute(0, 2, 3, 1).float().cpu().numpy()

    def decode(self, out: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """Network output -> (N,2,h,w) ab, by the annealed mean for classification nets."""
        if self.net.config.head == "regression":
            return out
        return self.bins.annealed_mean(out, self.temperature if temperature is None else temperature)

    @torch.inference_mode()
    def sample_ab(self, gray: np.ndarray, global_vecs: torch.Tensor, count: int, seed: int = 0,
                  temperature: float = 0.6) -> np.ndarray:
        """(1,H,W) gray -> (count,H,W,2) alternative colorizations sampled from the chroma distribution."""
        if self.net.config.head == "regression":
            raise ConfigError("this model predicts one colour per pixel (regression head); it cannot sample variants")
        out = self.logits(gray, global_vecs)
        gen = torch.Generator().manual_seed(seed)
        samples = [self.bins.sample(out, gen, temperature=temperature) for _ in range(count)]
        ab = torch.cat(samples)
        # Sampled bins are quantized to 10-unit steps; a light blur removes the bin edges.
        ab = F.avg_pool2d(ab, 3, stride=1, padding=1, count_include_pad=False)
        ab = F.interpolate(ab, size=gray.shape[1:], mode="bilinear", align_corners=False)
        return ab.permute(0, 2, 3, 1).float().cpu().numpy()
