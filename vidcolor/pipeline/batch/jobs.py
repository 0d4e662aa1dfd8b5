"""One batch job and the function that colorizes it (the same locally and in a Ray task)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import MediaError
from ..colorize import RunOptions, colorize_video
from ..config import PipelineConfig

if TYPE_CHECKING:
    from ...model.colorizer import Colorizer


@dataclass(frozen=True)
class ColorizerSpec:
    """How to load the model: picklable, so Ray workers can load it themselves (once per worker)."""

    checkpoint: Path
    device: str = "auto"
    temperature: float = 0.38
    precision: str = "auto"

    def load(self) -> "Colorizer":
        """The loaded Colorizer."""
        from ...model.colorizer import Colorizer

        return Colorizer(self.checkpoint, device=self.device, temperature=self.temperature, precision=self.precision)

    def model_id(self) -> str:
        """The checkpoint's model id (without building the model on a device)."""
        from ...model.checkpoint import load_checkpoint

        return load_checkpoint(self.checkpoint).model_id


@dataclass
class Job:
    """One film to colorize."""

    rel: str
    input_path: Path
    output_path: Path
    output_rel: str
    size: int
    mtime_ns: int
    duration_s: float | None = None


@dataclass
class JobResult:
    """What a finished colorize reports back to the driver."""

    frames: int
    seconds: float
    model_id: str
    concealed_errors: int
    worker: str
    truncated_at_seconds: float | None = None  # the input ended this far in, well before its declared end
    input_changed: bool = False  # the input was written to while it was read (still being copied?)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def worker_name() -> str:
    """Host and process id, for the ledger's worker column."""
    return f"{socket.gethostname()}:{os.getpid()}"


def colorize_job(job: Job, config: PipelineConfig, colorizer: "Colorizer", options: RunOptions) -> JobResult:
    """Colorize one film into its mirrored output (atomic: a failure leaves no output file)."""
    folder = job.output_path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        why = f"{blocker} is a file, not a folder" if blocker else (e.strerror or str(e)).lower()
        raise MediaError(f"cannot make the output folder {folder}: {why}") from None
    stats = colorize_video(job.input_path, job.output_path, config, colorizer, options)
    return JobResult(stats.frames, stats.seconds, stats.model_id, stats.concealed_errors, worker_name(),
                     stats.truncated_at_seconds, stats.input_changed)
