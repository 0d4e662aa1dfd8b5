"""`vidcolor train`: a few real steps on real photos, a usable checkpoint, resumption."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from vidcolor.model.checkpoint import load_checkpoint
from vidcolor.training.data import load_training_images
from vidcolor.training.train import TrainConfig, train

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "coffee", "chelsea"):
        rgb = getattr(skimage_data, name)()
        cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(cv2.resize(rgb, (160, 120)), cv2.COLOR_RGB2BGR))
    gray = np.full((120, 160, 3), 128, np.uint8)
    cv2.imwrite(str(folder / "gray.png"), gray)  # gray photos teach nothing and are skipped
    return folder


def test_loader_skips_gray_photos(photo_dir):
    names = sorted(Path(im.name).stem for im in load_training_images([photo_dir]))
    assert names == ["astronaut", "chelsea", "coffee"]


@pytest.mark.parametrize("head", ["classification", "regression"])
def test_train_writes_a_loadable_checkpoint_and_resumes(photo_dir, tmp_path, head):
    out = tmp_path / "m.pt"
    cfg = TrainConfig(data=[str(photo_dir)], output=str(out), head=head, base_channels=8, crop_px=64,
                      batch_size=4, max_steps=3, device="cpu", save_every_seconds=0.0,
                      cache_dir=str(tmp_path / "cache"))
    model_id = train(cfg)
    ckpt = load_checkpoint(out)
    assert ckpt.model_id == model_id and ckpt.training["steps"] == 3 and ckpt.training["finished"]
    assert ckpt.int8_ranges  # calibrated at the end, so CPUs with VNNI can run it in int8
    assert (tmp_path / "cache" / "global_vectors.npz").is_file()
    # a finished run is not redone; a longer run resumes from an interrupted checkpoint
    assert train(cfg) == model_id


def test_fine_tune_starts_from_the_given_weights(photo_dir, tmp_path):
    base = dict(data=[str(photo_dir)], base_channels=8, crop_px=64, batch_size=4, device="cpu",
                save_every_seconds=1e9, cache_dir=str(tmp_path / "cache"), rebalance_lambda=None)
    first = tmp_path / "first.pt"
    train(TrainConfig(output=str(first), max_steps=2, **base))
    tuned = tmp_path / "tuned.pt"
    # learning rate 0: the fine-tuned net must be the starting net, bins and prior included
    train(TrainConfig(output=str(tuned), max_steps=1, learning_rate=0.0, weight_decay=0.0, init_from=str(first),
                      soften_prob=1.0, **base))
    a, b = load_checkpoint(first), load_checkpoint(tuned)
    for key, value in a.net.state_dict().items():
        if value.is_floating_point() and "running" not in key and "num_batches" not in key:
            assert np.allclose(value.numpy(), b.net.state_dict()[key].numpy()), key
    assert np.allclose(a.bins.prior.numpy(), b.bins.prior.numpy())
    with pytest.raises(Exception, match="different network"):
        train(TrainConfig(output=str(tmp_path / "other.pt"), max_steps=1, init_from=str(first),
                          **{**base, "base_channels": 16}))


def test_softened_inputs_lose_fine_detail():
    import torch

    from vidcolor.training.data import CropSampler, TrainingImage

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(96, 96, 3), dtype=np.uint8)  # all fine detail
    images = [TrainingImage("noise", noise)]
    sharp = CropSampler(images, torch.device("cpu"), 64, seed=1, soften_prob=0.0)
    soft = CropSampler(images, torch.device("cpu"), 64, seed=1, soften_prob=1.0)
    vec = torch.zeros(1, 4)

    def detail(sampler):
        lightness = sampler.batch(8, vec)[0]
        return float((lightness[..., 1:] - lightness[..., :-1]).abs().mean())

    assert detail(soft) < 0.8 * detail(sharp)


def test_cli_can_leave_the_int8_calibration_for_later(photo_dir, tmp_path):
    from typer.testing import CliRunner

    from vidcolor.cli import app

    out = tmp_path / "m.pt"
    result = CliRunner().invoke(app, ["train", str(photo_dir), "-o", str(out), "--steps", "1", "--batch-size", "2",
                                      "--crop", "64", "--device", "cpu", "--cache-dir", str(tmp_path / "cache"),
                                      "--no-int8-calibration"])
    assert result.exit_code == 0, result.output
    ckpt = load_checkpoint(out)
    assert ckpt.training["finished"] and ckpt.int8_ranges is None
