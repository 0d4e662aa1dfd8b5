"""Training data: photos and frames sampled from videos, held in memory, cropped on the device."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..model.chroma_bins import ChromaBins, in_gamut_bin_centers
from ..model.color import BT709_LUMA, gray_to_lightness, rgb_to_lab

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v"}
MAX_SOURCE_SHORT_SIDE_PX = 320


@dataclass
class TrainingImage:
    name: str
    rgb: np.ndarray  # HxWx3 uint8


def luma709(rgb: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) gamma-encoded RGB -> (N,1,H,W) BT.709 luma Y': what a black-and-white print records."""
    w = torch.tensor(BT709_LUMA, device=rgb.device, dtype=rgb.dtype).view(1, 3, 1, 1)
    return (rgb * w).sum(dim=1, keepdim=True)


def _fit(rgb: np.ndarray) -> np.ndarray:
    short = min(rgb.shape[:2])
    if short > MAX_SOURCE_SHORT_SIDE_PX:
        scale = MAX_SOURCE_SHORT_SIDE_PX / short
        rgb = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)


def _video_frames(path: Path, every_seconds: float) -> list[TrainingImage]:
    import av  # only needed when a video is given

    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        next_t = 0.0
        for frame in container.decode(stream):
            if frame.time is None or frame.time + 1e-6 < next_t:
                continue
            frames.append(TrainingImage(f"{path}@{frame.time:.2f}", _fit(frame.to_ndarray(format="rgb24"))))
            next_t = frame.time + every_seconds
    return frames


def load_training_images(paths: list[str | os.PathLike], video_frame_seconds: float = 2.0,
                         min_chroma_ab: float = 1.0) -> list[TrainingImage]:
    """Photos from folders (recursive) and frames from video files; gray images are skipped."""
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
        elif p.is_file():
            files.append(p)
        else:
            raise ConfigError(f"training data not found: {p}")
    images: list[TrainingImage] = []
    for f in files:
        if f.suffix.lower() in VIDEO_SUFFIXES:
            images += _video_frames(f, video_frame_seconds)
            continue
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if bgr is None or min(bgr.shape[:2]) < 64:
            continue
        images.append(TrainingImage(str(f), _fit(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))))
    kept = [im for im in images if _chroma_strength(im.rgb) >= min_chroma_ab]
    if not kept:
        raise ConfigError("no colour training images found in the given paths")
    return kept


def _chroma_strength(rgb: np.ndarray) -> float:
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return float(np.abs(lab[..., 1:]).mean())


def dataset_fingerprint(images: list[TrainingImage]) -> str:
    h = hashlib.sha256()
    for im in images:
        h.update(im.name.encode())
        h.update(str(im.rgb.shape).encode())
    return h.hexdigest()[:16]


def estimate_prior(images: list[TrainingImage], pixels_per_image: int = 4000, seed: int = 0) -> ChromaBins:
    """Empirical distribution of the training pixels over the in-gamut ab bins (with a small floor)."""
    centers = in_gamut_bin_centers()
    rng = np.random.default_rng(seed)
    counts = torch.zeros(centers.shape[0])
    for im in images:
        flat = im.rgb.reshape(-1, 3)
        pick = flat[rng.integers(0, flat.shape[0], size=min(pixels_per_image, flat.shape[0]))]
        rgb = torch.from_numpy(pick.astype(np.float32) / 255.0).T.reshape(1, 3, -1, 1)
        ab = rgb_to_lab(rgb)[:, 1:]
        idx = ChromaBins(centers, counts).nearest(ab).flatten()
        counts += torch.bincount(idx, minlength=centers.shape[0]).float()
    prior = counts + 1e-3 * counts.sum() / counts.numel()
    return ChromaBins(centers, prior / prior.sum())


def compute_global_vectors(images: list[TrainingImage], cache_path: Path | None,
                           device: torch.device) -> torch.Tensor:
    """(N,1280) encoder vectors of each whole gray image, cached on disk by image name and size."""
    cached: dict[str, np.ndarray] = {}
    if cache_path is not None and cache_path.is_file():
        with np.load(cache_path, allow_pickle=False) as data:
            cached = dict(zip(data["keys"].tolist(), data["vectors"]))
    keys = [f"{im.name}|{im.rgb.shape[0]}x{im.rgb.shape[1]}" for im in images]
    missing = [i for i, k in enumerate(keys) if k not in cached]
    if missing:
        from ..model.global_encoder import GlobalEncoder

        encoder = GlobalEncoder().to(device)
        for i in missing:
            rgb = torch.from_numpy(images[i].rgb).permute(2, 0, 1)[None].float().to(device) / 255.0
            cached[keys[i]] = encoder(luma709(rgb)).cpu().numpy()[0].astype(np.float16)
        if cache_path is not None:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_path.with_name(cache_path.name + ".tmp.npz")
            np.savez(tmp, keys=np.array(list(cached)), vectors=np.stack(list(cached.values())))
            os.replace(tmp, cache_path)
    return torch.from_numpy(np.stack([cached[k] for k in keys]).astype(np.float32))


class CropSampler:
    """Random crops with scale jitter and flips, made on the training device from in-memory images."""

    def __init__(self, images: list[TrainingImage], device: torch.device, crop_px: int, seed: int = 0,
                 soften_prob: float = 0.0):
        self.images = [torch.from_numpy(im.rgb).permute(2, 0, 1).contiguous().to(device) for im in images]
        self.device = device
        self.crop_px = crop_px
        self.soften_prob = soften_prob
        self.gen = torch.Generator().manual_seed(seed)

    def _soften(self, gray: torch.Tensor) -> torch.Tensor:
        """Input-only degradation of some samples, like low-resolution or soft video and old film: the
        luma is shrunk by a random factor (0.35-1) and scaled back, so fine texture is gone."""
        out = gray.clone()
        size = gray.shape[-1]
        for i in range(gray.shape[0]):
            if not bool(torch.rand((), generator=self.gen) < self.soften_prob):
                continue
            small = max(8, int(size * float(torch.empty(()).uniform_(0.35, 1.0, generator=self.gen))))
            down = F.interpolate(gray[i:i + 1], size=(small, small), mode="bilinear", antialias=True,
                                 align_corners=False)
            out[i:i + 1] = F.interpolate(down, size=(size, size), mode="bilinear", align_corners=False)
        return out

    def batch(self, size: int, vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> lightness input (N,1,C,C), target ab (N,2,C,C), global vectors (N,1280)."""
        idx = torch.randint(len(self.images), (size,), generator=self.gen)
        crops = []
        for i in idx.tolist():
            img = self.images[i]
            _, h, w = img.shape
            short = min(h, w)
            side = int(torch.randint(min(int(self.crop_px * 0.7), short), short + 1, (1,), generator=self.gen))
            y = int(torch.randint(0, h - side + 1, (1,), generator=self.gen))
            x = int(torch.randint(0, w - side + 1, (1,), generator=self.gen))
            crop = img[:, y:y + side, x:x + side][None].float() / 255.0
            crop = F.interpolate(crop, size=(self.crop_px, self.crop_px), mode="bilinear", antialias=True,
                                 align_corners=False)
            if bool(torch.rand((), generator=self.gen) < 0.5):
                crop = crop.flip(-1)
            crops.append(crop)
        rgb = torch.cat(crops).clamp(0, 1)
        lab = rgb_to_lab(rgb)
        gray = luma709(rgb)
        if self.soften_prob > 0:
            gray = self._soften(gray)
        # Film-like jitter of the input only: gamma and grain, so the net does not depend on exact tones.
        gamma = torch.empty(size, 1, 1, 1).uniform_(0.8, 1.25, generator=self.gen).to(self.device)
        grain = torch.randn(gray.shape, generator=self.gen).to(self.device) * torch.empty(size, 1, 1, 1).uniform_(
            0, 0.012, generator=self.gen).to(self.device)
        gray = (gray.clamp_min(0) ** gamma + grain).clamp(0, 1)
        return gray_to_lightness(gray), lab[:, 1:], vectors[idx].to(self.device)
