"""The on-disk cache of traced CPU nets: used when present, rebuilt when damaged, optional when unwritable."""

from __future__ import annotations

import numpy as np
import pytest

import vidcolor.model.colorizer as colorizer_module
from vidcolor.model.colorizer import Colorizer


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("VIDCOLOR_CACHE_DIR", str(folder))
    return folder


def _ab(c: Colorizer) -> np.ndarray:
    gray = np.random.default_rng(5).integers(0, 256, size=(2, 64, 96), dtype=np.uint8)
    return c.predict_ab(gray, c.global_features(gray[0]))


def test_second_load_uses_the_cache(tiny_model, cache, monkeypatch):
    first = Colorizer(tiny_model, device="cpu", precision="fp32")
    files = list(cache.glob("*.torchscript"))
    assert len(files) == 1 and first.model_id in files[0].name

    def no_tracing(*_args):
        raise AssertionError("rebuilt although the cache held the net")

    monkeypatch.setattr(colorizer_module, "trace_for_cpu", no_tracing)
    second = Colorizer(tiny_model, device="cpu", precision="fp32")
    np.testing.assert_array_equal(_ab(first), _ab(second))


def test_precisions_are_cached_apart(tiny_model, cache):
    Colorizer(tiny_model, device="cpu", precision="fp32")
    Colorizer(tiny_model, device="cpu", precision="bf16")
    assert len(list(cache.glob("*.torchscript"))) == 2


def test_a_damaged_cache_file_is_rebuilt(tiny_model, cache):
    reference = _ab(Colorizer(tiny_model, device="cpu", precision="fp32"))
    (path,) = cache.glob("*.torchscript")
    path.write_bytes(b"not a torchscript file")
    np.testing.assert_array_equal(_ab(Colorizer(tiny_model, device="cpu", precision="fp32")), reference)
    assert path.stat().st_size > 1000  # replaced by a good copy


def test_an_unwritable_cache_is_no_error(tiny_model, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("VIDCOLOR_CACHE_DIR", str(blocker / "cache"))
    assert _ab(Colorizer(tiny_model, device="cpu", precision="fp32")).shape == (2, 64, 96, 2)
