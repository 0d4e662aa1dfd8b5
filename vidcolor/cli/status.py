"""`vidcolor status OUTDIR`: print a batch's ledger."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from . import app


def _when(t: float | None) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(t)) if t else ""


def format_status(rows, last_scan: set[str] | None = None) -> str:
    """The ledger as a table, then the count of each state; rows of films the last run did not find in the input
    folder (moved or deleted since) read `removed`."""
    width = max([len(r.path) for r in rows] + [4])
    lines = [f"{'state':<8} {'film':<{width}} {'tries':>5} {'frames':>7} {'fps':>7} {'finished':>11}  output / error"]
    counts: dict[str, int] = {}
    for r in rows:
        state = r.state if last_scan is None or r.path in last_scan else "removed"
        counts[state] = counts.get(state, 0) + 1
        frames = "" if r.frames is None else str(r.frames)
        fps = "" if r.fps is None else f"{r.fps:.1f}"
        tail = r.error or ""  # done: a note (truncated input, concealed damage); else why it failed
        if r.state == "done":
            tail = f"{r.output} ({tail})" if tail else r.output
        if state == "removed":
            tail = f"not in the input folder at the last run (was {r.state}" + (f": {tail})" if tail else ")")
        lines.append(f"{state:<8} {r.path:<{width}} {r.attempts:>5} {frames:>7} {fps:>7} "
                     f"{_when(r.finished):>11}  {tail}".rstrip())
    lines.append(f"{len(rows)} films" + "".join(f"{', ' if i else ': '}{n} {s}"
                                               for i, (s, n) in enumerate(sorted(counts.items()))))
    return "\n".join(lines)


@app.command()
def status(
    output_dir: Path = typer.Argument(..., metavar="OUTDIR",
                                      help="A batch's output folder (or its input folder: IN.colorized is used)."),
) -> None:
    """Print the ledger of a directory batch: every film's state, attempts, speed and error."""
    from ..pipeline.batch import LEDGER_NAME, default_output_dir, read_ledger

    folder = output_dir
    beside = default_output_dir(output_dir) if output_dir.is_dir() else None
    if not (folder / LEDGER_NAME).is_file() and beside is not None and (beside / LEDGER_NAME).is_file():
        folder = beside  # the input folder was given: its batch lives in IN.colorized
    typer.echo(format_status(*read_ledger(folder)))
