"""Shared pytest fixtures: tiny real media files made on the fly (see tests/media_factory.py)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# Traced nets are cached on disk (vidcolor/model/traced_cache.py): keep the tests' copies out of ~/.cache.
os.environ.setdefault("VIDCOLOR_CACHE_DIR", tempfile.mkdtemp(prefix="vidcolor-test-cache-"))

import media_factory  # noqa: E402


@pytest.fixture
def clip_factory(tmp_path):
    """make_clip bound to tmp_path: clip_factory("a.mp4", audio="aac", ...) -> Path."""

    def make(name: str = "clip.mp4", **kwargs) -> Path:
        return media_factory.make_clip(tmp_path / name, **kwargs)

    return make


@pytest.fixture
def gray_clip(clip_factory) -> Path:
    """A 24-frame 96x64 grayscale mp4 with AAC stereo audio."""
    return clip_factory("gray.mp4", audio="aac")


@pytest.fixture(scope="session")
def sample_clip() -> Path:
    """The committed sample clip (sample_media/bbb_gray.mp4)."""
    p = Path(__file__).resolve().parents[1] / "sample_media" / "bbb_gray.mp4"
    if not p.exists():
        pytest.skip("sample_media/bbb_gray.mp4 is missing (run scripts/make_sample_clip.py)")
    return p


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random-weight checkpoint (plumbing tests only; colours come from the shipped model)."""
    import torch

    from vidcolor.model.checkpoint import save_checkpoint
    from vidcolor.model.chroma_bins import ChromaBins
    from vidcolor.model.unet import ColorNet, NetConfig

    torch.manual_seed(0)
    bins = ChromaBins.uniform()
    net = ColorNet(NetConfig(base_channels=8, bin_count=bins.count)).eval()
    path = tmp_path_factory.mktemp("models") / "tiny.pt"
    save_checkpoint(path, net, bins, name="tiny-test")
    return path


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    """The shipped default checkpoint."""
    return Path(__file__).resolve().parents[1] / "models" / "vidcolor-base.pt"
