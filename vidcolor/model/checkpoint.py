"""One-file checkpoints: weights, the config to rebuild the net, the chroma bins and prior, a model id."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelError
from .chroma_bins import ChromaBins
from .global_encoder import ENCODER_NAME
from .unet import ColorNet, NetConfig

CHECKPOINT_FORMAT = "vidcolor-checkpoint"
CHECKPOINT_VERSION = 1


@dataclass
class Checkpoint:
    """A loaded model and everything shipped with it."""

    net: ColorNet
    bins: ChromaBins
    model_id: str
    training: dict[str, Any] = field(default_factory=dict)
    optimizer_state: dict[str, Any] | None = None
    int8_ranges: dict[str, list[float]] | None = None  # activation ranges for int8 inference (model/int8.py)


def save_checkpoint(path: str | os.PathLike, net: ColorNet, bins: ChromaBins, *, name: str,
                    training: dict[str, Any] | None = None,
                    optimizer_state: dict[str, Any] | None = None, half_precision: bool = False,
                    int8_ranges: dict[str, list[float]] | None = None) -> str:
    """Write atomically; returns the model id (name + short hash of the weights).

    `half_precision` stores float weights as fp16 (half the file; inference is unaffected) and is meant
    for finished models; checkpoints that will be resumed keep fp32 and the optimizer state.
    """
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    if half_precision:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].float().numpy().tobytes())
    model_id = f"{name}-{digest.hexdigest()[:10]}"
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "model_id": model_id,
        "global_encoder": ENCODER_NAME,
        "net_config": net.config.to_dict(),
        "state_dict": state,
        "bin_centers": bins.centers.cpu(),
        "bin_prior": bins.prior.cpu(),
        "training": training or {},
    }
    if optimizer_state is not None:
        payload["optimizer_state"] = optimizer_state
    if int8_ranges is not None:
        payload["int8_activation_ranges"] = {k: [float(lo), float(hi)] for k, (lo, hi) in int8_ranges.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return model_id


def load_checkpoint(path: str | os.PathLike, *, with_optimizer: bool = False) -> Checkpoint:
    """Load and validate; every failure is a one-line ModelError."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model checkpoint not found: {path}")
    try:
        data = path.read_bytes()
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise ModelError(f"{path} is not a readable vidcolor checkpoint (corrupt or not a model file)") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ModelError(f"{path} is not a vidcolor checkpoint")
    version = payload.get("format_version")
    if version != CHECKPOINT_VERSION:
        raise ModelError(
            f"{path} is a vidcolor checkpoint of format version {version}; this vidcolor reads version "
            f"{CHECKPOINT_VERSION} (upgrade vidcolor or retrain the model)"
        )
    if payload.get("global_encoder") != ENCODER_NAME:
        raise ModelError(f"{path} needs global encoder {payload.get('global_encoder')!r}, not {ENCODER_NAME!r}")
    try:
        config = NetConfig(**payload["net_config"])
        net = ColorNet(config)
        net.load_state_dict(payload["state_dict"])
        bins = ChromaBins(payload["bin_centers"].float(), payload["bin_prior"].float())
        ranges = payload.get("int8_activation_ranges")
        int8_ranges = None if ranges is None else {str(k): [float(lo), float(hi)] for k, (lo, hi) in ranges.items()}
    except Exception as exc:
        raise ModelError(f"{path} does not match this vidcolor's network ({type(exc).__name__})") from exc
    net.eval()
    return Checkpoint(
        net=net,
        bins=bins,
        model_id=str(payload["model_id"]),
        training=dict(payload.get("training", {})),
        optimizer_state=payload.get("optimizer_state") if with_optimizer else None,
        int8_ranges=int8_ranges,
    )


def compact_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> str:
    """Re-save a (possibly interrupted) training checkpoint as a small inference file: fp16, no optimizer."""
    ckpt = load_checkpoint(src)
    name = ckpt.model_id.rsplit("-", 1)[0]
    return save_checkpoint(dst, ckpt.net, ckpt.bins, name=name, training=ckpt.training, half_precision=True,
                           int8_ranges=ckpt.int8_ranges)
