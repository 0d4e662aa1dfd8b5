"""`vidcolor train` on an existing output: resume only what matches, save on Ctrl-C, train a finished model on."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import vidcolor.training.train as train_module
from vidcolor.errors import ConfigError, Terminated
from vidcolor.model.checkpoint import load_checkpoint
from vidcolor.training.interrupt import TrainingInterrupted
from vidcolor.training.train import TrainConfig, train


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Three 64x64 colour photos (two colours each, some texture)."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(3):
        img = np.empty((64, 64, 3), np.uint8)
        img[:32], img[32:] = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        img = cv2.GaussianBlur(np.clip(img + rng.integers(0, 30, img.shape), 0, 255).astype(np.uint8), (5, 5), 0)
        cv2.imwrite(str(folder / f"p{i}.png"), img)
    return folder


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")  # global vectors, computed once for the module


@pytest.fixture
def ctrl_c_reaches_python():
    """Ctrl-C raises in this process even when the suite runs as a background job (which ignores SIGINT)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _cfg(photos: Path, cache: Path, out: Path, **kw) -> TrainConfig:
    base = dict(data=[str(photos)], output=str(out), base_channels=8, crop_px=32, batch_size=2, max_steps=3,
                device="cpu", cache_dir=str(cache), calibrate_int8=False)
    return TrainConfig(**{**base, **kw})


def _unfinished(photos: Path, cache: Path, out: Path, monkeypatch, steps: int = 2, **kw) -> bytes:
    """A checkpoint saved mid-run (steps done, not finished), as a killed run leaves it; returns its bytes."""
    def crash(*args, **kwargs):
        raise RuntimeError("killed")

    with monkeypatch.context() as m:
        m.setattr(train_module, "calibration_ranges", crash)
        with pytest.raises(RuntimeError):
            train(_cfg(photos, cache, out, max_steps=steps, save_every_seconds=0.0, calibrate_int8=True, **kw))
    assert not load_checkpoint(out).training["finished"]
    return out.read_bytes()


def _signal_at_batch(monkeypatch, call: int, signum: int = signal.SIGINT) -> None:
    """The training's `call`-th batch sends `signum` to this process, as a Ctrl-C (or `kill`) mid-step."""
    calls = []

    class Sampler(train_module.CropSampler):
        def batch(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == call:
                os.kill(os.getpid(), signum)
            return super().batch(*args, **kwargs)

    monkeypatch.setattr(train_module, "CropSampler", Sampler)


def _stopped(cfg: TrainConfig) -> TrainingInterrupted:
    """Train until a stop signal ends it; what it says (a bare KeyboardInterrupt fails the test, not the suite)."""
    try:
        train(cfg)
    except TrainingInterrupted as exc:
        return exc
    except KeyboardInterrupt:
        pytest.fail("the training stopped on Ctrl-C without saying what it saved")
    pytest.fail("the training was not stopped")


def _stepped(progress_bar: str) -> bool:
    """True once the progress bar shows a step done."""
    return re.search(r"\| *[1-9][0-9]*/[0-9]+ ", progress_bar) is not None


def _no_temp_files(folder: Path) -> bool:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


# --------------------------------------------------------------------------- other settings on resume
@pytest.mark.parametrize("changed, named", [
    ({"head": "regression"}, "--head classification (not regression)"),
    ({"use_global": False}, "the global branch (not --no-global)"),
    ({"learning_rate": 3e-4}, "--lr 0.001 (not 0.0003)"),
    ({"dropout": 0.3}, "--dropout 0.1 (not 0.3)"),
])
def test_resume_with_other_network_settings_is_refused_and_keeps_the_checkpoint(photos, cache, tmp_path,
                                                                                 monkeypatch, changed, named):
    out = tmp_path / "u.pt"
    before = _unfinished(photos, cache, out, monkeypatch)
    with pytest.raises(ConfigError) as err:
        train(_cfg(photos, cache, out, max_steps=10, **changed))
    message = str(err.value)
    assert named in message and "2 steps trained" in message and "\n" not in message
    assert "same settings" in message and "another -o" in message and f"--init {out}" in message
    assert out.read_bytes() == before


def test_resume_goes_on_with_other_steps_batch_size_and_crop(photos, cache, tmp_path, monkeypatch, capsys):
    out = tmp_path / "u.pt"
    _unfinished(photos, cache, out, monkeypatch)
    with pytest.raises(ConfigError):
        train(_cfg(photos, cache, out, max_steps=4, head="regression"))
    train(_cfg(photos, cache, out, max_steps=4, batch_size=3, crop_px=64))
    printed = capsys.readouterr().out
    assert f"resuming {out} from step 2 of 4" in printed and "--batch-size 2 -> 3" in printed
    ckpt = load_checkpoint(out)
    assert ckpt.training["steps"] == 4 and ckpt.training["finished"] and ckpt.net.config.head == "classification"


def test_a_shorter_steps_leaves_an_unfinished_run_to_resume(photos, cache, tmp_path, monkeypatch, capsys):
    out = tmp_path / "u.pt"
    saved = _unfinished(photos, cache, out, monkeypatch, steps=3)  # 3 steps of a run of 3, the int8 pass not done
    train(_cfg(photos, cache, out, max_steps=2))  # a shorter run asked by mistake
    assert "nothing to do, the file is left as it is (run with --steps 3 to resume that run)" in capsys.readouterr().out
    assert out.read_bytes() == saved
    train(_cfg(photos, cache, out, max_steps=3))  # its own length: resumed, and finished
    assert load_checkpoint(out).training["finished"] and load_checkpoint(out).training["steps"] == 3


def test_init_naming_the_output_itself_is_refused(photos, cache, tmp_path, monkeypatch):
    out = tmp_path / "u.pt"
    before = _unfinished(photos, cache, out, monkeypatch)
    with pytest.raises(ConfigError, match="--init and -o are the same file"):
        train(_cfg(photos, cache, out, max_steps=10, init_from=str(out)))
    assert out.read_bytes() == before


def test_cli_resume_with_another_head_is_a_config_error(photos, cache, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vidcolor.cli import app

    out = tmp_path / "u.pt"
    before = _unfinished(photos, cache, out, monkeypatch, base_channels=32)
    result = CliRunner().invoke(app, ["train", str(photos), "-o", str(out), "--steps", "10", "--batch-size", "2",
                                      "--crop", "32", "--device", "cpu", "--cache-dir", str(cache),
                                      "--head", "regression"])
    assert isinstance(result.exception, ConfigError)  # the CLI prints it as one line and exits 2
    assert "--head classification (not regression)" in str(result.exception)
    assert out.read_bytes() == before


# --------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_saves_the_steps_done_and_the_same_run_resumes_from_them(photos, cache, tmp_path, monkeypatch,
                                                                        ctrl_c_reaches_python, capsys):
    out = tmp_path / "u.pt"
    _signal_at_batch(monkeypatch, 3)
    stopped = _stopped(_cfg(photos, cache, out, max_steps=1000))  # saves every 120 s: none written by then
    assert stopped.steps_saved == 3 and not stopped.terminated
    assert str(stopped) == f"stopped by Ctrl-C: saved 3 steps to {out}; run the same command again to resume"
    ckpt = load_checkpoint(out, with_optimizer=True)
    assert ckpt.training["steps"] == 3 and not ckpt.training["finished"] and ckpt.optimizer_state is not None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back
    train(_cfg(photos, cache, out, max_steps=5))
    assert f"resuming {out} from step 3 of 5" in capsys.readouterr().out
    assert load_checkpoint(out).training["steps"] == 5


def test_a_second_ctrl_c_during_the_save_lets_it_finish(photos, cache, tmp_path, monkeypatch,
                                                        ctrl_c_reaches_python, capsys):
    out = tmp_path / "u.pt"
    _signal_at_batch(monkeypatch, 2)
    real_save = train_module.save_checkpoint

    def save_pressed_again(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # impatient user: Ctrl-C again while the checkpoint is written
        return real_save(*args, **kwargs)

    monkeypatch.setattr(train_module, "save_checkpoint", save_pressed_again)
    assert "saved 2 steps" in str(_stopped(_cfg(photos, cache, out, max_steps=1000)))
    assert "saving the checkpoint first" in capsys.readouterr().err
    assert load_checkpoint(out).training["steps"] == 2 and _no_temp_files(tmp_path)


def test_a_third_ctrl_c_gives_the_save_up_and_leaves_the_last_checkpoint_whole(photos, cache, tmp_path,
                                                                               monkeypatch, ctrl_c_reaches_python):
    out = tmp_path / "u.pt"
    before = _unfinished(photos, cache, out, monkeypatch)
    _signal_at_batch(monkeypatch, 1)

    def half_written_then_ctrl_c_twice(payload, path, *args, **kwargs):
        Path(path).write_bytes(b"PK\x03\x04 half a checkpoint")
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)  # the third Ctrl-C lands here, in the middle of writing

    monkeypatch.setattr(torch, "save", half_written_then_ctrl_c_twice)
    stopped = _stopped(_cfg(photos, cache, out, max_steps=1000))
    assert str(stopped) == (f"stopped by Ctrl-C without saving; {out} keeps its last save (2 steps): "
                                  f"run the same command again to resume from there")
    assert out.read_bytes() == before and _no_temp_files(tmp_path)


def test_cli_ctrl_c_exits_130_with_one_line_on_what_was_saved(photos, cache, tmp_path, monkeypatch,
                                                             ctrl_c_reaches_python):
    from typer.testing import CliRunner

    from vidcolor.cli import app

    out = tmp_path / "u.pt"
    _signal_at_batch(monkeypatch, 2)
    result = CliRunner().invoke(app, ["train", str(photos), "-o", str(out), "--steps", "1000", "--batch-size", "2",
                                      "--crop", "32", "--device", "cpu", "--cache-dir", str(cache)])
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines()[-1] == (f"vidcolor: stopped by Ctrl-C: saved 2 steps to {out}; run the "
                                                      f"same command again to resume")
    assert load_checkpoint(out).training["steps"] == 2


def test_cli_sigterm_saves_too_and_exits_143(photos, cache, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vidcolor.cli import app

    def raise_terminated(signum, frame):  # what vidcolor's main() installs
        raise Terminated

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        out = tmp_path / "u.pt"
        _signal_at_batch(monkeypatch, 2, signal.SIGTERM)
        result = CliRunner().invoke(app, ["train", str(photos), "-o", str(out), "--steps", "1000", "--batch-size",
                                          "2", "--crop", "32", "--device", "cpu", "--cache-dir", str(cache)])
        assert signal.getsignal(signal.SIGTERM) is raise_terminated
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result.exit_code == 143
    assert "vidcolor: stopped by SIGTERM: saved 2 steps" in result.stderr
    assert load_checkpoint(out).training["steps"] == 2


def test_real_ctrl_c_on_the_command_saves_and_exits_130(photos, cache, tmp_path):
    out = tmp_path / "u.pt"
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err:
        # Ctrl-C as a terminal delivers it, even when the suite runs as a background job (which ignores it)
        proc = subprocess.Popen([sys.executable, "-m", "vidcolor", "train", str(photos), "-o", str(out), "--steps",
                                 "100000", "--batch-size", "2", "--crop", "32", "--device", "cpu", "--cache-dir",
                                 str(cache)], stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not _stepped(err_path.read_text()):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    lines = [line for line in err_path.read_text().replace("\r", "\n").splitlines()
             if line.startswith("vidcolor:")]
    assert proc.returncode == 130, lines
    steps = load_checkpoint(out).training["steps"]
    assert steps >= 1 and lines == [f"vidcolor: stopped by Ctrl-C: saved {steps} steps to {out}; run the same "
                                    f"command again to resume", "vidcolor: interrupted"]


# --------------------------------------------------------------------------- a finished model and a larger --steps
def test_a_finished_model_trains_on_to_a_larger_steps(photos, cache, tmp_path, capsys):
    out = tmp_path / "f.pt"
    first = train(_cfg(photos, cache, out, max_steps=2))
    capsys.readouterr()
    second = train(_cfg(photos, cache, out, max_steps=4))
    printed = capsys.readouterr().out
    # the cosine schedule of 4 steps, taken up at step 2: half of --lr
    assert f"{out} is trained to 2 steps; training on to --steps 4" in printed and "from 50% of --lr" in printed
    ckpt = load_checkpoint(out)
    assert second != first and ckpt.training["steps"] == 4 and ckpt.training["finished"]


def test_a_finished_model_with_no_more_steps_to_do_says_how_to_train_it_further(photos, cache, tmp_path, capsys):
    out = tmp_path / "f.pt"
    model_id = train(_cfg(photos, cache, out, max_steps=2))
    before = out.read_bytes()
    assert train(_cfg(photos, cache, out, max_steps=2)) == model_id
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"{out} is already fully trained (2 steps, --steps 2); nothing to do (give a larger --steps to train it "
        f"further, or --init {out} with another -o to fine-tune from it)")
    assert out.read_bytes() == before


def test_help_says_what_resuming_and_a_larger_steps_do():
    from typer.testing import CliRunner

    from vidcolor.cli import app

    text = " ".join(CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output.split())
    assert "training resumes from it" in text and "Ctrl-C saves it" in text
    assert "trains on to this count" in text
