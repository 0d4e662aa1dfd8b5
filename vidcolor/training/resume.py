"""Resuming `vidcolor train` from its own output: which settings must match, and how far is left to go.

A checkpoint resumes only under the settings that decide the network and what it learns; those that
suit the machine or the length of the run (--steps, --minutes, --device, --batch-size, --crop, the data
folders, --seed, --name, --cache-dir) may change. A finished checkpoint given a larger --steps (or
--minutes) trains on: the cosine learning-rate schedule is the one of the new length, taken up at the
step reached, and the optimizer's moments start afresh (finished checkpoints do not keep them).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..model.checkpoint import Checkpoint

if TYPE_CHECKING:
    from .train import TrainConfig

# Settings of the network itself, read from the checkpoint's network config: (config field, how a user sets it).
NETWORK_SETTING_FLAGS = {"head": "--head", "use_global": "--no-global", "base_channels": "base_channels",
                         "dropout": "--dropout"}
# Settings of what the network learns, read from the checkpoint's training record.
RECIPE_SETTING_FLAGS = {"learning_rate": "--lr", "weight_decay": "--weight-decay",
                        "rebalance_lambda": "--rebalance-lambda", "global_noise": "--global-noise",
                        "global_dropout": "--global-dropout", "soften_prob": "--soften"}
# Settings that may change on resume, said in the "resuming" line so a forgotten flag shows.
NOTED_SETTING_FLAGS = {"batch_size": "--batch-size", "crop_px": "--crop"}


def progress_fraction(step: int, elapsed_seconds: float, max_steps: int, max_minutes: float | None) -> float:
    """How far along the run is (0 to 1): by steps, or by time when --minutes is given and further."""
    frac = step / max_steps
    if max_minutes:
        frac = max(frac, elapsed_seconds / (max_minutes * 60))
    return min(frac, 1.0)


def cosine_lr_factor(progress: float) -> float:
    """The share of --lr the cosine schedule gives at `progress` (1 at the start, 0 at the end)."""
    return 0.5 * (1 + math.cos(math.pi * progress))


def _relevant(key: str, cfg: TrainConfig) -> bool:
    """Settings that do not act under these settings (rebalancing of a regression head) need not match."""
    if key == "rebalance_lambda":
        return cfg.head == "classification"
    if key in ("global_noise", "global_dropout"):
        return cfg.use_global
    return True


def _value_text(key: str, value: Any) -> str:
    if key == "rebalance_lambda" and value is None:
        return "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _difference(key: str, flag: str, saved: Any, given: Any) -> str:
    """One difference, said as the flags that would give the checkpoint's value."""
    if key == "use_global":
        return "the global branch (not --no-global)" if saved else "--no-global"
    return f"{flag} {_value_text(key, saved)} (not {_value_text(key, given)})"


def _same_file(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    return Path(a).resolve() == Path(b).resolve()


def settings_that_differ(ckpt: Checkpoint, cfg: TrainConfig) -> list[str]:
    """The settings of `cfg` under which `ckpt` cannot be resumed, each said as what it was trained with."""
    differ = []
    net_config = ckpt.net.config.to_dict()
    for key, flag in NETWORK_SETTING_FLAGS.items():
        if net_config[key] != getattr(cfg, key):
            differ.append(_difference(key, flag, net_config[key], getattr(cfg, key)))
    for key, flag in RECIPE_SETTING_FLAGS.items():
        if key in ckpt.training and _relevant(key, cfg) and ckpt.training[key] != getattr(cfg, key):
            differ.append(_difference(key, flag, ckpt.training[key], getattr(cfg, key)))
    started_from = ckpt.training.get("init_from")
    if cfg.init_from is not None and not _same_file(started_from, cfg.init_from):
        differ.append(f"--init {started_from}" if started_from else "no --init")
    return differ


def check_resumable(path: Path, ckpt: Checkpoint, cfg: TrainConfig) -> None:
    """Raise ConfigError when `ckpt` (found at the output `path`) was trained with settings other than `cfg`'s."""
    differ = settings_that_differ(ckpt, cfg)
    if differ:
        steps = ckpt.training.get("steps", "?")
        raise ConfigError(
            f"cannot resume {path} ({steps} steps trained): it was trained with {', '.join(differ)}; "
            f"give the same settings to resume it, another -o for a new model, or --init {path} with another -o "
            f"to start from its weights")


def check_init_is_not_output(cfg: TrainConfig) -> None:
    """Raise ConfigError when --init names the output itself (fine-tuning writes a new checkpoint)."""
    if cfg.init_from is not None and _same_file(cfg.init_from, cfg.output):
        raise ConfigError(f"--init and -o are the same file ({cfg.output}); write the fine-tuned model to "
                          f"another -o, or leave out --init to resume or extend {cfg.output}")


def noted_changes(ckpt: Checkpoint, cfg: TrainConfig, images: int) -> list[str]:
    """Settings that may change on resume and did, as 'was -> now' notes."""
    notes = [f"{flag} {ckpt.training[key]} -> {getattr(cfg, key)}" for key, flag in NOTED_SETTING_FLAGS.items()
             if key in ckpt.training and ckpt.training[key] != getattr(cfg, key)]
    if "images" in ckpt.training and ckpt.training["images"] != images:
        notes.append(f"training images {ckpt.training['images']} -> {images}")
    return notes


def run_length_text(cfg: TrainConfig) -> str:
    """The run's length as its flags say it: '--steps N' or '--steps N / --minutes M'."""
    return f"--steps {cfg.max_steps}" + (f" / --minutes {cfg.max_minutes:g}" if cfg.max_minutes else "")


def nothing_to_do_message(path: Path, ckpt: Checkpoint, cfg: TrainConfig) -> str:
    """What a checkpoint that needs no more training under these settings says, and how to train it further."""
    steps = ckpt.training.get("steps", "?")
    longer = "--steps or --minutes" if cfg.max_minutes else "--steps"
    if not ckpt.training.get("finished"):
        planned = ckpt.training.get("max_steps", "?")
        return (f"{path} has {steps} steps of an unfinished run of {planned}, already past {run_length_text(cfg)}; "
                f"nothing to do, the file is left as it is (run with --steps {planned} to resume that run)")
    return (f"{path} is already fully trained ({steps} steps, {run_length_text(cfg)}); nothing to do (give a larger "
            f"{longer} to train it further, or --init {path} with another -o to fine-tune from it)")
