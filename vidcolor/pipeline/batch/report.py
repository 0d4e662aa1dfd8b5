"""The morning report: OUTDIR/report.html, a static page (no scripts, no network) of every film's state."""

from __future__ import annotations

import html
import time
from pathlib import Path
from urllib.parse import quote

from ...media.temp_files import write_atomically
from .ledger import JobRow

REPORT_NAME = "report.html"
STILLS_DIR = "vidcolor-report-stills"

_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; }
.counts span { margin-right: 1.2em; font-weight: bold; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: middle; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { font-weight: bold; padding: 2px 6px; border-radius: 3px; color: #fff; }
.done { background: #2e7d32; } .failed { background: #c62828; }
.pending { background: #757575; } .running { background: #ef6c00; }
.error { color: #c62828; max-width: 32em; }
img { display: block; }
"""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _num(value: float | int | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def _href(rel: str) -> str:
    return quote(rel)


def _note(row: JobRow, settings: str | None) -> str:
    """The row's note: why it failed, what a finished film lacks, and whether other settings made it."""
    note = row.error or ""
    if row.state == "done" and settings and row.settings_hash and row.settings_hash != settings:
        other = f"made with other settings ({row.settings_hash}, model {row.model_id}), kept"
        note = f"{other}; {note}" if note else other
    return note


def _row_html(row: JobRow, settings: str | None = None) -> str:
    e = html.escape
    film = e(row.path)
    if row.state == "done":
        film = f'<a href="{e(_href(row.output))}">{film}</a>'
    still = ""
    if row.still:
        still = (f'<img src="{e(_href(row.still))}" alt="before and after: {e(row.path)}" '
                 f'title="top: input, bottom: colorized">')
    return (f'<tr class="job"><td>{film}</td>'
            f'<td><span class="state {e(row.state)}">{e(row.state)}</span></td>'
            f'<td class="num">{_duration(row.duration_s)}</td>'
            f'<td class="num">{_num(row.frames, "d")}</td>'
            f'<td class="num">{_num(row.fps, ".1f")}</td>'
            f'<td class="num">{_num(row.seconds, ".1f")}</td>'
            f'<td class="num">{row.attempts}</td>'
            f'<td class="error">{e(_note(row, settings))}</td>'
            f'<td>{still}</td></tr>')


def render_report(rows: list[JobRow], title: str, notes: list[str], settings: str | None = None) -> str:
    """The whole HTML page for these ledger rows; `settings`: this run's settings hash (films made with others say
    so)."""
    counts = {s: sum(r.state == s for r in rows) for s in ("done", "failed", "pending", "running")}
    e = html.escape
    count_html = "".join(f'<span class="count-{s}">{n} {s}</span>' for s, n in counts.items() if n or s != "running")
    notes_html = "".join(f"<li>{e(n)}</li>" for n in notes)
    body = "\n".join(_row_html(r, settings) for r in rows)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(title)}</title>
<style>{_CSS}</style></head>
<body>
<h1>{e(title)}</h1>
<p class="counts">{count_html}</p>
<ul class="notes">{notes_html}</ul>
<table>
<thead><tr><th>film</th><th>state</th><th>duration</th><th>frames</th><th>fps</th><th>time (s)</th>
<th>attempts</th><th>error</th><th>before / after</th></tr></thead>
<tbody>
{body}
</tbody></table>
</body></html>
"""


def write_report(output_dir: Path, rows: list[JobRow], title: str, notes: list[str],
                 settings: str | None = None) -> Path:
    """Write OUTDIR/report.html atomically; returns its path."""
    return write_atomically(output_dir / REPORT_NAME, render_report(rows, title, notes, settings).encode("utf-8"))


def report_notes(input_dir: Path, model_id: str, settings: str, finished: float | None = None) -> list[str]:
    """The lines under the report's title."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(finished or time.time()))
    return [f"input: {input_dir}", f"model: {model_id}; settings {settings}", f"updated {when}"]
