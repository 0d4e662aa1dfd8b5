"""`vidcolor run DIR`: plan the jobs from the ledger, run them (here or on Ray), record, report, summarize."""

from __future__ import annotations

import os
import signal
import stat
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ...errors import ConfigError, InputError, MediaError, Terminated, VidcolorError
from ...media.temp_files import is_stale_temp
from ...stop_signals import handling
from ..colorize import RunOptions
from ..config import PipelineConfig
from .jobs import ColorizerSpec, Job, JobResult, colorize_job
from .ledger import LEDGER_NAME, JobRow, Ledger
from .lock import BatchLock
from .report import REPORT_NAME, STILLS_DIR, report_notes, write_report
from .scan import FORMATS, FoundFile, as_text, fingerprint, output_key, probe, settings_hash, walk_files
from .stills import make_still_strip

Echo = Callable[[str], None]
_INPUT_DIR_KEY = "input_dir"  # ledger meta: the input folder this output folder belongs to


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def default_output_dir(input_dir: Path) -> Path:
    """DIR.colorized beside DIR."""
    input_dir = Path(input_dir).resolve()
    return input_dir.with_name(input_dir.name + ".colorized")


def one_line(exc: BaseException) -> str:
    """An exception as one sentence for the ledger."""
    if isinstance(exc, MediaError | ConfigError):
        text = str(exc)
    elif isinstance(exc, OSError):
        text = f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
    elif isinstance(exc, MemoryError):
        text = "out of memory (try a smaller --batch-size or the fast preset)"
    else:
        text = f"internal error: {type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


def remove_stale_temps(output_dir: Path, input_dir: Path) -> list[Path]:
    """Delete vidcolor's temp files in OUTDIR whose writing process is gone (partial outputs of killed runs);
    returns them. Nothing else is touched: not other hidden files, not a live run's temp, not the input folder."""
    removed: list[Path] = []
    for root, dirs, files in os.walk(output_dir):
        dirs[:] = [d for d in dirs if (Path(root) / d).resolve() != input_dir]
        for name in files:
            if is_stale_temp(name):
                path = Path(root) / name
                try:
                    path.unlink()
                    removed.append(path)
                except FileNotFoundError:
                    pass
    return removed


# --------------------------------------------------------------------------- outcomes and summary
@dataclass
class Outcome:
    """What happened to one film in this run."""

    rel: str
    result: str  # done, skipped, failed, not started
    frames: int | None = None
    fps: float | None = None
    seconds: float | None = None
    attempts: int = 0
    error: str | None = None


@dataclass
class BatchSummary:
    """The end of a batch: per-film outcomes, totals and the exit code."""

    input_dir: Path
    output_dir: Path
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    stopped: bool = False  # Ctrl-C: stopped after the current file, or aborted it
    aborted: bool = False  # a second Ctrl-C (or SIGTERM) aborted a file in progress
    terminated: bool = False  # stopped by SIGTERM
    stale_temps_removed: int = 0
    report_path: Path | None = None

    def of(self, result: str) -> list[Outcome]:
        """Outcomes with this result."""
        return [o for o in self.outcomes if o.result == result]

    @property
    def frames(self) -> int:
        return sum(o.frames or 0 for o in self.of("done"))

    @property
    def mean_fps(self) -> float:
        """Frames colorized in this run per second of colorizing."""
        busy = sum(o.seconds or 0.0 for o in self.of("done"))
        return self.frames / busy if busy > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """143 when stopped by SIGTERM, 130 by Ctrl-C, 1 when a film failed, else 0."""
        if self.terminated:
            return 143
        if self.stopped:
            return 130
        return 1 if self.of("failed") else 0

    def table(self) -> str:
        """The end-of-batch summary table."""
        width = max([len(o.rel) for o in self.outcomes] + [4])
        lines = [f"{'state':<11} {'film':<{width}} {'frames':>7} {'fps':>7} {'time':>8}  reason"]
        order = {"failed": 0, "not started": 1, "done": 2, "skipped": 3}
        for o in sorted(self.outcomes, key=lambda o: (order.get(o.result, 9), o.rel)):
            frames = "" if o.frames is None else str(o.frames)
            fps = "" if o.fps is None else f"{o.fps:.1f}"
            secs = "" if o.seconds is None else f"{o.seconds:.1f} s"
            reason = o.error or ""
            if o.result == "failed" and o.attempts > 1:
                reason = f"{reason} ({o.attempts} attempts)"
            lines.append(f"{o.result:<11} {o.rel:<{width}} {frames:>7} {fps:>7} {secs:>8}  {reason}".rstrip())
        counts = ", ".join(f"{len(self.of(r))} {r}" for r in ("done", "skipped", "failed", "not started")
                           if r != "not started" or self.of(r))
        total = (f"{len(self.outcomes)} films: {counts}; {self.frames} frames in {self.seconds:.1f} s"
                 f" (mean {self.mean_fps:.1f} fps while colorizing)")
        lines.append(total)
        if self.stopped:
            lines.append(f"stopped by {'SIGTERM' if self.terminated else 'Ctrl-C'}"
                         + (" (the film in progress was aborted and left no output)"
                                                if self.aborted else " after the current film")
                         + "; run the same command again to finish the rest")
        if self.report_path:
            lines.append(f"report: {self.report_path}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- Ctrl-C
class StopControl:
    """First Ctrl-C: finish the current film, then stop. Second: abort it (KeyboardInterrupt). SIGTERM (`kill`,
    systemd, `docker stop`, which give a few seconds before killing): abort it at once (Terminated)."""

    def __init__(self, echo: Echo) -> None:
        self.echo = echo
        self.requested = False
        self.terminated = False

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.echo("vidcolor: Ctrl-C: stopping after the current film (press Ctrl-C again to abort it; "
                  "its partial output is deleted)")

    def _terminate(self, signum, frame) -> None:
        self.requested = self.terminated = True
        raise Terminated

    def __enter__(self) -> "StopControl":
        self._handling = handling({signal.SIGINT: self._handler, signal.SIGTERM: self._terminate})
        self._handling.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._handling.__exit__(None, None, None)


# --------------------------------------------------------------------------- the driver
class BatchDriver:
    """Owns the ledger: plans jobs, records starts and ends, retries failures, rewrites the report."""

    def __init__(self, input_dir: Path, output_dir: Path, shash: str, model_id: str, retries: int,
                 overwrite: bool, echo: Echo) -> None:
        self.input_dir = input_dir
        self.output_dir = output_dir
        self.shash = shash
        self.model_id = model_id
        self.attempt_budget = 1 + retries
        self.overwrite = overwrite
        self.echo = echo
        self.ledger = Ledger(output_dir / LEDGER_NAME)
        self.outcomes: dict[str, Outcome] = {}
        self.seen: list[str] = []
        self.jobs: dict[str, Job] = {}
        self.tries: dict[str, int] = {}  # attempts made in this run, per film: each run has 1 + retries
        self.aborted_film: str | None = None  # a film stopped half-way by Ctrl-C or SIGTERM (its output deleted)
        self._fingerprints: dict[str, str | None] = {}  # per film this run: each is read once

    # ---------------------------------------------------------------- planning
    def plan(self) -> list[Job]:
        """Walk the input, decide each film's fate, record it; returns the films to colorize."""
        def skip_output_folder(folder: Path) -> None:
            self.echo(f"vidcolor: left out {folder}: it is a vidcolor batch's output folder")

        found = list(walk_files(self.input_dir, exclude=self.output_dir, on_output_folder=skip_output_folder))
        self._claim_output_folder(found)
        recovered = self.ledger.recover_interrupted()
        if recovered:
            self.echo(f"vidcolor: {len(recovered)} film(s) interrupted by an earlier run will be redone")
        self.ledger.record_scan([f.rel for f in found])
        # Output names held: an input written in its own container keeps its name; every other film keeps the
        # output its ledger row names, and a film planned below takes a name no other holds (a.mpg and a.ts
        # are not both written to a.mkv). Rows that already share one (older versions did that) are redone, and
        # so is a film whose output name an input added since claims as its own (a.mpg's a.mkv, then an a.mkv).
        own_format = {output_key(f.rel) for f in found if Path(f.rel).suffix.lower() in FORMATS}
        rows = {f.rel: self.ledger.get(f.rel) for f in found}
        ours = {output_key(r.output) for r in rows.values() if r is not None and r.owned}  # outputs this batch wrote
        holders: dict[str, set[str]] = {}
        for rel, row in rows.items():
            if row is not None:
                holders.setdefault(output_key(row.output), set()).add(rel)
        clashing = {rel for rels in holders.values() if len(rels) > 1 for rel in rels}
        clashing |= {rel for rel, row in rows.items()
                     if row is not None and output_key(row.output) in own_format - {output_key(rel)}}
        kept_other_settings: list[str] = []
        todo: list[Job] = []
        for f in found:
            self.seen.append(f.rel)
            row = rows[f.rel]
            unchanged = row is not None and self._unchanged(f, row)
            same = unchanged and row.settings_hash == self.shash
            finished = unchanged and row.state == "done" and f.rel not in clashing and self._output_intact(row)
            if same and row.state == "failed" and row.input_fault:
                self.outcomes[f.rel] = Outcome(f.rel, "failed", attempts=row.attempts,
                                               error=f"{row.error} (unchanged since the last run: replace the file "
                                                     "to try it again)")
                continue
            if finished and (same or not self.overwrite):
                # A film finished with other settings is kept, not replaced behind the user's back.
                if not same:
                    kept_other_settings.append(f.rel)
                self.outcomes[f.rel] = Outcome(f.rel, "skipped", row.frames, row.fps, row.seconds, row.attempts,
                                               row.error if same else "made with other settings; kept "
                                               "(--overwrite redoes it with these)")
                continue

            def is_taken(key: str, rel: str = f.rel) -> bool:
                return key in own_format or bool(holders.get(key, set()) - {rel})

            p = probe(f, is_taken)
            if row is not None:
                holders.get(output_key(row.output), set()).discard(f.rel)
            holders.setdefault(output_key(p.output_rel), set()).add(f.rel)
            new = JobRow(f.rel, p.output_rel, f.size, f.mtime_ns, "pending", attempts=row.attempts if same else 0,
                         error=row.error if same else None, duration_s=p.duration_s, model_id=self.model_id,
                         settings_hash=self.shash, owned=int(row is not None and row.output == p.output_rel
                                                             and bool(row.owned)),
                         fingerprint=row.fingerprint if unchanged and row.fingerprint else self._fingerprint(f))
            output = self.output_dir / p.output_rel
            if (p.error is None and output.exists() and not self.overwrite and not new.owned
                    and output_key(p.output_rel) not in ours):
                p.error = f"{p.output_rel} already exists in the output folder and is not from this batch; " \
                          "pass --overwrite to replace it"
            if p.error is not None:
                new.state, new.error, new.attempts, new.finished = "failed", p.error, 0, time.time()
                self.ledger.put(new)
                self.outcomes[f.rel] = Outcome(f.rel, "failed", error=p.error)
                continue
            self.ledger.put(new)
            job = Job(f.rel, f.path, output, p.output_rel, f.size, f.mtime_ns, p.duration_s)
            self.jobs[f.rel] = job
            self.outcomes[f.rel] = Outcome(f.rel, "not started", attempts=new.attempts)
            todo.append(job)
        if kept_other_settings:
            self.echo(f"vidcolor: {len(kept_other_settings)} finished film(s) were made with other settings (preset, "
                      "model or switches) and are kept as they are; pass --overwrite to redo them with these")
        return todo

    def _claim_output_folder(self, found: list[FoundFile]) -> None:
        """One output folder, one input folder: another folder's batch here would overwrite its films and read
        them as removed. A batch whose input folder is gone is taken over only by the same films moved (half of
        them at least found with their sizes and fingerprints): not by another folder while a drive is unplugged."""
        here = as_text(str(self.input_dir))
        before = self.ledger.meta(_INPUT_DIR_KEY)
        if before == here:
            return
        if before is not None:
            refusal = (f"{self.output_dir} holds the batch of {before}; give each input folder its own output "
                       "folder (-o)")
            if Path(before).is_dir():
                raise ConfigError(refusal)
            rows = {f.rel: self.ledger.get(f.rel) for f in found}
            same = sum(1 for f in found if rows[f.rel] is not None and rows[f.rel].size == f.size
                       and rows[f.rel].fingerprint is not None and rows[f.rel].fingerprint == self._fingerprint(f))
            if not same or same < len(self.ledger.rows()) / 2:  # the batch's films, moved: most of them here
                raise ConfigError(f"{refusal} (it is not there now, and these are not its films)")
            self.echo(f"vidcolor: {self.output_dir} was the batch of {before}, which has moved here; going on")
        self.ledger.set_meta(_INPUT_DIR_KEY, here)

    def _fingerprint(self, f: FoundFile) -> str | None:
        """The film's fingerprint, read once per run (None when it cannot be read: it fails when opened)."""
        if f.rel not in self._fingerprints:
            try:
                self._fingerprints[f.rel] = fingerprint(f.path, f.size)
            except OSError:
                self._fingerprints[f.rel] = None
        return self._fingerprints[f.rel]

    def _unchanged(self, f: FoundFile, row: JobRow) -> bool:
        """The film is the one the row describes: same size and time, or same size and fingerprint (copied to
        another drive, touched); then the row takes the new time."""
        if row.size != f.size:
            return False
        if row.mtime_ns == f.mtime_ns:
            return True
        if row.fingerprint is None or self._fingerprint(f) != row.fingerprint:
            return False
        self.ledger.update(f.rel, mtime_ns=f.mtime_ns)
        return True

    def _output_intact(self, row: JobRow) -> bool:
        """The row's output is there as this batch wrote it (same size; a damaged or replaced one is redone)."""
        try:
            st = (self.output_dir / row.output).stat()
        except OSError:
            return False
        return stat.S_ISREG(st.st_mode) and (row.output_size is None or st.st_size == row.output_size)

    # ---------------------------------------------------------------- recording
    def started(self, job: Job, worker: str) -> int:
        """Record a new attempt; returns its number (attempts at this film with these settings, in every run)."""
        self.tries[job.rel] = self.tries.get(job.rel, 0) + 1
        attempt = self.ledger.mark_running(job.rel, worker)
        self.outcomes[job.rel].attempts = attempt
        return attempt

    def succeeded(self, job: Job, result: JobResult) -> None:
        """Record a finished film and make its still strip."""
        notes = []
        if result.concealed_errors:
            notes.append(f"{result.concealed_errors} corrupt packets concealed")
        if result.input_changed:
            notes.append("the input changed while it was read (still being copied?): the next run does it again")
        if result.truncated_at_seconds is not None:
            notes.append(f"the input ends after {result.truncated_at_seconds:.1f} s, before its declared end "
                         "(truncated?): only that much was colorized")
        note = "; ".join(notes) or None
        self.ledger.update(job.rel, state="done", error=note, finished=time.time(), seconds=result.seconds,
                           frames=result.frames, fps=result.fps, model_id=result.model_id, worker=result.worker,
                           still=None, output_size=job.output_path.stat().st_size)
        self.outcomes[job.rel] = Outcome(job.rel, "done", result.frames, result.fps, result.seconds,
                                         self.outcomes[job.rel].attempts, note)  # done, whatever stops us next
        try:
            still_rel = f"{STILLS_DIR}/{job.output_rel}.jpg"
            make_still_strip(job.input_path, job.output_path, self.output_dir / still_rel)
            self.ledger.update(job.rel, still=still_rel)
        except Exception as e:  # noqa: BLE001 - the film is fine; only its picture in the report is missing
            self.echo(f"vidcolor: warning: no still for {job.rel}: {one_line(e)}")
        self.echo(f"vidcolor: done {job.rel}: {result.frames} frames in {result.seconds:.1f} s "
                  f"({result.fps:.1f} fps)")
        self.write_report()

    def failed(self, job: Job, error: str, passing: bool = True, input_fault: bool = False) -> bool:
        """Record a failure; returns True when the film should be tried again in this run: only for a `passing`
        error (out of memory, a lost GPU), not for a film that cannot be read or written (the same again). An
        `input_fault` (the film itself is damaged) is not tried again in later runs until the file changes."""
        self.ledger.update(job.rel, state="failed", error=error, finished=time.time(), input_fault=int(input_fault))
        attempts = self.outcomes[job.rel].attempts
        self.outcomes[job.rel] = Outcome(job.rel, "failed", attempts=attempts, error=error)
        retry = passing and self.tries.get(job.rel, 0) < self.attempt_budget
        self.echo(f"vidcolor: failed {job.rel}: {error}" + (" (will retry)" if retry else ""))
        self.write_report()
        return retry

    def interrupted(self, job: Job, stop: KeyboardInterrupt) -> None:
        """A film aborted by Ctrl-C or SIGTERM: back to pending, nothing written, and the attempt not counted (the
        user stopped it; the film did not fail)."""
        attempts = max(0, self.outcomes[job.rel].attempts - 1)
        self.tries[job.rel] = max(0, self.tries.get(job.rel, 0) - 1)
        why = f"interrupted by {'SIGTERM' if isinstance(stop, Terminated) else 'Ctrl-C'}"
        self.ledger.update(job.rel, state="pending", error=why, finished=time.time(), attempts=attempts)
        self.outcomes[job.rel] = Outcome(job.rel, "not started", attempts=attempts, error=why)
        self.aborted_film = job.rel

    def write_report(self) -> Path:
        """Rewrite OUTDIR/report.html from the ledger rows of the films seen in this run."""
        seen = set(self.seen)
        rows = [r for r in self.ledger.rows() if r.path in seen]
        notes = report_notes(self.input_dir, self.model_id, self.shash)
        return write_report(self.output_dir, rows, f"vidcolor batch: {self.input_dir.name}", notes, self.shash)

    def close(self) -> None:
        """Close the ledger."""
        self.ledger.close()


# --------------------------------------------------------------------------- running
def _run_local(driver: BatchDriver, todo: list[Job], config: PipelineConfig, spec: ColorizerSpec,
               options: RunOptions, stop: StopControl) -> bool:
    """Colorize the jobs one after the other with one Colorizer; returns True when a film was aborted."""
    queue = deque(todo)
    colorizer = spec.load() if queue else None
    place = {job.rel: k for k, job in enumerate(todo, 1)}  # a retry keeps its film's place in the count
    while queue and not stop.requested:
        job = queue.popleft()
        attempt = driver.started(job, "local")
        driver.echo(f"vidcolor: [{place[job.rel]}/{len(todo)}] {job.rel}"
                    + (f" (attempt {attempt})" if attempt > 1 else ""))
        try:
            result = colorize_job(job, config, colorizer, options)
        except KeyboardInterrupt as stop_signal:
            driver.interrupted(job, stop_signal)
            return True
        except Exception as e:  # noqa: BLE001 - one bad film never stops the batch
            if driver.failed(job, one_line(e), passing=not isinstance(e, VidcolorError),
                             input_fault=isinstance(e, InputError)):
                queue.append(job)
        else:
            driver.succeeded(job, result)
    return False


def run_directory(input_dir: str | os.PathLike, output_dir: str | os.PathLike | None, config: PipelineConfig,
                  colorizer: ColorizerSpec, options: RunOptions | None = None, *, retries: int = 1,
                  ray_address: str | None = None, echo: Echo = _stderr) -> BatchSummary:
    """Colorize every film under input_dir into a mirrored tree; resumable through OUTDIR's ledger."""
    options = options or RunOptions()
    input_dir = Path(input_dir).resolve()
    if not input_dir.is_dir():
        raise ConfigError(f"{input_dir} is not a directory")
    if (input_dir / LEDGER_NAME).is_file():
        raise ConfigError(f"{input_dir} is a vidcolor batch's output folder (it holds {LEDGER_NAME}); give the folder "
                          "of the films to colorize")
    out = Path(output_dir).resolve() if output_dir else default_output_dir(input_dir)
    if out == input_dir:
        raise ConfigError("the output folder is the input folder; vidcolor never writes over its inputs")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"the output {out} is a file; give a folder")
    if retries < 0:
        raise ConfigError("--retries must be 0 or more")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot make the output folder {out}: {(e.strerror or str(e)).lower()}") from None
    for path in (out, out / LEDGER_NAME):
        if path.exists() and not os.access(path, os.W_OK):
            raise ConfigError(f"cannot write {path} (read-only or not yours); give another output folder with -o")
    with BatchLock(out):
        return _run_locked(input_dir, out, config, colorizer, options, retries, ray_address, echo)


def _run_locked(input_dir: Path, out: Path, config: PipelineConfig, colorizer: ColorizerSpec, options: RunOptions,
                retries: int, ray_address: str | None, echo: Echo) -> BatchSummary:
    """run_directory once OUTDIR is known to be writable and this run holds its lock."""
    started = time.perf_counter()
    summary = BatchSummary(input_dir, out)
    summary.stale_temps_removed = len(remove_stale_temps(out, input_dir))
    if summary.stale_temps_removed:
        echo(f"vidcolor: removed {summary.stale_temps_removed} partial file(s) left by an interrupted run")
    model_id = colorizer.model_id()
    shash = settings_hash(config, model_id, options.smoothing, options.reuse_global)
    batch_options = RunOptions(smoothing=options.smoothing, reuse_global=options.reuse_global, overwrite=True,
                               progress=options.progress)
    driver = BatchDriver(input_dir, out, shash, model_id, retries, options.overwrite, echo)
    try:
        with StopControl(echo) as stop:
            try:
                todo = driver.plan()
                if ray_address:
                    from .ray_runner import run_on_ray

                    run_on_ray(driver, todo, config, colorizer, batch_options, stop, ray_address)
                else:
                    _run_local(driver, todo, config, colorizer, batch_options, stop)
            except KeyboardInterrupt:
                summary.stopped = True  # while planning, or between films
            summary.aborted = driver.aborted_film is not None
            summary.stopped = summary.stopped or stop.requested or summary.aborted
            summary.terminated = stop.terminated
        summary.report_path = driver.write_report()
    finally:
        driver.close()
    # A Ctrl-C while planning can land between a film being seen and its fate being decided.
    summary.outcomes = [driver.outcomes.get(r) or Outcome(r, "not started") for r in driver.seen]
    summary.seconds = time.perf_counter() - started
    return summary


def read_ledger(output_dir: str | os.PathLike) -> tuple[list[JobRow], set[str] | None]:
    """Every row of a batch's ledger, and the films its last run found in the input folder (None when that run
    did not record them): for `vidcolor status`."""
    path = Path(output_dir) / LEDGER_NAME
    if not path.is_file():
        raise ConfigError(f"no batch ledger in {output_dir} (expected {LEDGER_NAME})")
    with Ledger(path, read_only=True) as ledger:
        return ledger.rows(), ledger.last_scan()


__all__ = ["BatchSummary", "ColorizerSpec", "Outcome", "default_output_dir", "read_ledger", "run_directory",
           "REPORT_NAME"]
