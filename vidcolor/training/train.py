"""Training loop for the colorization net (resumable, time- or step-bounded)."""

from __future__ import annotations

import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..errors import ConfigError
from ..model.checkpoint import load_checkpoint, save_checkpoint
from ..model.colorizer import resolve_device
from ..model.unet import ColorNet, NetConfig
from .calibrate import calibration_ranges
from .data import CropSampler, compute_global_vectors, dataset_fingerprint, estimate_prior, load_training_images

OUTPUT_STRIDE = 4


@dataclass
class TrainConfig:
    data: list[str]
    output: str
    name: str = "vidcolor"
    head: str = "classification"  # or "regression"
    rebalance_lambda: float | None = 0.5  # None: no class rebalancing
    use_global: bool = True
    base_channels: int = 32
    crop_px: int = 192
    dropout: float = 0.1
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 2e-3
    global_noise: float = 0.5  # training-time noise on the global vector, in units of its per-dim std
    global_dropout: float = 0.2  # fraction of samples trained with a zeroed global vector
    max_steps: int = 20000
    max_minutes: float | None = None
    seed: int = 0
    device: str = "auto"
    save_every_seconds: float = 120.0
    cache_dir: str | None = None
    init_from: str | None = None  # fine-tune: start from this checkpoint's weights and chroma bins
    soften_prob: float = 0.0  # share of samples whose input luma is softened (training/data.py)
    calibrate_int8: bool = True  # measure and store int8 activation ranges at the end
    extra: dict = field(default_factory=dict)


def _loss(out: torch.Tensor, ab: torch.Tensor, cfg: TrainConfig, bins, class_weights) -> torch.Tensor:
    target_ab = F.avg_pool2d(ab, OUTPUT_STRIDE)
    if cfg.head == "regression":
        return F.smooth_l1_loss(out.float(), target_ab, beta=5.0)
    target = bins.soft_encode(target_ab)
    logp = F.log_softmax(out.float(), dim=1)
    per_pixel = -(target * logp).sum(dim=1)
    if class_weights is not None:
        per_pixel = per_pixel * class_weights[target.argmax(dim=1)]
    return per_pixel.mean()


def _perturb_global(vecs: torch.Tensor, std: torch.Tensor, noise: float, dropout: float) -> torch.Tensor:
    """With ~1,000 photos the exact global vector identifies the image; noise and dropout stop the net
    from memorising per-image colours through it and make it rely on what the vector says about the scene."""
    vecs = vecs + torch.randn_like(vecs) * std * noise
    keep = (torch.rand(vecs.shape[0], 1, device=vecs.device) >= dropout).to(vecs.dtype)
    return vecs * keep


def train(cfg: TrainConfig, resume: bool = True) -> str:
    """Train (or resume) and write the checkpoint to cfg.output; returns the model id."""
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    out_path = Path(cfg.output)
    images = load_training_images(cfg.data)
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else out_path.parent / ".vidcolor-train-cache"
    fingerprint = dataset_fingerprint(images)
    vectors = compute_global_vectors(images, cache_dir / "global_vectors.npz", device) if cfg.use_global \
        else torch.zeros(len(images), 1)
    bins = estimate_prior(images, seed=cfg.seed)
    net_cfg = NetConfig(base_channels=cfg.base_channels, use_global=cfg.use_global, head=cfg.head,
                        bin_count=bins.count, dropout=cfg.dropout)
    net = ColorNet(net_cfg).to(device)
    if cfg.init_from:
        initial = load_checkpoint(cfg.init_from)
        if initial.net.config != net_cfg:
            raise ConfigError(f"{cfg.init_from} is a different network ({initial.net.config}); cannot fine-tune "
                              f"it with these settings ({net_cfg})")
        net.load_state_dict(initial.net.state_dict())
        bins = initial.bins
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    step, elapsed = 0, 0.0
    if resume and out_path.is_file():
        ckpt = load_checkpoint(out_path, with_optimizer=True)
        if ckpt.training.get("finished"):
            print(f"{out_path} is already fully trained ({ckpt.training.get('steps')} steps); nothing to do")
            return ckpt.model_id
        if ckpt.optimizer_state is not None and ckpt.net.config == net_cfg:
            net.load_state_dict(ckpt.net.state_dict())
            opt.load_state_dict(ckpt.optimizer_state)
            bins = ckpt.bins
            step = int(ckpt.training.get("steps", 0))
            elapsed = float(ckpt.training.get("wall_seconds", 0.0))
            print(f"resuming from step {step}")
    class_weights = bins.rebalance_weights(cfg.rebalance_lambda).to(device) \
        if cfg.head == "classification" and cfg.rebalance_lambda is not None else None
    bins.centers = bins.centers.to(device)
    vector_std = vectors.std(dim=0, keepdim=True).to(device)
    sampler = CropSampler(images, device, cfg.crop_px, seed=cfg.seed + step, soften_prob=cfg.soften_prob)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast(
        "cpu", enabled=False)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True

    def progress_fraction() -> float:
        frac = step / cfg.max_steps
        if cfg.max_minutes:
            frac = max(frac, elapsed / (cfg.max_minutes * 60))
        return min(frac, 1.0)

    def info(finished: bool) -> dict:
        return {**asdict(cfg), "steps": step, "wall_seconds": round(elapsed, 1), "images": len(images),
                "dataset_fingerprint": fingerprint, "device": str(device),
                "hardware": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
                "torch": str(torch.__version__), "finished": finished, "last_loss": last_loss}

    last_loss = float("nan")
    last_save = time.monotonic()
    start = time.monotonic() - elapsed
    bar = tqdm(total=cfg.max_steps, initial=step, desc="train", unit="step", dynamic_ncols=True)
    net.train()
    try:
        while progress_fraction() < 1.0:
            for group in opt.param_groups:
                group["lr"] = cfg.learning_rate * 0.5 * (1 + math.cos(math.pi * progress_fraction()))
            lightness, ab, vecs = sampler.batch(cfg.batch_size, vectors)
            if cfg.use_global:
                vecs = _perturb_global(vecs, vector_std, cfg.global_noise, cfg.global_dropout)
            if device.type == "cuda":
                lightness = lightness.contiguous(memory_format=torch.channels_last)
            with autocast:
                out = net(lightness, vecs if cfg.use_global else None)
            loss = _loss(out, ab, cfg, bins, class_weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            elapsed = time.monotonic() - start
            if step % 20 == 0:
                last_loss = loss.item()
                bar.set_postfix(loss=f"{last_loss:.3f}", lr=f"{opt.param_groups[0]['lr']:.1e}")
            bar.update(1)
            if time.monotonic() - last_save > cfg.save_every_seconds:
                save_checkpoint(out_path, net, bins, name=cfg.name, training=info(False),
                                optimizer_state=opt.state_dict())
                last_save = time.monotonic()
    finally:
        bar.close()
    net.eval()
    # int8 activation ranges, so CPUs with VNNI run the new model in int8 (model/int8.py)
    ranges = calibration_ranges(net, images, vectors) if cfg.calibrate_int8 else None
    model_id = save_checkpoint(out_path, net, bins, name=cfg.name, training=info(True), half_precision=True,
                               int8_ranges=ranges)
    print(f"trained {step} steps in {elapsed / 60:.1f} min on {device}; wrote {out_path} ({model_id})")
    return model_id
