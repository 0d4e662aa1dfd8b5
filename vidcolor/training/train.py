"""Training loop for the colorization net (resumable, time- or step-bounded)."""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..errors import ConfigError, Terminated
from ..model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ..model.chroma_bins import ChromaBins
from ..model.colorizer import resolve_device
from ..model.unet import ColorNet, NetConfig
from .calibrate import calibration_ranges
from .data import (CropSampler, TrainingImage, compute_global_vectors, dataset_fingerprint, estimate_prior,
                   load_training_images)
from .interrupt import StopSignals, TrainingInterrupted
from .resume import (check_init_is_not_output, check_resumable, cosine_lr_factor, noted_changes,
                     nothing_to_do_message, progress_fraction, run_length_text)

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


def _previous_checkpoint(out_path: Path, cfg: TrainConfig) -> Checkpoint | None:
    """The output's checkpoint, to resume or extend, or None; one trained with other settings is refused."""
    if not out_path.is_file():
        return None
    previous = load_checkpoint(out_path, with_optimizer=True)
    check_resumable(out_path, previous, cfg)
    return previous


def _reached(ckpt: Checkpoint) -> tuple[int, float]:
    """Steps and wall seconds a checkpoint's training reached."""
    return int(ckpt.training.get("steps", 0)), float(ckpt.training.get("wall_seconds", 0.0))


def _fully_trained(ckpt: Checkpoint, cfg: TrainConfig) -> bool:
    """True for a checkpoint that this run's --steps and --minutes would not train further: finished, or an
    unfinished one already past them (left as it is, so that its own longer run still resumes)."""
    done = progress_fraction(*_reached(ckpt), cfg.max_steps, cfg.max_minutes) >= 1.0
    if ckpt.training.get("finished"):
        return done
    return done and cfg.max_steps < int(ckpt.training.get("max_steps", cfg.max_steps))  # not its own run's length


def _resume_message(out_path: Path, ckpt: Checkpoint, cfg: TrainConfig, images: int) -> str:
    """What resuming (or extending a finished) checkpoint does, in one line."""
    step, elapsed = _reached(ckpt)
    if ckpt.training.get("finished"):
        factor = cosine_lr_factor(progress_fraction(step, elapsed, cfg.max_steps, cfg.max_minutes))
        message = (f"{out_path} is trained to {step} steps; training on to {run_length_text(cfg)}: the learning "
                   f"rate follows the cosine schedule of the new length from {factor:.0%} of --lr down to 0, "
                   f"with fresh optimizer moments")
    else:
        message = f"resuming {out_path} from step {step} of {cfg.max_steps}"
        if ckpt.optimizer_state is None:
            message += " (it holds no optimizer state: the moments start afresh)"
    notes = noted_changes(ckpt, cfg, images)
    return message + (f" (now: {'; '.join(notes)})" if notes else "")


def _starting_point(cfg: TrainConfig, images: list[TrainingImage],
                    previous: Checkpoint | None) -> tuple[ColorNet, ChromaBins]:
    """The net and chroma bins to train: the output's own checkpoint, the --init one, or new ones."""
    bins = previous.bins if previous is not None else estimate_prior(images, seed=cfg.seed)
    initial = load_checkpoint(cfg.init_from) if cfg.init_from and previous is None else None
    if initial is not None:
        bins = initial.bins
    net_cfg = NetConfig(base_channels=cfg.base_channels, use_global=cfg.use_global, head=cfg.head,
                        bin_count=bins.count, dropout=cfg.dropout)
    if initial is not None and initial.net.config != net_cfg:
        raise ConfigError(f"{cfg.init_from} is a different network ({initial.net.config}); cannot fine-tune "
                          f"it with these settings ({net_cfg})")
    net = ColorNet(net_cfg)
    source = previous or initial  # the output's own network matches: check_resumable saw to it
    if source is not None:
        net.load_state_dict(source.net.state_dict())
    return net, bins


def _interrupted(out_path: Path, saved_step: int | None, step: int, terminated: bool) -> TrainingInterrupted:
    """The exception for Ctrl-C or SIGTERM, saying what is on disk and how to go on."""
    cause = "SIGTERM" if terminated else "Ctrl-C"
    if saved_step == step:
        message = f"stopped by {cause}: saved {step} steps to {out_path}; run the same command again to resume"
    elif saved_step is None:
        message = f"stopped by {cause} without saving; {out_path} was not written"
    else:
        message = (f"stopped by {cause} without saving; {out_path} keeps its last save ({saved_step} steps): "
                   f"run the same command again to resume from there")
    return TrainingInterrupted(message, saved_step, out_path, terminated)


def train(cfg: TrainConfig, resume: bool = True) -> str:
    """Train (or resume, or extend a finished run) and write the checkpoint to cfg.output; returns the model id.

    Ctrl-C or SIGTERM saves the state reached and raises TrainingInterrupted (vidcolor/training/interrupt.py).
    """
    out_path = Path(cfg.output)
    check_init_is_not_output(cfg)
    previous = _previous_checkpoint(out_path, cfg) if resume else None
    if previous is not None and _fully_trained(previous, cfg):
        print(nothing_to_do_message(out_path, previous, cfg))
        return previous.model_id
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    images = load_training_images(cfg.data)
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else out_path.parent / ".vidcolor-train-cache"
    fingerprint = dataset_fingerprint(images)
    vectors = compute_global_vectors(images, cache_dir / "global_vectors.npz", device) if cfg.use_global \
        else torch.zeros(len(images), 1)
    net, bins = _starting_point(cfg, images, previous)
    net = net.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    step, elapsed, saved_step = 0, 0.0, None
    if previous is not None:
        step, elapsed = _reached(previous)
        saved_step = step
        if previous.optimizer_state is not None:
            opt.load_state_dict(previous.optimizer_state)
        print(_resume_message(out_path, previous, cfg, len(images)))
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

    def progress() -> float:
        return progress_fraction(step, elapsed, cfg.max_steps, cfg.max_minutes)

    def info(finished: bool) -> dict:
        return {**asdict(cfg), "steps": step, "wall_seconds": round(elapsed, 1), "images": len(images),
                "dataset_fingerprint": fingerprint, "device": str(device),
                "hardware": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
                "torch": str(torch.__version__), "finished": finished, "last_loss": last_loss}

    def save_progress() -> None:
        nonlocal saved_step
        save_checkpoint(out_path, net, bins, name=cfg.name, training=info(False), optimizer_state=opt.state_dict())
        saved_step = step

    last_loss = float("nan")
    last_save = time.monotonic()
    start = time.monotonic() - elapsed
    ranges = None
    with StopSignals() as stop:
        stopped = terminated = False
        bar = tqdm(total=cfg.max_steps, initial=step, desc="train", unit="step", dynamic_ncols=True)
        net.train()
        try:
            # A stop signal only sets stop.requested here: the step in progress ends whole before the state is saved.
            while progress() < 1.0 and not stop.requested:
                for group in opt.param_groups:
                    group["lr"] = cfg.learning_rate * cosine_lr_factor(progress())
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
                    save_progress()
                    last_save = time.monotonic()
            bar.close()
            stopped, terminated = stop.requested, stop.terminated
            if not stopped:
                net.eval()
                # int8 activation ranges, so CPUs with VNNI run the new model in int8 (model/int8.py)
                with stop.immediate():
                    ranges = calibration_ranges(net, images, vectors) if cfg.calibrate_int8 else None
        except KeyboardInterrupt as exc:
            stopped, terminated = True, stop.terminated or isinstance(exc, Terminated)
            if stop.abandoned:
                raise _interrupted(out_path, saved_step, step, terminated) from None
        finally:
            bar.close()
        try:
            if stopped and saved_step != step:
                save_progress()
            elif not stopped:
                model_id = save_checkpoint(out_path, net, bins, name=cfg.name, training=info(True),
                                           half_precision=True, int8_ranges=ranges)
        except KeyboardInterrupt:  # the ABANDON_PRESSES-th stop signal gives the save up; the file stays whole
            raise _interrupted(out_path, saved_step, step, terminated or stop.terminated) from None
    if stopped:
        raise _interrupted(out_path, saved_step, step, terminated)
    print(f"trained {step} steps in {elapsed / 60:.1f} min on {device}; wrote {out_path} ({model_id})")
    return model_id
