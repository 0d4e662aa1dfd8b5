"""`vidcolor run DIR` and `vidcolor status OUTDIR` from the command line: tables, exit codes, Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import media_factory as mf
from vidcolor.cli import app
from vidcolor.errors import ConfigError


@pytest.fixture
def films(tmp_path) -> Path:
    d = tmp_path / "films"
    (d / "sub").mkdir(parents=True)
    mf.make_clip(d / "a.mp4", frames=8)
    mf.make_clip(d / "sub" / "b.mp4", frames=8)
    (d / "fake.mp4").write_text("hello")
    return d


def _run_args(films: Path, model: Path, *extra: str) -> list[str]:
    return ["run", str(films), "--model", str(model), "--pipeline", "fast", "--device", "cpu", "-q", *extra]


def test_run_dir_prints_the_summary_and_exits_1_on_a_failure(films, tiny_model):
    result = CliRunner().invoke(app, _run_args(films, tiny_model))
    assert result.exit_code == 1, result.output
    assert "3 films: 2 done, 0 skipped, 1 failed" in result.output
    assert "fake.mp4 is not a video file" in result.output
    out = films.with_name("films.colorized")
    assert (out / "a.mp4").is_file() and (out / "sub" / "b.mp4").is_file()

    status = CliRunner().invoke(app, ["status", str(out)])
    assert status.exit_code == 0
    lines = status.output.splitlines()
    assert any(line.startswith("done") and "sub/b.mp4" in line for line in lines)
    assert any(line.startswith("failed") and "fake.mp4" in line for line in lines)
    assert lines[-1] == "3 films: 2 done, 1 failed"
    assert CliRunner().invoke(app, ["status", str(films)]).output == status.output  # the input folder works too

    (films / "fake.mp4").unlink()
    again = CliRunner().invoke(app, _run_args(films, tiny_model))
    assert again.exit_code == 0 and "2 films: 0 done, 2 skipped, 0 failed" in again.output
    lines = CliRunner().invoke(app, ["status", str(out)]).output.splitlines()
    gone = [line for line in lines if "fake.mp4" in line]  # its row stays, read as no longer in the batch
    assert len(gone) == 1 and gone[0].startswith("removed") and "not in the input folder at the last run" in gone[0]
    assert lines[-1] == "3 films: 2 done, 1 removed"


def test_status_shows_the_note_of_a_truncated_film(tmp_path, tiny_model):
    d = tmp_path / "films"
    d.mkdir()
    mf.truncate_file(mf.make_clip(d / "cut.mkv", frames=48), 0.5)
    assert CliRunner().invoke(app, _run_args(d, tiny_model)).exit_code == 0
    status = CliRunner().invoke(app, ["status", str(d)]).output.splitlines()
    line = next(line for line in status if "cut.mkv" in line)
    assert line.startswith("done") and "cut.mkv (the input ends after" in line


def test_status_without_a_ledger_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(app, ["status", str(tmp_path)])
    assert isinstance(result.exception, ConfigError) and "no batch ledger" in str(result.exception)


def test_ray_address_without_ray_says_how_to_install_it(films, tiny_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    result = CliRunner().invoke(app, _run_args(films, tiny_model, "--ray-address", "local"))
    assert isinstance(result.exception, ConfigError)
    assert "pip install 'vidcolor[cluster]'" in str(result.exception)


def _long_and_short_films(tmp_path: Path) -> Path:
    """A folder of a film long enough to be stopped in (a.mp4) and a short one after it (b.mp4)."""
    d = tmp_path / "films"
    d.mkdir()
    mf.make_clip(d / "a.mp4", frames=240, width=160, height=96, gop=48)
    mf.make_clip(d / "b.mp4", frames=8)
    return d


def _batch_in_its_first_film(films: Path, out: Path, model: Path) -> subprocess.Popen:
    """`vidcolor run DIR` in a process of its own, once it writes its first film (skips if it ends before)."""
    # Ctrl-C as a terminal delivers it, even when the suite runs as a background job (which ignores it)
    proc = subprocess.Popen([sys.executable, "-m", "vidcolor", *_run_args(films, model, "-o", str(out))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and any(".vidcolor-tmp-" in p.name for p in out.iterdir()):
            break
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.skip("the batch finished before it could be stopped")
    return proc


def test_ctrl_c_finishes_the_current_film_and_exits_130(tmp_path, tiny_model):
    out = tmp_path / "out"
    proc = _batch_in_its_first_film(_long_and_short_films(tmp_path), out, tiny_model)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-800:]
    assert "stopping after the current film" in stderr
    assert (out / "a.mp4").is_file() and not (out / "b.mp4").exists()
    assert not [p for p in out.iterdir() if ".vidcolor-tmp-" in p.name]
    assert "not started" in stdout and "stopped by Ctrl-C" in stdout


def test_sigterm_aborts_the_current_film_cleanly_and_exits_143(tmp_path, tiny_model):
    out = tmp_path / "out"
    proc = _batch_in_its_first_film(_long_and_short_films(tmp_path), out, tiny_model)
    proc.send_signal(signal.SIGTERM)  # what `kill`, systemd and `docker stop` send
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr[-800:]
    assert "Traceback" not in stderr and stderr.count("stopped by SIGTERM") == 1
    assert not (out / "a.mp4").exists() and not (out / "b.mp4").exists()
    assert not [p for p in out.iterdir() if ".vidcolor-tmp-" in p.name]  # no partial file left
    assert "stopped by SIGTERM (the film in progress was aborted and left no output)" in stdout
    status = CliRunner().invoke(app, ["status", str(out)]).output
    assert "running" not in status and "interrupted by SIGTERM" in status  # the ledger says what happened
