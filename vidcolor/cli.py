"""Command-line front end: parses arguments, calls the pipeline, reports. Nothing else lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import VidcolorError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Colorize black-and-white film with a trained neural network.")

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "vidcolor-base.pt"


@app.callback()
def _root() -> None:
    """Colorize black-and-white film with a trained neural network."""


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"vidcolor: error: {message}", err=True)
    raise typer.Exit(code)


def _pipeline_config(pipeline: str, **overrides):
    from .pipeline.config import load_pipeline_config

    return load_pipeline_config(pipeline).replace(**overrides)


def _colorizer(model: Path, device: str, temperature: float):
    from .model.colorizer import Colorizer

    return Colorizer(model, device=device, temperature=temperature)


@app.command()
def run(
    input_path: Path = typer.Argument(..., metavar="IN", help="A video file, or a directory of films."),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="Output file (default: IN_stem.color.EXT beside the input)."),
    model: Path = typer.Option(DEFAULT_MODEL, "--model", help="Checkpoint (.pt) to use."),
    pipeline: str = typer.Option("default", "--pipeline", help="Preset name (default, fast, archive) or a TOML file."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Frames per model call."),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="Annealed-mean temperature T."),
    no_smoothing: bool = typer.Option(False, "--no-smoothing", help="Turn temporal smoothing off."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Colorize a film (or every film under a directory), keeping its sound, timing and metadata."""
    from .pipeline.colorize import RunOptions, check_output_path, colorize_video, default_output_path

    config = _pipeline_config(pipeline, batch_size=batch_size, temperature=temperature)
    if input_path.is_dir():
        _fail("directory batches are not available yet; give one video file")
    if not input_path.exists():
        _fail(f"input not found: {input_path}")
    check_output_path(input_path, output or default_output_path(input_path), overwrite)
    colorizer = _colorizer(model, device, config.temperature)
    options = RunOptions(smoothing=not no_smoothing, overwrite=overwrite, progress=not quiet)
    stats = colorize_video(input_path, output, config, colorizer, options)
    typer.echo(stats.summary())


@app.command()
def train(
    data: list[Path] = typer.Argument(..., help="Folders of colour photos and/or colour video files."),
    output: Path = typer.Option(..., "-o", "--output", help="Checkpoint to write (resumed if it exists)."),
    name: str = typer.Option("vidcolor", help="Model name, the first part of the model id."),
    head: str = typer.Option("classification", help="classification (chroma bins) or regression (Huber on ab)."),
    rebalance_lambda: float = typer.Option(0.5, help="Class rebalancing mix lambda; negative turns rebalancing off."),
    no_global: bool = typer.Option(False, "--no-global", help="Train without the global scene branch (ablation)."),
    steps: int = typer.Option(20000, help="Maximum optimizer steps."),
    minutes: Optional[float] = typer.Option(None, help="Stop after this many minutes (the LR schedule follows it)."),
    batch_size: int = typer.Option(32, "--batch-size"),
    crop_px: int = typer.Option(192, "--crop", help="Training crop size in pixels (a multiple of 16)."),
    learning_rate: float = typer.Option(1e-3, "--lr"),
    weight_decay: float = typer.Option(2e-3, help="AdamW weight decay."),
    dropout: float = typer.Option(0.1, help="Dropout2d before the head."),
    global_noise: float = typer.Option(0.5, help="Noise on the global vector during training (x its std)."),
    global_dropout: float = typer.Option(0.2, help="Fraction of samples trained with no global vector."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    seed: int = typer.Option(0),
    cache_dir: Optional[Path] = typer.Option(None, help="Where cached global vectors live."),
) -> None:
    """Train a colorization model on colour photos and videos (resumable)."""
    from .training.train import TrainConfig
    from .training.train import train as run_training

    if head not in ("classification", "regression"):
        _fail("--head must be classification or regression")
    if crop_px % 16:
        _fail("--crop must be a multiple of 16")
    cfg = TrainConfig(data=[str(d) for d in data], output=str(output), name=name, head=head,
                      rebalance_lambda=None if rebalance_lambda < 0 else rebalance_lambda,
                      use_global=not no_global, max_steps=steps, max_minutes=minutes, batch_size=batch_size,
                      crop_px=crop_px, learning_rate=learning_rate, weight_decay=weight_decay, dropout=dropout,
                      global_noise=global_noise, global_dropout=global_dropout, device=device, seed=seed,
                      cache_dir=str(cache_dir) if cache_dir else None)
    run_training(cfg)


def main() -> None:
    """Entry point: one-line errors, exit code 2 for user errors, 130 for Ctrl-C."""
    try:
        app()
    except VidcolorError as exc:
        typer.echo(f"vidcolor: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("vidcolor: interrupted", err=True)
        sys.exit(130)
