"""The observation model: the noise (sigma in 0..255 pixel units) added to [-1, 1] images."""
from __future__ import annotations

import pytest
import torch

import lvrlib.physics as P


# --------------------------------------------------------------------------- noise
def test_sigma_to_unit():
    assert P.sigma_to_unit(255) == 2.0
    assert P.sigma_to_unit(50) == pytest.approx(100 / 255)
    # Tensors and arrays convert elementwise; the inverse gives pixel units back exactly
    # where the arithmetic is exact (x * 2 / 255 * 127.5 for these values).
    t = torch.tensor([0.0, 25.0, 255.0], dtype=torch.float64)
    assert torch.equal(P.sigma_to_unit(t), t * 2 / 255)
    assert P.unit_to_sigma(2.0) == 255.0


@pytest.mark.parametrize("sigma", [5, 25, 50, 100])
def test_add_noise_has_sigma_in_pixel_units(sigma):
    x = torch.rand(8, 3, 64, 64) * 2 - 1
    x0 = x.clone()
    y = P.add_noise(x, sigma, torch.Generator().manual_seed(sigma))
    noise = y - x
    assert torch.equal(x, x0)  # the input is not modified
    assert noise.std().item() == pytest.approx(sigma * 2 / 255, rel=0.02)
    assert abs(noise.mean().item()) < 0.02 * sigma * 2 / 255
    if sigma >= 25:  # not clipped unless asked
        assert y.max() > 1 and y.min() < -1


def test_add_noise_seeds_and_bad_sigma():
    x = torch.zeros(2, 3, 8, 8)
    a = P.add_noise(x, 30, torch.Generator().manual_seed(3))
    b = P.add_noise(x, 30, torch.Generator().manual_seed(3))
    c = P.add_noise(x, 30, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(P.add_noise(x, 0, torch.Generator().manual_seed(0)), x)
    clipped = P.add_noise(torch.ones(4, 3, 8, 8), 80, torch.Generator().manual_seed(0), clip=True)
    assert clipped.max() == 1.0 and clipped.min() >= -1.0
    for bad in (-1, float("nan")):
        with pytest.raises(ValueError, match=r"sigma=.*0\.\.255 pixel units"):
            P.add_noise(x, bad)
