import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidcolor.model.colorizer import upsample_ab


@pytest.mark.parametrize("small,size", [((48, 84), (192, 336)), ((5, 7), (17, 30)), ((3, 3), (3, 3))])
def test_cpu_upsampling_of_ab_matches_torch_bilinear(small, size):
    ab = torch.randn(3, 2, *small, generator=torch.Generator().manual_seed(0)) * 40
    expected = F.interpolate(ab, size=size, mode="bilinear", align_corners=False).permute(0, 2, 3, 1).numpy()
    got = upsample_ab(ab, size)
    assert got.shape == (3, *size, 2) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-3)
