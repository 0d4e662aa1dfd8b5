"""The batch ledger: one SQLite row per input film in OUTDIR/vidcolor-ledger.sqlite."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, fields
from pathlib import Path

from ...errors import ConfigError

LEDGER_NAME = "vidcolor-ledger.sqlite"
STATES = ("pending", "running", "done", "failed")
_BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    path TEXT PRIMARY KEY,          -- input path relative to the input directory (POSIX separators)
    output TEXT NOT NULL,           -- output path relative to the output directory
    size INTEGER NOT NULL,          -- input size in bytes when last seen
    mtime_ns INTEGER NOT NULL,      -- input modification time when last seen
    state TEXT NOT NULL,            -- pending, running, done, failed
    attempts INTEGER NOT NULL DEFAULT 0,  -- colorize attempts for this input version and settings
    error TEXT,                     -- one sentence, for failed (or interrupted) jobs
    started REAL,                   -- Unix time the last attempt started
    finished REAL,                  -- Unix time the last attempt ended
    seconds REAL,                   -- wall time of the last successful colorize
    frames INTEGER,
    fps REAL,
    duration_s REAL,                -- the film's own duration
    model_id TEXT,
    settings_hash TEXT,
    worker TEXT,                    -- host that ran it (Ray) or 'local'
    still TEXT,                     -- before/after still strip, relative to the output directory
    owned INTEGER NOT NULL DEFAULT 0,  -- 1 once this batch has started writing `output` (it may replace it)
    output_size INTEGER,            -- bytes of `output` as this batch wrote it (a damaged or replaced one is redone)
    fingerprint TEXT,               -- the input's size and sampled bytes: a film only touched or copied is not redone
    input_fault INTEGER             -- 1: failed for the input itself (damaged, not a video): not tried again unchanged
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS last_scan (path TEXT PRIMARY KEY);  -- the films found in the input by the last run
"""
_SCANNED_KEY = "last_scan_finished"  # meta: Unix time the last run's walk of the input ended


@dataclass
class JobRow:
    """One ledger row."""

    path: str
    output: str
    size: int
    mtime_ns: int
    state: str
    attempts: int = 0
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    seconds: float | None = None
    frames: int | None = None
    fps: float | None = None
    duration_s: float | None = None
    model_id: str | None = None
    settings_hash: str | None = None
    worker: str | None = None
    still: str | None = None
    owned: int = 0
    output_size: int | None = None
    fingerprint: str | None = None
    input_fault: int | None = None


_COLUMNS = [f.name for f in fields(JobRow)]
# Columns added since the first ledgers, with their SQL types: an older ledger gets them (empty) when opened.
_ADDED_COLUMNS = {"output_size": "INTEGER", "fingerprint": "TEXT", "input_fault": "INTEGER"}


class Ledger:
    """Read and update job rows; every update is committed at once (a kill loses nothing written)."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        """Open (and, unless `read_only`, create or bring up to date) the ledger at `path`."""
        self.path = Path(path)
        try:
            if read_only:
                self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                           timeout=_BUSY_TIMEOUT_S)
            else:
                self._db = sqlite3.connect(str(self.path), timeout=_BUSY_TIMEOUT_S)
        except sqlite3.Error as e:
            raise ConfigError(f"cannot open the batch ledger {self.path}: {e}") from None
        self._db.row_factory = sqlite3.Row
        try:
            if not read_only:
                with self._db:
                    self._db.executescript(_SCHEMA)
            have = [r[1] for r in self._db.execute("PRAGMA table_info(jobs)")]
        except sqlite3.Error as e:
            self._db.close()
            raise ConfigError(f"{self.path} is not a vidcolor ledger that can be read ({e}); move it away to start "
                              "over") from None
        missing = _COLUMNS[len(have):]
        if have != _COLUMNS[:len(have)] or not set(missing) <= set(_ADDED_COLUMNS):
            self._db.close()
            raise ConfigError(f"{self.path} was written by another version of vidcolor; move it away to start over")
        if missing and not read_only:
            try:
                with self._db:
                    for name in missing:
                        self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {_ADDED_COLUMNS[name]}")
            except sqlite3.Error as e:
                self._db.close()
                raise ConfigError(f"cannot bring the batch ledger {self.path} up to date: {e}") from None

    @classmethod
    def in_dir(cls, output_dir: str | Path) -> "Ledger":
        """The ledger of an output directory."""
        return cls(Path(output_dir) / LEDGER_NAME)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def get(self, path: str) -> JobRow | None:
        """The row of one input (relative path), or None."""
        row = self._db.execute("SELECT * FROM jobs WHERE path = ?", (path,)).fetchone()
        return JobRow(**dict(row)) if row else None

    def rows(self) -> list[JobRow]:
        """Every row, sorted by path."""
        return [JobRow(**dict(r)) for r in self._db.execute("SELECT * FROM jobs ORDER BY path")]

    def last_scan(self) -> set[str] | None:
        """The films (relative paths) the last run found in the input folder; None when no run recorded it."""
        try:
            if self.meta(_SCANNED_KEY) is None:
                return None
            return {r[0] for r in self._db.execute("SELECT path FROM last_scan")}
        except sqlite3.OperationalError:  # a ledger of an older vidcolor, opened read-only: no such table
            return None

    def meta(self, key: str) -> str | None:
        """A value of the meta table."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------ writing
    def set_meta(self, key: str, value: str) -> None:
        """Store a value in the meta table."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def record_scan(self, paths: list[str]) -> None:
        """Remember the films a run found in the input folder (rows of films since removed stay, marked so)."""
        with self._db:
            self._db.execute("DELETE FROM last_scan")
            self._db.executemany("INSERT OR IGNORE INTO last_scan (path) VALUES (?)", [(p,) for p in paths])
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_SCANNED_KEY, str(time.time())))

    def put(self, row: JobRow) -> None:
        """Insert or replace a whole row."""
        if row.state not in STATES:
            raise ValueError(f"unknown job state {row.state!r}")
        marks = ", ".join("?" for _ in _COLUMNS)
        with self._db:
            self._db.execute(f"INSERT OR REPLACE INTO jobs ({', '.join(_COLUMNS)}) VALUES ({marks})",
                             [getattr(row, c) for c in _COLUMNS])

    def update(self, path: str, **values) -> None:
        """Change some columns of one row."""
        unknown = set(values) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown ledger column(s) {sorted(unknown)}")
        if values.get("state", "pending") not in STATES:
            raise ValueError(f"unknown job state {values['state']!r}")
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._db:
            self._db.execute(f"UPDATE jobs SET {sets} WHERE path = ?", [*values.values(), path])

    def mark_running(self, path: str, worker: str) -> int:
        """A new attempt starts; returns the attempt number."""
        with self._db:
            self._db.execute("UPDATE jobs SET state = 'running', attempts = attempts + 1, error = NULL, owned = 1, "
                             "started = ?, finished = NULL, worker = ? WHERE path = ?", (time.time(), worker, path))
        return self.get(path).attempts

    def recover_interrupted(self) -> list[str]:
        """Rows left 'running' by a killed run go back to 'pending'; returns their paths."""
        paths = [r[0] for r in self._db.execute("SELECT path FROM jobs WHERE state = 'running'")]
        with self._db:
            self._db.execute("UPDATE jobs SET state = 'pending', error = 'interrupted (a previous run was stopped)' "
                             "WHERE state = 'running'")
        return paths
