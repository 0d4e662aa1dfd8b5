"""Helpers for the robustness matrix: run the real CLI (in-process or as a subprocess) and check what a user sees."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TEMP_MARKER = ".vidcolor-tmp-"
SUBPROCESS_TIMEOUT_SECONDS = 120


@dataclass
class Outcome:
    """What the user sees: exit status, stdout and stderr."""

    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def cli_args(args: list[str], model: Path, extra: tuple[str, ...] = ("--pipeline", "fast", "-q")) -> list[str]:
    """`run ARGS --model MODEL --pipeline fast -q` unless the case gives its own --model."""
    full = ["run", *map(str, args)]
    if "--model" not in full:
        full += ["--model", str(model)]
    return full + [e for e in extra if e not in full]


def run_in_process(argv: list[str], cwd: Path) -> Outcome:
    """Run `vidcolor.cli.main()` as `python -m vidcolor` would, in this process (no interpreter start-up)."""
    from vidcolor.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = ["vidcolor", *argv]
    code = 0
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:  # anything else escaping main() would be a traceback: the test fails
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
    return Outcome(code, out.getvalue(), err.getvalue())


def run_subprocess(argv: list[str], cwd: Path) -> Outcome:
    """Run `python -m vidcolor ARGV` for real (exit code and stderr exactly as a user gets them)."""
    p = subprocess.run([sys.executable, "-m", "vidcolor", *argv], cwd=cwd, capture_output=True, text=True,
                       timeout=SUBPROCESS_TIMEOUT_SECONDS)
    return Outcome(p.returncode, p.stdout, p.stderr)


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every regular file under folder (relative path -> digest)."""
    res = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            res[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return res


def temp_leftovers(folder: Path) -> list[Path]:
    """Temp files of the sink left anywhere under folder."""
    return [p for p in folder.rglob("*") if TEMP_MARKER in p.name]


def assert_outcome(outcome: Outcome, *, code: int, message: str | None = None, stdout: str | None = None) -> None:
    """Exit code, no traceback, and on failure exactly one 'vidcolor: error: ...' line containing `message`."""
    assert "Traceback" not in outcome.stderr + outcome.stdout, outcome.stderr
    assert outcome.code == code, (outcome.code, outcome.stderr, outcome.stdout)
    if code != 0:
        assert len(outcome.error_lines) == 1, outcome.stderr
        line = outcome.error_lines[0]
        assert line.startswith("vidcolor: "), line
        if message is not None:
            assert message in line, line
    if stdout is not None:
        assert stdout in outcome.stdout, outcome.stdout


def hash_files(paths: list[Path]) -> dict[Path, str]:
    """sha256 of each given file (inputs, checked byte-identical after a case)."""
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def assert_clean_folder(folder: Path, inputs_before: dict[Path, str]) -> None:
    """No sink temp file anywhere under folder, and every input byte-identical to before."""
    assert temp_leftovers(folder) == [], temp_leftovers(folder)
    assert hash_files(list(inputs_before)) == inputs_before, "an input file was modified"
