"""`vidcolor run`: colorize one film (or a directory of films)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import DEVICE_OPTION, MODEL_OPTION, PIPELINE_OPTION, PRECISION_OPTION, app, fail


def _pipeline_config(pipeline: str, **overrides):
    from ..pipeline.config import load_pipeline_config

    return load_pipeline_config(pipeline).replace(**overrides)


def _colorizer(model: Path, device: str, temperature: float, precision: str):
    from ..model.colorizer import Colorizer

    return Colorizer(model, device=device, temperature=temperature, precision=precision)


@app.command()
def run(
    input_path: Path = typer.Argument(..., metavar="IN", help="A video file, or a directory of films."),
    output_arg: Optional[Path] = typer.Argument(None, metavar="OUT", show_default=False,
                                                help="Where to write (the same as --output)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="Output file (default: IN_stem.color.EXT beside the input); "
                                               "for a directory, the output folder (default: IN.colorized)."),
    model: Path = MODEL_OPTION,
    pipeline: str = PIPELINE_OPTION,
    device: str = DEVICE_OPTION,
    precision: str = PRECISION_OPTION,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Frames per model call."),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="Annealed-mean temperature T."),
    no_smoothing: bool = typer.Option(False, "--no-smoothing", help="Turn temporal smoothing off."),
    keep_10_bit: Optional[bool] = typer.Option(None, "--10-bit/--8-bit", show_default=False,
                                               help="Sources deeper than 8 bits: write 10-bit H.264 (High 10) "
                                                    "keeping their luma, or 8-bit, which every player shows "
                                                    "(default: the preset's; archive: 10-bit)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    retries: int = typer.Option(1, "--retries", min=0, help="Directories: extra attempts for a film that fails."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", metavar="ADDRESS",
                                              help="Directories: run on a Ray cluster ('auto', 'local' or host:port)."),
) -> None:
    """Colorize a film (or every film under a directory), keeping its sound, timing and metadata."""
    from ..pipeline.colorize import RunOptions, check_output_path, colorize_video, default_output_path

    if output_arg is not None and output is not None and output_arg != output:
        fail(f"two outputs given: {output_arg} and --output {output}; give one")
    output = output or output_arg
    config = _pipeline_config(pipeline, batch_size=batch_size, temperature=temperature, keep_10_bit=keep_10_bit)
    options = RunOptions(smoothing=not no_smoothing, overwrite=overwrite, progress=not quiet)
    if input_path.is_dir():
        raise typer.Exit(_run_batch(input_path, output, config, model, device, precision, options, retries,
                                    ray_address))
    if not input_path.exists():
        fail(f"input not found: {input_path}")
    output = output or default_output_path(input_path)  # opens the film: bad input is told before the model loads
    check_output_path(input_path, output, overwrite)
    colorizer = _colorizer(model, device, config.temperature, precision)
    stats = colorize_video(input_path, output, config, colorizer, options)
    typer.echo(stats.summary())


def _run_batch(input_dir: Path, output_dir: Optional[Path], config, model: Path, device: str, precision: str,
               options, retries: int, ray_address: Optional[str]) -> int:
    """The directory branch: colorize every film under input_dir; returns the exit code."""
    from ..pipeline.batch import ColorizerSpec, run_directory

    spec = ColorizerSpec(model, device=device, temperature=config.temperature, precision=precision)
    summary = run_directory(input_dir, output_dir, config, spec, options, retries=retries, ray_address=ray_address)
    typer.echo(summary.table())
    return summary.exit_code
