"""`vidcolor train`: train a colorization model."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import INTERRUPTED_EXIT_CODE, TERMINATED_EXIT_CODE, app, fail


@app.command()
def train(
    data: list[Path] = typer.Argument(..., help="Folders of colour photos and/or colour video files."),
    output: Path = typer.Option(..., "-o", "--output",
                                help="Checkpoint to write. If it exists, training resumes from it: the network "
                                     "and learning settings must match (--head, --lr, ...); --steps, --minutes, "
                                     "--device, --batch-size, --crop and the data may change. Ctrl-C saves it."),
    name: str = typer.Option("vidcolor", help="Model name, the first part of the model id."),
    head: str = typer.Option("classification", help="classification (chroma bins) or regression (Huber on ab)."),
    rebalance_lambda: float = typer.Option(0.5, help="Class rebalancing mix lambda; negative turns rebalancing off."),
    no_global: bool = typer.Option(False, "--no-global", help="Train without the global scene branch (ablation)."),
    steps: int = typer.Option(20000, help="Maximum optimizer steps. A finished -o trained for fewer steps trains on "
                                          "to this count: the cosine learning-rate schedule becomes the one of the "
                                          "new length, taken up at the step reached, with fresh optimizer moments."),
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
    init: Optional[Path] = typer.Option(None, "--init", help="Fine-tune: start from this checkpoint's weights "
                                                             "(a new run with its own schedule; give another -o)."),
    soften: float = typer.Option(0.0, "--soften", help="Share of samples with softened (low-detail) input luma."),
    no_int8_calibration: bool = typer.Option(False, "--no-int8-calibration",
                                             help="Skip measuring int8 ranges at the end (scripts/calibrate_int8.py later)."),
) -> None:
    """Train a colorization model on colour photos and videos (resumable: Ctrl-C saves, the same command resumes)."""
    from ..training.interrupt import TrainingInterrupted
    from ..training.train import TrainConfig
    from ..training.train import train as run_training

    if head not in ("classification", "regression"):
        fail("--head must be classification or regression")
    if steps < 1:
        fail("--steps must be 1 or more")
    if crop_px % 16:
        fail("--crop must be a multiple of 16")
    if not 0.0 <= soften <= 1.0:
        fail("--soften must be between 0 and 1")
    cfg = TrainConfig(data=[str(d) for d in data], output=str(output), name=name, head=head,
                      rebalance_lambda=None if rebalance_lambda < 0 else rebalance_lambda,
                      use_global=not no_global, max_steps=steps, max_minutes=minutes, batch_size=batch_size,
                      crop_px=crop_px, learning_rate=learning_rate, weight_decay=weight_decay, dropout=dropout,
                      global_noise=global_noise, global_dropout=global_dropout, device=device, seed=seed,
                      cache_dir=str(cache_dir) if cache_dir else None,
                      init_from=str(init) if init else None, soften_prob=soften,
                      calibrate_int8=not no_int8_calibration)
    try:
        run_training(cfg)
    except TrainingInterrupted as stopped:
        typer.echo(f"vidcolor: {stopped}", err=True)
        raise typer.Exit(TERMINATED_EXIT_CODE if stopped.terminated else INTERRUPTED_EXIT_CODE) from None
