"""Bad command lines: one line on stderr naming the problem, exit code 2 (not Click's boxed usage text)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "robustness"))
from robust_cli import run_in_process  # noqa: E402


@pytest.mark.parametrize("argv,says", [
    (["run", "film.mp4", "--retries", "-1"], "Invalid value for '--retries'"),
    (["preview", "film.mp4", "--grid", "abc"], "Invalid value for '--grid'"),
    (["run", "film.mp4", "--no-such-option"], "No such option: --no-such-option"),
    (["run"], "Missing argument 'IN'"),
    (["colourise", "film.mp4"], "No such command 'colourise'"),
])
def test_a_bad_command_line_is_one_line_and_exit_2(tmp_path, argv, says):
    outcome = run_in_process(argv, tmp_path)
    assert outcome.code == 2
    assert len(outcome.error_lines) == 1, outcome.stderr
    line = outcome.error_lines[0]
    assert line.startswith("vidcolor: error: ") and says in line
    assert "--help" in line  # where to look next
    assert "Usage:" not in outcome.stderr and "╭" not in outcome.stderr


def test_help_still_prints_and_exits_0(tmp_path):
    outcome = run_in_process(["run", "--help"], tmp_path)
    assert outcome.code == 0
    assert "--pipeline" in outcome.stdout and not outcome.stderr
