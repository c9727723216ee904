"""Classical denoisers raise PSNR, estimate sigma, keep shapes, and fail clearly.

Measured on the smooth 64x64 test images below (seed 0, noise not clipped), PSNR in dB
before -> after:

| image  | sigma | noisy | BM3D  | BM3D blind | NLM   | TV    |
|--------|-------|-------|-------|------------|-------|-------|
| colour | 25    | 20.16 | 34.50 | 34.45      | 31.45 | 30.91 |
| colour | 50    | 14.41 | 30.02 | 29.99      | 29.00 | 27.26 |
| gray   | 25    | 20.26 | 34.14 | 33.90      | 31.18 | 31.04 |
| gray   | 50    | 14.52 | 29.19 | 28.99      | 28.09 | 27.47 |

estimate_sigma on these images (seed 1) gives 9.8 / 24.4 / 48.9 (colour) and 9.2 / 23.0 /
45.9 (gray) for sigma 10 / 25 / 50: within 9%.

The tests ask for a gain of 10 dB (BM3D, measured 13.9 to 15.6), blind BM3D within 1 dB of
BM3D with the true sigma (measured 0.03 to 0.24), a gain of 6 dB (NLM and TV, blind too;
measured 10.6 to 14.6) and sigma within 15%.
"""
import functools

import numpy as np
import pytest
import torch

from lvrlib.baselines import CLASSICAL, bm3d_denoise, estimate_sigma, nlm_denoise, tv_denoise
from lvrlib.metrics import psnr

def smooth_image(channels: int, size: int = 64) -> torch.Tensor:
    """A smooth synthetic image (1, C, size, size) in [-0.75, 0.75]: products of sinusoids."""
    u = torch.linspace(0, 1, size).view(1, size, 1)
    v = torch.linspace(0, 1, size).view(1, 1, size)
    ph = torch.arange(channels, dtype=torch.float32).view(channels, 1, 1)
    x = (0.5 * torch.sin(2 * torch.pi * (u + 0.3 * ph)) * torch.cos(2 * torch.pi * (1.5 * v - 0.2 * ph))
         + 0.3 * (u - v))
    return x.unsqueeze(0).float()


def add_noise(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """x + sigma * n with sigma in 0..255 pixel units: 2 sigma / 255 in [-1, 1] units."""
    g = torch.Generator().manual_seed(seed)
    return x + (2.0 * sigma / 255.0) * torch.randn(x.shape, generator=g)


CASES = [(3, 25), (3, 50), (1, 25), (1, 50)]
IDS = [f"{'colour' if c == 3 else 'gray'}-sigma{s}" for c, s in CASES]


# --------------------------------------------------------------------------- BM3D
@functools.lru_cache(maxsize=None)
def bm3d_case(channels: int, sigma: int, given):
    """(clean, noisy, BM3D output) at ``sigma``; ``given`` is the sigma passed to BM3D.

    Cached: BM3D costs 1-3 s per call on a CPU, and several tests look at one result.
    """
    x = smooth_image(channels)
    y = add_noise(x, sigma)
    return x, y, bm3d_denoise(y, given)


@pytest.mark.parametrize("channels,sigma", CASES, ids=IDS)
def test_bm3d_raises_psnr(channels, sigma):
    x, y, out = bm3d_case(channels, sigma, sigma)
    before, after = psnr(y, x)[0], psnr(out, x)[0]
    assert after > before + 10.0, (before, after)


@pytest.mark.parametrize("channels", [3, 1], ids=["colour", "gray"])
def test_blind_bm3d_raises_psnr_close_to_true_sigma(channels):
    x, y, blind_out = bm3d_case(channels, 50, "auto")
    before, blind = psnr(y, x)[0], psnr(blind_out, x)[0]
    assert blind > before + 10.0, (before, blind)
    with_sigma = psnr(bm3d_case(channels, 50, 50)[2], x)[0]
    assert abs(blind - with_sigma) < 1.0, (blind, with_sigma)


# --------------------------------------------------------------------------- sigma
@pytest.mark.parametrize("channels", [3, 1], ids=["colour", "gray"])
@pytest.mark.parametrize("sigma", [10, 25, 50])
def test_estimate_sigma_recovers_a_known_sigma(channels, sigma):
    y = add_noise(smooth_image(channels), sigma, seed=1)
    est = estimate_sigma(y)
    assert isinstance(est, np.ndarray) and est.shape == (1,)
    assert est[0] == pytest.approx(sigma, rel=0.15)


def test_estimate_sigma_is_per_image():
    x = smooth_image(3).repeat(2, 1, 1, 1)
    y = torch.cat([add_noise(x[:1], 10, seed=2), add_noise(x[1:], 40, seed=3)])
    est = estimate_sigma(y)
    assert est.shape == (2,)
    assert est == pytest.approx([10, 40], rel=0.15)


# --------------------------------------------------------------------------- NLM, TV
@pytest.mark.parametrize("name", ["nlm", "tv"])
@pytest.mark.parametrize("channels,sigma", CASES, ids=IDS)
def test_cheap_denoisers_raise_psnr(name, channels, sigma):
    x = smooth_image(channels)
    y = add_noise(x, sigma)
    before = psnr(y, x)[0]
    after = psnr(CLASSICAL[name](y, sigma), x)[0]
    assert after > before + 6.0, (before, after)
    blind = psnr(CLASSICAL[name](y, None), x)[0]
    assert blind > before + 6.0, (before, blind)


# --------------------------------------------------------------------------- contract
def test_registry_names_the_denoisers():
    assert CLASSICAL == {"bm3d": bm3d_denoise, "nlm": nlm_denoise, "tv": tv_denoise}


def _check_output(out: torch.Tensor, y: torch.Tensor) -> None:
    assert out.shape == y.shape
    assert out.dtype == torch.float32
    assert out.device == y.device
    assert out.min() >= -1 and out.max() <= 1
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["nlm", "tv"])
@pytest.mark.parametrize("channels", [3, 1], ids=["colour", "gray"])
def test_output_shape_range_dtype(name, channels):
    x = smooth_image(channels, size=24).repeat(2, 1, 1, 1)
    y = add_noise(x, 60, seed=4)  # noise at 60 pushes many pixels outside [-1, 1]
    assert y.abs().max() > 1
    _check_output(CLASSICAL[name](y, [60, 30]), y)  # one sigma per image is accepted


@pytest.mark.parametrize("channels", [3, 1], ids=["colour", "gray"])
def test_bm3d_output_shape_range_dtype(channels):
    _, y, out = bm3d_case(channels, 50, 50)
    assert y.abs().max() > 1
    _check_output(out, y)


def test_each_image_is_denoised_independently_of_its_batch():
    x = torch.cat([smooth_image(3), -smooth_image(3)])
    y = add_noise(x, 30, seed=5)
    both = tv_denoise(y, 30)
    # Exact: the images are denoised one at a time by the same float64 code on the same
    # numbers; the batch only decides which slice goes in.
    assert torch.equal(both[1:], tv_denoise(y[1:], 30))


def test_auto_and_none_are_the_same_blind_variant():
    y = add_noise(smooth_image(1, size=32), 30, seed=6)
    assert torch.equal(nlm_denoise(y, None), nlm_denoise(y, "auto"))   # exact: one code path


def test_sigma_zero_leaves_nlm_and_tv_alone():
    x = smooth_image(3, size=16)
    for f in (nlm_denoise, tv_denoise):
        # Through float64 and back to float32 on [-1, 1]: half an ulp of 1, 6e-8, at most.
        assert torch.allclose(f(x, 0), x, atol=1e-6)


@pytest.mark.parametrize("name", ["bm3d", "nlm", "tv"])
def test_bad_inputs_raise_clear_errors(name):
    f = CLASSICAL[name]
    y = torch.zeros(2, 3, 16, 16)
    with pytest.raises(ValueError, match="expected non-negative"):
        f(y, -5)
    with pytest.raises(ValueError, match="expected non-negative"):
        f(y, float("nan"))
    with pytest.raises(ValueError, match="3 values for 2 images"):
        f(y, [10, 20, 30])
    with pytest.raises(ValueError, match="'blind'"):
        f(y, "blind")
    with pytest.raises(ValueError, match=r"C = 3 \(colour\) or 1"):
        f(torch.zeros(1, 2, 16, 16), 25)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        f(torch.zeros(3, 16, 16), 25)
    with pytest.raises(ValueError, match="NaN or infinite"):
        f(torch.full((1, 3, 16, 16), float("nan")), 25)
    with pytest.raises(TypeError, match="torch.Tensor"):
        f(np.zeros((1, 3, 16, 16)), 25)


def test_progress_bar_only_when_asked(capsys):
    y = add_noise(smooth_image(1, size=16), 20, seed=7)
    tv_denoise(y, 20)
    assert capsys.readouterr().err == ""
    tv_denoise(y, 20, progress=True)
    assert "TV" in capsys.readouterr().err
