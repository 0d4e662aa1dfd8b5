import numpy as np
import torch
from skimage import color as skcolor

from vidcolor.model.color import gray_to_lightness, lab_to_rgb, rgb_to_lab


def test_rgb_to_lab_matches_scikit_image():
    rgb = np.random.default_rng(0).random((8, 9, 3)).astype(np.float32)
    ours = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    assert np.abs(ours - skcolor.rgb2lab(rgb)).max() < 0.05


def test_lab_round_trip():
    rgb = torch.rand(1, 3, 5, 7)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-3)


def test_gray_lightness_is_lab_l_of_gray():
    g = torch.linspace(0, 1, 11)
    lab = rgb_to_lab(g.view(1, 1, 11, 1).expand(1, 3, 11, 1))
    assert torch.allclose(gray_to_lightness(g), lab[0, 0, :, 0], atol=1e-3)
    assert torch.allclose(lab[0, 1:], torch.zeros_like(lab[0, 1:]), atol=1e-3)
