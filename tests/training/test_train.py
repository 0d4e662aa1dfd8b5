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
    assert (tmp_path / "cache" / "global_vectors.npz").is_file()
    # a finished run is not redone; a longer run resumes from an interrupted checkpoint
    assert train(cfg) == model_id
