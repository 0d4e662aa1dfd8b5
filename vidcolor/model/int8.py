"""Int8 inference for the colour net on CPUs with VNNI: static quantization with stored calibration.

The whole U-Net is traced by torch.fx and quantized (per-channel symmetric int8 weights, per-tensor
uint8 activations; concatenations, upsampling and the global-vector fusion run on int8 tensors too, so
nothing is converted back and forth between layers). Activation ranges are measured once on training
photos (`scripts/calibrate_int8.py`) and stored in the checkpoint, so every run and every preview
quantizes the same way, whatever the film.

Works on a net whose batch norms are already folded into its convolutions (the inference copy).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable

import torch
import torch.nn as nn

from .cpu_features import cpu_flags

# torch.ao.quantization's FX flow warns that it is deprecated in favour of torchao; it is what ships with
# torch, and the warning means nothing to a user colorizing a film.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    try:
        from torch.ao.quantization import QConfig, QConfigMapping, quantize_fx
        from torch.ao.quantization.observer import HistogramObserver, MinMaxObserver, PerChannelMinMaxObserver
    except ImportError:  # a torch without the FX quantization flow: no int8 (cpu_has_vnni says False)
        quantize_fx = None

CPU_VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
QUANT_ENGINE = "x86"

# The skip concatenations join tensors of different scales; torch's int8 cat then requantizes to the
# output's calibrated range (which covers both inputs) and warns on every call, also in a net loaded from
# the trace cache. Measured: int8 vs fp32 on the held-out photos, +0.04 dB mean PSNR (benchmarks/README.md).
warnings.filterwarnings("ignore", message="All inputs of this cat operator must share")


def cpu_has_vnni() -> bool:
    """True where int8 dot products run in hardware (AVX512-VNNI, AVX-VNNI or AMX) and this torch can quantize."""
    return (quantize_fx is not None and QUANT_ENGINE in torch.backends.quantized.supported_engines
            and bool(cpu_flags() & set(CPU_VNNI_FLAGS)))


def _prepare(net: nn.Module, activation_observer) -> nn.Module:
    """A float copy of `net`, traced, with observers after every quantized operation."""
    weight = PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    activation = activation_observer.with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    mapping = QConfigMapping().set_global(QConfig(activation=activation, weight=weight))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_fx.prepare_fx(copy.deepcopy(net).float().eval(), mapping, _example(net))


def _observers(prepared: nn.Module) -> dict[str, nn.Module]:
    """The activation observers of a prepared net, by their (deterministic) names in the traced graph."""
    return {name: module for name, module in prepared.named_children() if name.startswith("activation_post_process")}


def _example(net: nn.Module, height_px: int = 64, width_px: int = 64) -> tuple[torch.Tensor, torch.Tensor | None]:
    lightness = torch.linspace(0, 100, height_px * width_px).reshape(1, 1, height_px, width_px)
    vec = torch.zeros(1, net.config.global_dim) if net.config.use_global else None
    return lightness, vec


def calibrate(net: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor | None]]) -> dict[str, list[float]]:
    """Run (lightness, global vector) batches through `net` and return each activation's clipping range.

    Ranges come from histogram observers (they clip rare outliers to keep resolution where values are);
    each is stored as the [low, high] that reproduces the observer's scale and zero point.
    """
    prepared = _prepare(net, HistogramObserver)
    with torch.inference_mode():
        for lightness, vec in batches:
            prepared(lightness.float(), None if vec is None else vec.float())
    ranges = {}
    for key, observer in _observers(prepared).items():
        scale, zero_point = observer.calculate_qparams()
        scale, zero_point = float(scale.reshape(-1)[0]), int(zero_point.reshape(-1)[0])
        ranges[key] = [-zero_point * scale, (255 - zero_point) * scale]
    return ranges


def quantize(net: nn.Module, ranges: dict[str, list[float]]) -> nn.Module:
    """An int8 copy of `net` (batch norms folded) using stored activation ranges; ValueError if they do not fit."""
    torch.backends.quantized.engine = QUANT_ENGINE
    prepared = _prepare(net, MinMaxObserver)
    observers = _observers(prepared)
    if set(observers) != set(ranges):
        raise ValueError("the stored int8 calibration does not match this network")
    for key, observer in observers.items():
        low, high = ranges[key]
        observer.min_val = torch.tensor(float(low))
        observer.max_val = torch.tensor(float(high))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = quantize_fx.convert_fx(prepared)
    quantized.config = net.config  # callers read the net's config (head, global_dim)
    return quantized.eval()
