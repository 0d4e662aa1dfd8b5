"""`vidcolor run`: colorize one film (or a directory of films)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import DEFAULT_MODEL, app, fail


def _pipeline_config(pipeline: str, **overrides):
    from ..pipeline.config import load_pipeline_config

    return load_pipeline_config(pipeline).replace(**overrides)


def _colorizer(model: Path, device: str, temperature: float):
    from ..model.colorizer import Colorizer

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
    from ..pipeline.colorize import RunOptions, check_output_path, colorize_video, default_output_path

    config = _pipeline_config(pipeline, batch_size=batch_size, temperature=temperature)
    if input_path.is_dir():
        fail("directory batches are not available yet; give one video file")
    if not input_path.exists():
        fail(f"input not found: {input_path}")
    check_output_path(input_path, output or default_output_path(input_path), overwrite)
    colorizer = _colorizer(model, device, config.temperature)
    options = RunOptions(smoothing=not no_smoothing, overwrite=overwrite, progress=not quiet)
    stats = colorize_video(input_path, output, config, colorizer, options)
    typer.echo(stats.summary())
