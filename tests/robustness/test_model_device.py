"""Bad checkpoints and devices: a clear one-line error before any output is started."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from robust_cli import assert_clean_folder, assert_outcome, cli_args, hash_files, run_in_process

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import media_factory as mf  # noqa: E402


@pytest.fixture
def clip(tmp_path) -> Path:
    return mf.make_clip(tmp_path / "film.mp4", frames=6)


def test_corrupt_checkpoint(tmp_path, fast_model, clip):
    bad = tmp_path / "bad.pt"
    data = bytearray(fast_model.read_bytes())
    bad.write_bytes(bytes(data[: len(data) // 3]))  # a download cut short
    before = hash_files([clip, bad])
    out = run_in_process(cli_args(["film.mp4", "--model", "bad.pt"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="bad.pt is not a readable vidcolor checkpoint (corrupt or not a model file)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt", "film.mp4"]
    assert_clean_folder(tmp_path, before)


def test_checkpoint_of_another_format_version(tmp_path, fast_model, clip):
    payload = torch.load(fast_model, map_location="cpu", weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    out = run_in_process(cli_args(["film.mp4", "--model", "future.pt"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="future.pt is a vidcolor checkpoint of format version 99; "
                                        "this vidcolor reads version 1 (upgrade vidcolor or retrain the model)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.mp4", "future.pt"]


def test_missing_checkpoint(tmp_path, fast_model, clip):
    out = run_in_process(cli_args(["film.mp4", "--model", "gone.pt"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="model checkpoint not found: gone.pt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_device_cuda_without_a_gpu(tmp_path, fast_model, clip):
    out = run_in_process(cli_args(["film.mp4", "--device", "cuda"], fast_model), tmp_path)
    assert_outcome(out, code=2, message="--device cuda was asked for, but no CUDA GPU is available here "
                                        "(use --device auto or cpu)")
    assert [p.name for p in tmp_path.iterdir()] == ["film.mp4"]


def test_device_auto_falls_back_to_cpu(tmp_path, fast_model, clip):
    out = run_in_process(cli_args(["film.mp4", "--device", "auto"], fast_model), tmp_path)
    assert_outcome(out, code=0, stdout="colorized 6 frames")
    assert out.stderr == ""
    assert (tmp_path / "film.color.mp4").is_file()  # the default output name beside the input
