"""Metrics agree with scikit-image and confidence intervals have their stated coverage."""
import numpy as np
import pytest
import torch
from scipy import stats
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from lvrlib.metrics import MeanCI, mean_ci, mse_255, paired_diff, psnr, ssim, to_255


def _clipped_255(x: torch.Tensor) -> np.ndarray:
    # Written out independently of lvrlib.to_255: [-1, 1] -> [0, 255], then clipped.
    return np.clip((x.double().numpy() + 1.0) / 2.0 * 255.0, 0.0, 255.0)


def _random_pair(seed: int, shape=(5, 3, 16, 16)):
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(shape, generator=g) * 2 - 1
    # Noise large enough that some pixels leave [-1, 1] and must be clipped.
    x = ref + 0.3 * torch.randn(shape, generator=g)
    return x, ref


# --------------------------------------------------------------------------- PSNR
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("channels", [3, 1])
def test_psnr_equals_skimage_on_random_inputs(seed, channels):
    x, ref = _random_pair(seed, (5, channels, 16, 16))
    assert (x.abs() > 1).any(), "the test must exercise clipping"
    got = psnr(x, ref)
    assert got.shape == (5,)
    want = [
        peak_signal_noise_ratio(_clipped_255(ref[i]), _clipped_255(x[i]), data_range=255)
        for i in range(5)
    ]
    # Two float64 paths ((x + 1) * 127.5 against (x + 1) / 2 * 255, two means of 768
    # squares): the MSEs agree to ~10 * 2^-53 ~ 1e-15 relative, the PSNRs to 10 / ln 10
    # times that, ~5e-15 dB; 1e-9 dB leaves a wide margin.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_psnr_of_known_mse():
    ref = torch.zeros(1, 3, 8, 8)  # 127.5 on 0..255
    x = ref + 10.0 / 127.5  # 10 gray levels brighter everywhere
    assert psnr(x, ref)[0] == pytest.approx(20 * np.log10(255.0 / 10.0), abs=1e-4)


def test_out_of_range_values_are_clipped_to_0_255():
    ref = torch.full((2, 1, 4, 4), 1.0)
    ref[1] = -1.0
    x = ref * 3.0  # 3 and -3: beyond the range, clipped back onto ref
    assert np.all(np.isinf(psnr(x, ref)))
    # 2.0 -> 382.5 clipped to 255, against 0 -> 127.5.
    assert mse_255(torch.full((1, 1, 2, 2), 2.0), torch.zeros(1, 1, 2, 2))[0] == pytest.approx(127.5**2)


def test_to_255_maps_the_range_ends_and_clips():
    out = to_255(torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0]))
    np.testing.assert_allclose(out, [0.0, 0.0, 127.5, 255.0, 255.0])
    assert out.dtype == np.float64


def test_perfect_match_gives_inf():
    x, _ = _random_pair(3)
    assert np.all(np.isposinf(psnr(x, x.clone())))


# --------------------------------------------------------------------------- SSIM
@pytest.mark.parametrize("channels", [3, 1])
def test_ssim_equals_skimage_for_one_image(channels):
    x, ref = _random_pair(4, (1, channels, 32, 32))
    a, b = _clipped_255(x[0]), _clipped_255(ref[0])
    if channels == 3:
        want = structural_similarity(a, b, data_range=255, channel_axis=0)
    else:
        want = structural_similarity(a[0], b[0], data_range=255)
    # scikit-image's SSIM on inputs that agree to ~1 float64 ulp of 255 (~3e-14): SSIM,
    # in [-1, 1] and smooth in its inputs, moves by ~1e-15 at that distance; 1e-12.
    assert ssim(x, ref)[0] == pytest.approx(want, abs=1e-12)
    assert ssim(ref, ref)[0] == pytest.approx(1.0)


def test_ssim_on_images_smaller_than_the_window():
    x, ref = _random_pair(5, (2, 1, 5, 5))
    want = structural_similarity(_clipped_255(x[0])[0], _clipped_255(ref[0])[0], data_range=255, win_size=5)
    out = ssim(x, ref)
    assert out.shape == (2,)
    assert out[0] == pytest.approx(want, abs=1e-12)


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("fn", [psnr, ssim, mse_255])
def test_shape_mismatch_raises(fn):
    with pytest.raises(ValueError, match="shapes differ"):
        fn(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 9))
    with pytest.raises(ValueError, match="shapes differ"):
        fn(torch.zeros(1, 3, 8, 8), torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        fn(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8))


# --------------------------------------------------------------------------- intervals
def test_mean_ci_matches_a_hand_computation():
    v = np.array([21.3, 24.8, 22.1, 19.7, 25.0, 23.4, 20.9])
    n, m, s = v.size, v.mean(), v.std(ddof=1)
    half = stats.t.ppf(0.975, n - 1) * s / np.sqrt(n)
    ci = mean_ci(v)
    assert isinstance(ci, MeanCI)
    assert ci.n == n
    assert ci.mean == pytest.approx(m)
    assert (ci.low, ci.high) == pytest.approx((m - half, m + half))
    assert ci.half_width == pytest.approx(half)
    assert str(ci) == f"{m:.2f} [{m - half:.2f}, {m + half:.2f}]"
    h90 = stats.t.ppf(0.95, n - 1) * s / np.sqrt(n)
    assert mean_ci(v, level=0.90).half_width == pytest.approx(h90)


def test_mean_ci_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(2018)
    true_mean, trials, n = 3.0, 2000, 8
    draws = rng.normal(true_mean, 2.0, size=(trials, n))
    hits = sum(ci.low <= true_mean <= ci.high for ci in map(mean_ci, draws))
    assert 0.93 <= hits / trials <= 0.97


def test_mean_ci_edge_cases():
    one = mean_ci([4.0])
    assert one.mean == 4.0 and one.n == 1 and np.isnan(one.low) and np.isnan(one.high)
    with pytest.raises(ValueError, match="no values"):
        mean_ci([])
    with pytest.raises(ValueError, match="non-finite"):
        mean_ci([1.0, np.inf])


def test_paired_diff_is_mean_ci_of_differences():
    rng = np.random.default_rng(7)
    a = rng.normal(25, 2, 30)
    b = a - 0.5 + rng.normal(0, 0.3, 30)
    d, ref = paired_diff(a, b), mean_ci(a - b)
    assert (d.mean, d.low, d.high, d.n) == pytest.approx((ref.mean, ref.low, ref.high, ref.n))
    # Pairing removes the shared per-image variation: much narrower than the unpaired spread.
    assert d.half_width < 0.5 * mean_ci(a).half_width
    assert d.low > 0


def test_paired_diff_refuses_different_lengths():
    with pytest.raises(ValueError, match="same images"):
        paired_diff([1.0, 2.0, 3.0], [1.0, 2.0])
