"""Fixtures for the robustness matrix: one tiny checkpoint per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def fast_model(tmp_path_factory) -> Path:
    """A tiny random-weight checkpoint without the global branch (loads in ~0.1 s; plumbing only)."""
    import torch

    from vidcolor.model.checkpoint import save_checkpoint
    from vidcolor.model.chroma_bins import ChromaBins
    from vidcolor.model.unet import ColorNet, NetConfig

    torch.manual_seed(0)
    bins = ChromaBins.uniform()
    net = ColorNet(NetConfig(base_channels=8, bin_count=bins.count, use_global=False)).eval()
    path = tmp_path_factory.mktemp("robust-model") / "tiny-noglobal.pt"
    save_checkpoint(path, net, bins, name="tiny-robust")
    return path
