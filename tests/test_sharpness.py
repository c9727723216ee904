"""Sharpness vectors and LVR-SA (lvrlib.sharpness).

The generator is a tiny randomly initialised DCGAN (ngf=8); the facts checked here are
about bookkeeping (which latents are averaged, how vectors are interpolated and stored,
how the sum is clipped), so they hold for any generator.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lvrlib.dcgan import DCGANConfig, Generator, sample_latent
from lvrlib.physics import Grayscale, Resize, add_noise
from lvrlib.recovery import recover
from lvrlib.sharpness import (
    SharpnessBank,
    estimate_sigma_lvr,
    lvr_sa,
    sharpness_bank,
    sharpness_vector,
)

NZ = 100
RECOVER = dict(strategy="stochastic", optimizer="sgd", steps=3, lr=1.0)


@pytest.fixture(scope="module")
def G() -> Generator:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return Generator(DCGANConfig(ngf=8, ndf=8)).eval()


# --------------------------------------------------------------------------- sharpness_vector
def test_sharpness_vector_is_mean_true_minus_mean_recovered(G):
    sigma, n, seed = 50, 3, 7
    s, info = sharpness_vector(G, sigma, n, seed=seed, **RECOVER)

    # The same draws, made independently: z from seed, noise from seed + 1, LVR seed + 2.
    z = sample_latent(n, NZ, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        y = add_noise(G(z), sigma, torch.Generator().manual_seed(seed + 1))
    res = recover(G, y, seed=seed + 2, device="cpu", **RECOVER)

    assert s.shape == (NZ,)
    # Exact: the same draws through the same calls (G on a batch of 3, then recover on it).
    torch.testing.assert_close(s, z.mean(0) - res.z.mean(0), rtol=0, atol=0)
    assert s.abs().max() > 0
    assert info["sigma"] == 50.0 and info["n"] == n and info["seed"] == seed
    assert info["recover_seed"] == seed + 2
    assert info["steps"] == 3 and info["strategy"] == "stochastic"
    assert info["final_loss"] == pytest.approx(float(res.loss.mean()))


def test_sharpness_vector_depends_on_seed_and_needs_two_images(G):
    a, _ = sharpness_vector(G, 25, 2, seed=0, **RECOVER)
    b, _ = sharpness_vector(G, 25, 2, seed=0, **RECOVER)
    c, _ = sharpness_vector(G, 25, 2, seed=1, **RECOVER)
    assert torch.equal(a, b)                 # exact: the same call twice
    assert not torch.equal(a, c)
    with pytest.raises(ValueError, match="n=1"):
        sharpness_vector(G, 25, 1, **RECOVER)


def test_sharpness_vector_restores_training_mode():
    G = Generator(DCGANConfig(ngf=8, ndf=8)).train()
    sharpness_vector(G, 25, 2, steps=1)
    assert G.training


def test_sharpness_bank_uses_the_same_latents_at_every_sigma(G):
    bank = sharpness_bank(G, [50, 25], 2, seed=3, **RECOVER)
    assert bank.sigmas == [25.0, 50.0]
    for row, sigma in zip(bank.vectors, bank.sigmas):
        v, _ = sharpness_vector(G, sigma, 2, seed=3, **RECOVER)
        assert torch.equal(row, v)           # exact: the bank makes this very call


# --------------------------------------------------------------------------- SharpnessBank
def _bank() -> SharpnessBank:
    # Given out of order on purpose: the bank sorts rows together with their sigmas.
    vectors = torch.stack([torch.full((4,), 3.0), torch.full((4,), 1.0),
                           torch.tensor([2.0, -2.0, 0.5, 0.0])])
    return SharpnessBank([75, 25, 50], vectors)


def test_bank_sorts_sigmas_with_their_rows():
    b = _bank()
    assert b.sigmas == [25.0, 50.0, 75.0]
    assert torch.equal(b.vectors[0], torch.full((4,), 1.0))
    assert torch.equal(b.vectors[2], torch.full((4,), 3.0))


def test_bank_at_stored_sigmas_is_exact():
    b = _bank()
    for k, sigma in enumerate(b.sigmas):
        assert torch.equal(b.at(sigma), b.vectors[k])


def test_bank_at_interpolates_linearly_between_neighbours():
    b = _bank()
    v25, v50, v75 = b.vectors
    torch.testing.assert_close(b.at(30), 0.8 * v25 + 0.2 * v50)
    torch.testing.assert_close(b.at(37.5), 0.5 * v25 + 0.5 * v50)
    torch.testing.assert_close(b.at(70), 0.2 * v50 + 0.8 * v75)


def test_bank_at_beyond_the_range_is_the_last_vector():
    b = _bank()
    for sigma in (75.0001, 100, 1e4):
        assert torch.equal(b.at(sigma), b.vectors[-1])
    # A copy: changing the answer leaves the bank alone.
    b.at(100).zero_()
    assert torch.equal(b.vectors[-1], torch.full((4,), 3.0))


def test_bank_at_below_the_range_scales_the_first_vector_towards_zero():
    b = _bank()
    torch.testing.assert_close(b.at(10), b.vectors[0] * 0.4)
    torch.testing.assert_close(b.at(12.5), b.vectors[0] * 0.5)
    assert torch.equal(b.at(0), torch.zeros(4))
    assert torch.equal(b.at(-5), torch.zeros(4))


def test_bank_with_a_stored_zero_interpolates_from_it():
    b = SharpnessBank([0, 50], torch.stack([torch.full((2,), 1.0), torch.full((2,), 3.0)]))
    torch.testing.assert_close(b.at(25), torch.full((2,), 2.0))
    assert torch.equal(b.at(0), torch.full((2,), 1.0))


def test_bank_save_load_round_trip(tmp_path):
    b = _bank()
    b.info = {"runs": [{"sigma": 25.0}], "note": "test"}
    path = b.save(tmp_path / "sub" / "bank.safetensors")
    assert path.is_file() and path.with_suffix(".json").is_file()
    assert not list(path.parent.glob("*.tmp"))
    c = SharpnessBank.load(path)
    assert c.sigmas == [25.0, 50.0, 75.0]
    assert torch.equal(c.vectors, b.vectors)
    assert c.info == b.info
    for sigma in (10, 30, 60, 90):
        assert torch.equal(c.at(sigma), b.at(sigma))


def test_bank_load_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.safetensors"):
        SharpnessBank.load(tmp_path / "nothing.safetensors")


# --------------------------------------------------------------------------- lvr_sa
def test_lvr_sa_is_generator_of_the_sum(G):
    z = sample_latent(3, NZ, torch.Generator().manual_seed(1)) * 0.5
    s = torch.full((NZ,), 0.25)
    with torch.no_grad():
        expected = G(z + s)
    out = lvr_sa(G, z, s)
    assert out.shape == (3, 3, 64, 64)
    # Exact: the same module on the same latents (the clamp changes none of them).
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_lvr_sa_clamps_the_sum_to_the_box(G):
    z = sample_latent(3, NZ, torch.Generator().manual_seed(2))
    signs = torch.where(torch.arange(NZ) % 2 == 0, 1.0, -1.0)
    s = 5.0 * signs  # pushes every component far outside [-1, 1]
    with torch.no_grad():
        expected = G(signs.expand(3, -1).contiguous())
        unclamped = G(z + s)
    out = lvr_sa(G, z, s)
    # Exact: the clamp gives exactly +-1, the same latents through the same module.
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    assert not torch.allclose(out, unclamped)


def test_lvr_sa_applies_the_operator_and_keeps_the_mode():
    G = Generator(DCGANConfig(ngf=8, ndf=8)).train()
    z = sample_latent(2, NZ, torch.Generator().manual_seed(3))
    s = torch.zeros(NZ)
    op = Grayscale().then(Resize(25))
    out = lvr_sa(G, z, s, op)
    assert out.shape == (2, 1, 25, 25)
    assert G.training
    with torch.no_grad():
        torch.testing.assert_close(out, op(G.eval()(z)))


# --------------------------------------------------------------------------- blind sigma
def test_estimate_sigma_lvr_inverts_the_residual_formula():
    sigma = np.array([0.0, 10.0, 25.0, 50.0, 100.0])
    clean = 0.01
    loss = torch.tensor((sigma * 2 / 255) ** 2 + clean)
    np.testing.assert_allclose(estimate_sigma_lvr(loss, clean), sigma, atol=1e-9)
    # Without the clean residual, the model error is read as noise: larger estimates.
    assert np.all(estimate_sigma_lvr(loss) > sigma)


def test_estimate_sigma_lvr_is_zero_below_the_clean_residual():
    est = estimate_sigma_lvr(torch.tensor([0.001, 0.005]), clean=0.01)
    np.testing.assert_array_equal(est, [0.0, 0.0])
