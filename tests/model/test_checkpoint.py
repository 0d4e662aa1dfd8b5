import io

import numpy as np
import pytest
import torch

from vidcolor.errors import ConfigError, ModelError
from vidcolor.model.checkpoint import CHECKPOINT_VERSION, load_checkpoint, save_checkpoint
from vidcolor.model.chroma_bins import ChromaBins
from vidcolor.model.colorizer import Colorizer, resolve_device, working_size
from vidcolor.model.unet import ColorNet, NetConfig


def _net(**kw):
    bins = ChromaBins.uniform()
    return ColorNet(NetConfig(base_channels=8, bin_count=bins.count, **kw)).eval(), bins


def test_round_trip_keeps_weights_config_bins_and_id(tmp_path):
    net, bins = _net()
    model_id = save_checkpoint(tmp_path / "m.pt", net, bins, name="t", training={"steps": 3})
    ckpt = load_checkpoint(tmp_path / "m.pt")
    assert ckpt.model_id == model_id and model_id.startswith("t-")
    assert ckpt.net.config == net.config and ckpt.training["steps"] == 3
    assert torch.equal(ckpt.bins.centers, bins.centers)
    x = torch.rand(1, 1, 32, 48) * 100
    g = torch.randn(1, 1280)
    with torch.no_grad():
        assert torch.allclose(ckpt.net(x, g), net(x, g), atol=1e-5)


def test_half_precision_file_is_smaller_and_gives_the_same_id(tmp_path):
    net, bins = _net()
    a = save_checkpoint(tmp_path / "a.pt", net, bins, name="t")
    b = save_checkpoint(tmp_path / "b.pt", net.half().float(), bins, name="t", half_precision=True)
    assert (tmp_path / "b.pt").stat().st_size < 0.6 * (tmp_path / "a.pt").stat().st_size
    assert load_checkpoint(tmp_path / "b.pt").model_id == b and a.startswith("t-")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04garbage"])
def test_corrupt_files_give_a_clear_error(tmp_path, content):
    p = tmp_path / "bad.pt"
    p.write_bytes(content)
    with pytest.raises(ModelError, match="not a readable vidcolor checkpoint"):
        load_checkpoint(p)


def test_truncated_and_foreign_and_future_checkpoints(tmp_path):
    net, bins = _net()
    save_checkpoint(tmp_path / "m.pt", net, bins, name="t")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(ModelError, match="not a vidcolor checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    payload = torch.load(io.BytesIO(data), weights_only=True)
    payload["format_version"] = CHECKPOINT_VERSION + 1
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(ModelError, match="format version"):
        load_checkpoint(tmp_path / "future.pt")
    with pytest.raises(ModelError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_device_choice():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ConfigError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):
            resolve_device("cuda")


def test_working_size_is_a_multiple_of_16_with_the_aspect_kept():
    assert working_size(360, 640, 256) == (256, 448)
    assert working_size(1080, 1920, 256) == (256, 448)
    h, w = working_size(49, 65, 256)
    assert h % 16 == 0 and w % 16 == 0


def test_colorizer_shapes_and_global_reuse(tiny_model):
    c = Colorizer(tiny_model, device="cpu")
    gray = np.random.default_rng(0).integers(0, 255, size=(3, 64, 96), dtype=np.uint8)
    vec = c.global_features(gray[0])
    assert vec.shape == (1, 1280) and c.global_calls == 1
    ab = c.predict_ab(gray, vec)
    assert ab.shape == (3, 64, 96, 2) and ab.dtype == np.float32
    assert c.sample_ab(gray[:1], vec, count=3).shape == (3, 64, 96, 2)
