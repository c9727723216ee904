"""DCGAN networks, config and latent prior (lvrlib.dcgan), on a tiny config."""
from __future__ import annotations

import importlib
import sys

import pytest
import torch
from scipy import stats

from lvrlib.dcgan import DCGANConfig, Discriminator, Generator, sample_latent

from conftest import IMAGE_ATOL

TINY = DCGANConfig(ngf=8, ndf=8, batch_size=4)


# --------------------------------------------------------------------------- networks
def test_default_config_is_the_papers():
    c = DCGANConfig()
    assert (c.nz, c.ngf, c.ndf, c.nc, c.image_size) == (100, 64, 64, 3, 64)
    assert (c.lr, c.beta1, c.batch_size, c.g_steps, c.flip) == (2e-4, 0.5, 64, 2, True)
    # Parameter counts of pytorch/examples dcgan with nz=100, ngf=ndf=64, nc=3.
    assert sum(p.numel() for p in Generator(c).parameters()) == 3_576_704
    assert sum(p.numel() for p in Discriminator(c).parameters()) == 2_765_568


@pytest.mark.parametrize("bad", [dict(image_size=32), dict(ngf=0), dict(batch_size=0)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        DCGANConfig(**bad)


def test_generator_shape_and_range():
    G = Generator(TINY).eval()
    z = sample_latent(5, 100, torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = G(z)
        # Far outside the prior the tanh still bounds the output.
        x_big = G(z * 1e6)
    assert x.shape == (5, 3, 64, 64) and x.dtype == torch.float32
    assert x.abs().max() <= 1.0 and x_big.abs().max() <= 1.0
    assert x_big.abs().max() > 0.99  # the big inputs really do saturate
    # Accepts z as (N, nz, 1, 1) too, as pytorch/examples feeds it. Exact: forward
    # reshapes both to the same (N, nz, 1, 1) tensor, so the same kernels run.
    with torch.no_grad():
        assert torch.equal(G(z[:, :, None, None]), x)


def _trained_like(config, seed=0):
    """A generator whose batch norms hold non-trivial statistics, as after training:
    scales and shifts away from 1 and 0, and running statistics of its own activations
    (one pass in training mode, then perturbed). Statistics drawn without regard to the
    activations (means of 0.3 against activations of 0.03) made every channel of the last
    batch norm negative: after its ReLU the images were exactly 0, folded or not."""
    G = Generator(config)
    g = torch.Generator().manual_seed(seed)
    norms = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
        m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
        m.momentum = None                 # a cumulative average: one batch's statistics
    with torch.no_grad():
        G.train()(sample_latent(64, config.nz, g))
    for m in norms:
        m.momentum = 0.1
        m.running_mean.add_(torch.randn(m.num_features, generator=g) * 0.3
                            * m.running_var.sqrt())
        m.running_var.mul_(torch.rand(m.num_features, generator=g) + 0.5)
    return G


@pytest.mark.parametrize("channels_last", [False, True])
def test_folded_generator_is_the_same_function_in_eval_mode(channels_last):
    G = _trained_like(TINY).train()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    Fd = G.folded(channels_last=channels_last)
    z = sample_latent(6, 100, torch.Generator().manual_seed(1))
    with torch.no_grad():
        folded, ref = Fd(z), G.eval()(z)
    # The images depend on z, so the comparison below is not of two constants.
    assert ref.std(0).mean() > 1e-2
    # The fold rounds each weight and bias once, and the folded network sums in another
    # order (and in channels-last layout): of order 1e-6 per pixel (conftest), within
    # IMAGE_ATOL; a wrong fold moves pixels by far more (a running mean or a shift left
    # out: 0.1 to 0.4; even eps left out: 8e-4).
    assert (folded - ref).abs().max() < IMAGE_ATOL
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in Fd.modules())
    assert not any(p.requires_grad for p in Fd.parameters())
    # The caller's generator is untouched, and later changes to it do not reach the copy.
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    with torch.no_grad():
        G.main[0].weight.mul_(2.0)
        assert torch.equal(Fd(z), folded)       # exact: the same module on the same input


def test_discriminator_output_shape():
    D = Discriminator(TINY).eval()
    x = torch.rand(6, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        out = D(x)
    assert out.shape == (6,)
    assert torch.isfinite(out).all()


def test_sample_latent_prior():
    z = sample_latent(1000, 100, torch.Generator().manual_seed(0))
    assert z.shape == (1000, 100) and z.dtype == torch.float32
    assert z.min() >= -1.0 and z.max() <= 1.0
    assert z.min() < -0.999 and z.max() > 0.999  # the whole box, not [0, 1]
    assert stats.kstest(z.flatten().numpy().astype("float64"), "uniform",
                        args=(-1.0, 2.0)).pvalue > 0.01
    same = sample_latent(1000, 100, torch.Generator().manual_seed(0))
    other = sample_latent(1000, 100, torch.Generator().manual_seed(1))
    assert torch.equal(z, same) and not torch.equal(z, other)
    assert sample_latent(3, 7).shape == (3, 7)


def test_importing_the_networks_does_not_import_checkpoints_or_training():
    """dcgan is the bottom of the stack: checkpoints and training import it, not the
    reverse (what `python -c "import lvrlib.dcgan"` loads, checked in this process)."""
    saved = {k: v for k, v in sys.modules.items() if k == "lvrlib" or k.startswith("lvrlib.")}
    for k in saved:
        del sys.modules[k]
    try:
        importlib.import_module("lvrlib.dcgan")
        loaded = sorted(k for k in sys.modules if k == "lvrlib" or k.startswith("lvrlib."))
    finally:
        for k in [k for k in sys.modules if k == "lvrlib" or k.startswith("lvrlib.")]:
            del sys.modules[k]
        sys.modules.update(saved)
    assert loaded == ["lvrlib", "lvrlib.dcgan"]
