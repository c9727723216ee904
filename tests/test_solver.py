"""The solver under ``recover``: its arithmetic against torch's, its starts, its defaults.

Checked here: the in-place per-image Adam equals ``torch.optim.Adam`` step for step;
stochastic clipping inside the loop equals ``stochastic_clip`` with the same generator;
the latent size comes from the generator (config or first layer), never a silent 100;
the encoder start (lvrlib.encoder): training, saving, refusing another generator, and
``recover``'s choice of start and defaults; the shipped generator uses the shipped encoder.
"""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

from lvrlib.checkpoints import load_generator
from lvrlib.dcgan import latent_shape
from lvrlib.encoder import (Encoder, EncoderConfig, EncoderError, encode, generator_digest,
                            load_encoder, save_encoder, shipped_encoder_for, train_encoder)
from lvrlib.recovery import recover
from lvrlib.settings import DEFAULT_STEPS, ENCODER_STEPS
from lvrlib.updates import stochastic_clip
from test_recovery import tiny_generator

CPU = "cpu"


@pytest.fixture(scope="module")
def G():
    return tiny_generator(0)


@pytest.fixture(scope="module")
def problem(G):
    g = torch.Generator().manual_seed(11)
    z_true = torch.rand(3, 100, generator=g) * 1.8 - 0.9
    with torch.no_grad():
        y = G(z_true) + 0.1 * torch.randn(3, 3, 64, 64, generator=g)
    z0 = torch.rand(3, 100, generator=g) * 2 - 1
    return z_true, y, z0


def _loss(G, z, y):
    return (G(z) - y).pow(2).flatten(1).mean(1)


def test_in_place_adam_is_torch_adam(G, problem):
    _, y, z0 = problem
    steps, lr = 12, 0.05
    r = recover(G, y, z_init=z0, strategy="none", optimizer="adam", steps=steps, lr=lr,
                schedule="constant", device=CPU)
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr, betas=(0.9, 0.999), eps=1e-8)
    for _ in range(steps):
        opt.zero_grad()
        _loss(G, z, y).sum().backward()
        opt.step()
    # Same arithmetic up to float rounding, on other gradients: recover's come from the
    # folded, channels-last G, these from the plain module (~3e-6 relative apart, conftest),
    # and torch.optim.Adam orders a few operations differently. Each of the 12 steps of
    # lr 0.05 is then off by ~lr * 3e-6 = 1.5e-7 plus half an ulp of |z| <= 1 (6e-8):
    # <= 12 * 2.1e-7 = 2.5e-6 in all (as a random walk ~7e-7). 1e-5 is 4x the sum, and a
    # wrong bias correction or beta is off by 4e-2 or more (beta2 0.99 for 0.999: 4.2e-2).
    assert torch.allclose(r.z, z.detach(), atol=1e-5, rtol=0), (r.z - z).abs().max()
    assert not torch.allclose(r.z, z0, atol=1e-3)


def test_in_loop_stochastic_clipping_is_stochastic_clip(G, problem):
    _, y, z0 = problem
    steps, lr, seed = 6, 5.0, 3      # a large step, so that components do leave the box
    r = recover(G, y, z_init=z0, strategy="stochastic", optimizer="sgd", steps=steps, lr=lr,
                schedule="constant", seed=seed, device=CPU)
    z = z0.clone()
    gen = torch.Generator().manual_seed(seed + 1)
    left, edge = 0, float("inf")
    for _ in range(steps):
        z.requires_grad_(True)
        (grad,) = torch.autograd.grad(_loss(G, z, y).sum(), z)
        z = z.detach() - lr * grad
        left += int((z.abs() > 1).sum())
        edge = min(edge, float((z.abs() - 1).abs().min()))
        z = stochastic_clip(z, gen)
    assert left > 0
    # The redraws are the same numbers from the same generator; the gradients differ only
    # by float rounding (recover runs the folded generator, channels-last): ~3e-6 of
    # |g| <= 1e-2, 1.5e-7 in a step of lr 5, plus half an ulp of |z| (6e-8): <= 6 * 2.1e-7
    # ~ 1.3e-6 over the 6 steps (not amplified: lr times the loss's largest curvature,
    # 2 * 18^2 / 12288 = 0.05, is 0.27 < 2). That cannot flip a redraw decision: no
    # component comes within 1e-5 of the box's faces (5e-5 here). 1e-5 is 8x the bound,
    # and a redraw decided otherwise moves a component by O(1).
    assert edge > 1e-5, edge
    assert torch.allclose(r.z, z, atol=1e-5, rtol=0), (r.z - z).abs().max()


class Plain(nn.Module):
    """A generator without a config: a linear layer from nz latents to 3x64x64 images."""

    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Linear(nz, 3 * 64 * 64)

    def forward(self, z):
        return torch.tanh(self.fc(z)).view(-1, 3, 64, 64)


def test_latent_size_comes_from_the_generator(G):
    assert latent_shape(G) == (100, 3)
    plain = Plain(37)
    assert latent_shape(plain) == (37, 3)
    y = torch.zeros(2, 3, 64, 64)
    r = recover(plain, y, steps=3, device=CPU)
    assert r.z.shape == (2, 37) and r.settings["init"] == "random"
    assert r.settings["steps"] == 3
    with pytest.raises(ValueError, match="latent size"):
        latent_shape(nn.Sequential(nn.Tanh()))
    # A config-less generator with batch norm, in training mode: one probe image must not
    # go through batch norm in training mode, and the mode is left as it was.
    bn = nn.Sequential(nn.Linear(12, 3 * 64 * 64), nn.Unflatten(1, (3, 64, 64)),
                       nn.BatchNorm2d(3), nn.Tanh()).train()
    assert latent_shape(bn) == (12, 3) and bn.training


def test_plain_module_recovers_noiseless_latents():
    torch.manual_seed(0)
    plain = Plain(20).eval()
    for p in plain.parameters():
        p.requires_grad_(False)
    z_true = torch.rand(4, 20, generator=torch.Generator().manual_seed(1)) * 1.6 - 0.8
    with torch.no_grad():
        y = plain(z_true)
    r = recover(plain, y, steps=300, lr=0.05, device=CPU)
    # Measured: errors of 1e-9 or less; a random z would be off by about 0.6.
    assert (r.z - z_true).pow(2).mean(1).max() < 1e-5
    assert r.z.abs().max() <= 1.0


@pytest.fixture(scope="module")
def tiny_encoder(G):
    log = []
    enc = train_encoder(G, iterations=150, batch_size=32, pool=1024, nef=8, lr=2e-3,
                        progress=False, log=log)
    return enc, log


def test_trained_encoder_predicts_latents(G, tiny_encoder):
    enc, log = tiny_encoder
    assert not enc.training and log[0][0] == 0
    g = torch.Generator().manual_seed(123)           # latents the training never saw
    z = torch.rand(64, 100, generator=g) * 2 - 1
    with torch.no_grad():
        y = G(z) + (25 / 127.5) * torch.randn(64, 3, 64, 64, generator=g)
    err = (encode(enc, y) - z).pow(2).mean()
    # The prior's variance is 1/3 per component (what a constant guess of 0 would score).
    # Measured: about 0.12 after these 150 iterations.
    assert err < 0.2, err
    assert encode(enc, y).abs().max() <= 1.0


def test_encoder_start_beats_a_random_start(G, tiny_encoder, problem):
    enc, _ = tiny_encoder
    _, y, _ = problem
    kw = dict(steps=20, lr=0.02, strategy="project", device=CPU)
    from_enc = recover(G, y, encoder=enc, **kw)
    from_rand = recover(G, y, init="random", **kw)
    assert from_enc.settings["init"] == "encoder" and from_rand.settings["init"] == "random"
    assert from_enc.loss.mean() < from_rand.loss.mean()
    # The defaults follow the start.
    assert recover(G, y[:1], encoder=enc, device=CPU).settings["steps"] == ENCODER_STEPS
    assert recover(G, y[:1], steps=2, device=CPU).settings["init"] == "random"
    with pytest.raises(ValueError, match="init='encoder'"):
        recover(G, y, init="encoder", device=CPU)


def test_encoder_result_independent_of_batch(G, tiny_encoder, problem):
    enc, _ = tiny_encoder
    _, y, _ = problem
    a = recover(G, y, encoder=enc, steps=10, device=CPU)
    b = recover(G, y[:1], encoder=enc, steps=10, device=CPU)
    # A batch of 3 against a batch of 1: other kernels in the encoder (its start differs by
    # ~sqrt(2000) U32 ~ 3e-6 of its pre-activations, K <= 1024 terms per layer) and in the
    # 10 whitened L-BFGS steps, which move z by up to 0.9 and carry a perturbation of the
    # start over amplified ~4x (a start moved by 2e-7 ends 8e-7 away): ~1e-5. 5e-5 is above
    # that; a batch dependence (batch statistics, another row) moves z by 1e-1 or more.
    assert torch.allclose(a.z[:1], b.z, rtol=0, atol=5e-5)


def test_encoder_checkpoint_round_trip_and_refusals(G, tiny_encoder, tmp_path):
    enc, _ = tiny_encoder
    path = save_encoder(tmp_path / "enc.safetensors", enc, G, extra={"note": "test"})
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["generator_digest"] == generator_digest(G) and meta["note"] == "test"
    back = load_encoder(path, G)
    x = torch.zeros(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(back(x), enc(x))     # exact: bit-identical weights, same module
    with pytest.raises(EncoderError, match="another generator"):
        load_encoder(path, tiny_generator(1))
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(EncoderError, match="modified or corrupted"):
        load_encoder(path)


def test_encoder_config_refuses_nonsense():
    with pytest.raises(ValueError, match="nef=0"):
        EncoderConfig(nef=0)
    assert Encoder(EncoderConfig(nz=7, box=False))(torch.zeros(2, 3, 64, 64)).shape == (2, 7)


def test_shipped_generator_starts_from_the_shipped_encoder():
    G = load_generator(None)
    assert shipped_encoder_for(G) is not None
    assert shipped_encoder_for(tiny_generator(0)) is None
    g = torch.Generator().manual_seed(0)
    z = torch.rand(2, 100, generator=g) * 2 - 1
    with torch.no_grad():
        y = G(z) + (50 / 127.5) * torch.randn(2, 3, 64, 64, generator=g)
    r = recover(G, y, device=CPU)
    assert r.settings["init"] == "encoder" and r.settings["steps"] == ENCODER_STEPS
    assert r.settings["strategy"] == "project" and r.z.abs().max() <= 1.0
    r_rand = recover(G, y, init="random", steps=2, device=CPU)
    assert r_rand.settings["init"] == "random" and DEFAULT_STEPS > ENCODER_STEPS
