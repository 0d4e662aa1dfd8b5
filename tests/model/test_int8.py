"""Int8 inference: calibration stored in the checkpoint, quantized blocks, and how the precision is chosen."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidcolor.errors import ConfigError
from vidcolor.model.checkpoint import load_checkpoint, save_checkpoint
from vidcolor.model.colorizer import Colorizer, fold_batch_norms, resolve_precision
from vidcolor.model.int8 import calibrate, cpu_has_vnni, quantize


def _luma_batches(seed: int, count: int = 4):
    """Smooth luma images (gradients + blobs), each with a global vector: stand-ins for photos."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:96] / 64.0
    for _ in range(count):
        img = 50 + 30 * np.sin(xx * rng.uniform(1, 6) + rng.uniform(0, 6)) * np.cos(yy * rng.uniform(1, 6))
        img = np.clip(img + rng.normal(0, 3, img.shape), 0, 100)
        yield torch.from_numpy(img).float()[None, None], torch.from_numpy(rng.normal(0, 1, (1, 1280))).float()


@pytest.fixture(scope="module")
def calibrated_tiny(tiny_model, tmp_path_factory):
    ckpt = load_checkpoint(tiny_model)
    ranges = calibrate(fold_batch_norms(ckpt.net), _luma_batches(0))
    path = tmp_path_factory.mktemp("int8") / "tiny-int8.pt"
    save_checkpoint(path, ckpt.net, ckpt.bins, name="tiny-test", int8_ranges=ranges)
    return path, ranges


def test_quantized_net_follows_the_float_net(tiny_model, calibrated_tiny):
    _, ranges = calibrated_tiny
    net = fold_batch_norms(load_checkpoint(tiny_model).net)
    qnet = quantize(net, ranges)
    assert any(".quantized." in type(m).__module__ for m in qnet.modules())
    for lightness, vec in _luma_batches(1, count=2):
        with torch.inference_mode():
            ref, out = net(lightness, vec), qnet(lightness, vec)
        assert out.shape == ref.shape
        rel = (out - ref).abs().mean() / ref.abs().mean()
        assert rel < 0.1, rel  # int8 rounding, not a different network


def test_calibration_travels_in_the_checkpoint(tiny_model, calibrated_tiny):
    path, ranges = calibrated_tiny
    loaded = load_checkpoint(path)
    assert loaded.int8_ranges.keys() == ranges.keys()
    assert all(np.allclose(loaded.int8_ranges[k], ranges[k]) for k in ranges)
    assert loaded.model_id == load_checkpoint(tiny_model).model_id  # same weights, same id
    assert load_checkpoint(tiny_model).int8_ranges is None


def test_a_calibration_for_another_network_is_refused(tiny_model, calibrated_tiny):
    _, ranges = calibrated_tiny
    net = fold_batch_norms(load_checkpoint(tiny_model).net)
    with pytest.raises(ValueError, match="does not match"):
        quantize(net, dict(list(ranges.items())[:-1]))


def test_colorizer_runs_int8_when_asked(calibrated_tiny):
    path, _ = calibrated_tiny
    gray = np.random.default_rng(3).integers(0, 256, size=(2, 64, 96), dtype=np.uint8)
    fp32 = Colorizer(path, device="cpu", precision="fp32")
    int8 = Colorizer(path, device="cpu", precision="int8")
    assert int8.precision == "int8"
    vec = fp32.global_features(gray[0])
    ab32, ab8 = fp32.predict_ab(gray, vec), int8.predict_ab(gray, vec)
    assert ab8.shape == ab32.shape == (2, 64, 96, 2)
    assert np.abs(ab8 - ab32).mean() < 1.0  # ab units (range about +-110)


def test_precision_choice(tiny_model):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_precision("auto", cpu, int8_calibrated=True) == ("int8" if cpu_has_vnni() else
                                                                    resolve_precision("auto", cpu))
    assert resolve_precision("auto", cpu, int8_calibrated=False) in ("bf16", "fp32")
    assert resolve_precision("fp32", cpu, int8_calibrated=True) == "fp32"
    with pytest.raises(ConfigError, match="cpu only"):
        resolve_precision("int8", cuda, int8_calibrated=True)
    with pytest.raises(ConfigError, match="no int8 calibration"):
        Colorizer(tiny_model, device="cpu", precision="int8")


@pytest.mark.skipif(not cpu_has_vnni(), reason="int8 is the default only on CPUs with VNNI")
def test_shipped_model_int8_matches_fp32_on_the_sample_clip(shipped_model, sample_clip):
    """The shipped calibration: int8 colours within a fraction of a code value of fp32 on real frames."""
    import av

    from vidcolor.model.colorizer import working_size
    from vidcolor.pipeline.config import load_pipeline_config

    if load_checkpoint(shipped_model).int8_ranges is None:
        pytest.fail("the shipped model carries no int8 calibration (scripts/calibrate_int8.py)")
    with av.open(str(sample_clip)) as container:
        frames = [f.to_ndarray(format="gray") for i, f in zip(range(40), container.decode(video=0)) if i % 10 == 0]
    import cv2

    h, w = working_size(*frames[0].shape, load_pipeline_config("default").working_short_side_px)
    gray = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
    fp32 = Colorizer(shipped_model, device="cpu", precision="fp32")
    int8 = Colorizer(shipped_model, device="cpu")
    assert int8.precision == "int8"
    vec = fp32.scene_features(list(gray[:3]))
    diff = np.abs(int8.predict_ab(gray, vec) - fp32.predict_ab(gray, vec))
    assert diff.mean() < 1.0 and np.percentile(diff, 99) < 6.0, (diff.mean(), np.percentile(diff, 99))
