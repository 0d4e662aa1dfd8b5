"""`vidcolor eval`: measure colorization quality on colour photos and videos."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import DEVICE_OPTION, MODEL_OPTION, PIPELINE_OPTION, PRECISION_OPTION, app


@app.command("eval")
def evaluate_command(
    paths: list[Path] = typer.Argument(..., help="Colour photos, colour videos, or folders of them."),
    json_path: Optional[Path] = typer.Option(None, "--json",
                                             help="Write all rows, what each mean covers and the skipped inputs "
                                                  "to this JSON file (null: not a finite number)."),
    strips: Optional[Path] = typer.Option(None, "--strips", help="Folder for side-by-side PNG strips."),
    model: Path = MODEL_OPTION,
    pipeline: str = PIPELINE_OPTION,
    device: str = DEVICE_OPTION,
    precision: str = PRECISION_OPTION,
    temperature: Optional[list[float]] = typer.Option(None, "--temperature",
                                                      help="Annealed-mean T, 0.01 to 10 (repeat to compare several "
                                                           "on photos)."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1,
                                             help="Score at most this many frames per video (default: all)."),
) -> None:
    """Reduce each input to luma, colorize it, and compare with the original (table + JSON)."""
    from ..evaluation.report import format_report, write_json
    from ..evaluation.runner import check_options, collect_inputs, evaluate
    from ..model.colorizer import Colorizer
    from ..pipeline.config import load_pipeline_config

    config = load_pipeline_config(pipeline)
    temperatures = check_options(config, temperature, max_frames)  # bad options and inputs before the model loads
    inputs = collect_inputs(paths)
    colorizer = Colorizer(model, device=device, temperature=config.temperature, precision=precision)
    report = evaluate(inputs, colorizer, config, strips=strips, temperatures=temperatures, max_frames=max_frames,
                      progress=lambda p: typer.echo(f"evaluating {p}", err=True))
    typer.echo(format_report(report))
    if json_path:
        write_json(report.rows, json_path, meta={"model_id": colorizer.model_id, "pipeline": config.name,
                                                 "precision": colorizer.precision, "temperatures": temperatures},
                   means=report.means, skipped=report.skipped)
        typer.echo(f"wrote {json_path}")
