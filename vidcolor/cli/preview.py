"""`vidcolor preview`: colorize single frames (or a contact sheet) exactly as `run` would, in seconds."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from . import DEVICE_OPTION, MODEL_OPTION, PIPELINE_OPTION, PRECISION_OPTION, app, fail

MAX_GRID_FRAMES = 100
MAX_VARIANTS = 16

_AT_HELP = ("Time of the frame: hh:mm:ss.ms (01:02:03.5), mm:ss (02:03), seconds (83.5) or a frame number "
            "counted from 0 (f120, or frame:120). Repeat --at for several frames: they go into one image, one "
            "row per time. Default: the middle of the film.")


@app.command()
def preview(
    film: Path = typer.Argument(..., metavar="FILM", help="The film to preview."),
    at: Optional[list[str]] = typer.Option(None, "--at", metavar="TIME", help=_AT_HELP),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="PNG to write (default: FILM_stem.preview.png beside the film; "
                                               "an existing preview is replaced)."),
    side_by_side: bool = typer.Option(False, "--side-by-side", help="Put the gray source left of the colorized frame."),
    grid: Optional[int] = typer.Option(None, "--grid", metavar="N",
                                       help="Contact sheet of N frames spread evenly over the film, with timestamps."),
    variants: int = typer.Option(0, "--variants", metavar="K",
                                 help="Also show K alternative colorizations sampled from the model's chroma "
                                      "distribution (where they differ, the model is unsure)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the variants."),
    model: Path = MODEL_OPTION,
    pipeline: str = PIPELINE_OPTION,
    device: str = DEVICE_OPTION,
    precision: str = PRECISION_OPTION,
    temperature: Optional[float] = typer.Option(None, "--temperature", help="Annealed-mean temperature T."),
    no_smoothing: bool = typer.Option(False, "--no-smoothing", help="As `run --no-smoothing`."),
) -> None:
    """Colorize one frame (or a few) the way `run` will, to judge the look before a long run."""
    from ..media import MediaSource
    from ..pipeline.config import load_pipeline_config
    from ..pipeline.preview_sheet import check_output
    from ..pipeline.timecode import parse_time

    started = time.perf_counter()
    if grid is not None and at:
        fail("--grid and --at do not go together: --grid picks its own times")
    if grid is not None and not 1 <= grid <= MAX_GRID_FRAMES:
        fail(f"--grid must be between 1 and {MAX_GRID_FRAMES}")
    if not 0 <= variants <= MAX_VARIANTS:
        fail(f"--variants must be between 0 and {MAX_VARIANTS}")
    specs = [parse_time(t) for t in at or []]
    out = output or film.with_name(f"{film.stem}.preview.png")
    if out.suffix.lower() != ".png":
        fail(f"the preview is a PNG image: give -o a name ending in .png, not {out.name}")
    if out.is_dir():
        fail(f"the output {out} is a directory; give a file name")
    if out.exists() and film.exists() and out.resolve() == film.resolve():
        fail(f"the output {out} is the film itself; vidcolor never overwrites its input")
    config = load_pipeline_config(pipeline).replace(temperature=temperature)
    check_output(out)
    with MediaSource(film) as source:
        info = source.video
        from ..model.colorizer import Colorizer
        from ..pipeline.preview import Previewer, default_time, grid_times, resolve_at
        from ..pipeline.preview_sheet import (GRID_PANEL_MAX_WIDTH_PX, contact_sheet, display_view, frame_row,
                                              stack_rows, write_png)

        if grid is not None:
            times = grid_times(source, grid)
        elif specs:
            times = [resolve_at(source, s) for s in specs]
        else:
            times = [default_time(source)]
        chosen = not specs  # times picked here, not typed: a film whose tail does not decode shows its last frame
        colorizer = Colorizer(model, device=device, temperature=config.temperature, precision=precision)
        previewer = Previewer(source, config, colorizer, smoothing=not no_smoothing)
        frames = [previewer.frame(t, variants=variants, seed=seed, clamp=chosen) for t in times]
        plain = len(frames) == 1 and not side_by_side and not variants and grid is None
        if plain:
            image = display_view(frames[0].rgb, info)
        else:
            rows = [frame_row(f, info, side_by_side=side_by_side,
                              max_panel_width=None if grid is None else GRID_PANEL_MAX_WIDTH_PX) for f in frames]
            image = contact_sheet(rows) if grid is not None else stack_rows(rows)
    write_png(out, image)
    when = (f"at {', '.join(f.timestamp for f in frames)}" if len(frames) <= 4
            else f"{len(frames)} frames from {frames[0].timestamp} to {frames[-1].timestamp}")
    typer.echo(f"preview of {film.name} {when} -> {out} ({time.perf_counter() - started:.1f} s)")

