"""On-disk cache of the traced CPU inference net, so a cold start (a preview) does not rebuild it.

Building the int8 net (fx trace, quantize, TorchScript trace, freeze) takes ~2 s on 2 cores; loading the
saved TorchScript file takes ~0.2 s. Files are keyed by everything that shapes them (model id, int8
calibration, precision, torch version) and written atomically; any problem with the cache only costs
the rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import torch


def cache_dir() -> Path:
    """$VIDCOLOR_CACHE_DIR, else $XDG_CACHE_HOME/vidcolor, else ~/.cache/vidcolor."""
    if os.environ.get("VIDCOLOR_CACHE_DIR"):
        return Path(os.environ["VIDCOLOR_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vidcolor"


def cache_path(model_id: str, key: dict) -> Path:
    """Where the traced net for this model and these settings lives."""
    digest = hashlib.sha256(json.dumps({**key, "torch": torch.__version__}, sort_keys=True).encode()).hexdigest()
    return cache_dir() / f"{model_id}-{digest[:16]}.torchscript"


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Loading int8 TorchScript makes torch's C++ side print a deprecation notice for quantized tensors
    straight to file descriptor 2 (no Python warning to filter); keep it off the user's terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_or_build(path: Path, build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """The TorchScript module saved at `path`, or `build()`'s result, saved there for next time."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 marks TorchScript deprecated
        if path.is_file():
            try:
                with _native_stderr_silenced():
                    return torch.jit.load(str(path), map_location="cpu")
            except Exception:  # noqa: BLE001 - a damaged or foreign file: rebuild and replace it
                pass
        net = build()
        if isinstance(net, torch.jit.ScriptModule):
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.jit.save(net, str(tmp))
                os.replace(tmp, path)
            except (OSError, RuntimeError):  # read-only home, full disk: run without the cache
                with suppress(OSError):
                    tmp.unlink(missing_ok=True)
    return net
