"""Convergence per image, the declared prior and multi-start pruning (lvrlib.recovery).

The generator is test_recovery's tiny He-initialised DCGAN, on which z is recoverable.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from lvrlib.dcgan import sample_latent
from lvrlib.recovery import recover
from lvrlib.settings import PLATEAU_CUTS, LVRSettings, prior_of
from tests.test_recovery import tiny_generator

CPU = "cpu"


@pytest.fixture(scope="module")
def G():
    return tiny_generator(0)


def _truth(n, seed=100, scale=0.9):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 100, generator=g) * 2 - 1) * scale


class Counting(torch.nn.Module):
    """A plain module around G that counts the latents it is asked to map; its config
    gives nz and nc (so recover needs no probing pass) and declares no prior."""

    def __init__(self, G, config=SimpleNamespace(nz=100, nc=3)):
        super().__init__()
        self.G, self.rows, self.config = G, 0, config

    def forward(self, z):
        self.rows += z.shape[0]
        return self.G(z)


# --------------------------------------------------------------------------- stopping
def test_converged_image_stops_and_falling_one_does_not(G):
    """Image 0 starts at its true latent (loss 0: nothing left to fall), image 1 far from
    its own at a small step size (its loss falls at every step): 0 stops after one
    patience window and says it converged; 1 runs the whole budget and says it did not."""
    z = _truth(2)
    with torch.no_grad():
        y = G(z)
    start = torch.stack([z[0], -z[1]])
    r = recover(G, y, z_init=start, strategy="none", optimizer="sgd", lr=0.02, steps=40,
                schedule="constant", tol=1e-4, patience=5, device=CPU)
    assert r.converged.tolist() == [True, False]
    assert r.steps_taken[0] == 6 and r.steps_taken[1] == 40
    # Image 0 stays at its true latent. Not exactly: y came from the plain G and recover
    # fits the folded one, images <= IMAGE_ATOL = 1e-5 apart, so the gradient there is
    # <= 2 * 1e-5 * mean|dG/dz_i| (~0.075) = 1.5e-6 and 6 steps of lr 0.02 move z by
    # <= 1.8e-7 (bounds that hold on any CPU); 1e-6 is 5x that.
    torch.testing.assert_close(r.z[0], z[0], rtol=0, atol=1e-6)
    # Falling by >= 1.1e-4 relative per step, 100x the ~1e-6 rounding of a loss.
    assert (r.history[1:, 1] < r.history[:-1, 1]).all()       # image 1 was still falling
    # The final loss repeats. Exact: steps 7 to 10 (until the rows left the batch) and the
    # final pass evaluate the same latent (the stopped row's step is scaled by 0) in the
    # same batch of 2 with the same kernels; later steps copy the final loss.
    assert (r.history[6:, 0] == r.loss[0]).all()


def test_plateau_schedule_cuts_before_it_stops(G):
    """Under "plateau" an image whose loss has stopped falling first has its step size cut
    PLATEAU_CUTS times, one patience window each, and only then stops."""
    z = _truth(1)
    with torch.no_grad():
        y = G(z)
    kw = dict(z_init=z, strategy="none", optimizer="sgd", lr=0.02, steps=200, tol=1e-4,
              patience=5, device=CPU)
    r = recover(G, y, schedule="plateau", **kw)
    assert bool(r.converged[0])
    assert int(r.steps_taken[0]) == 5 * (PLATEAU_CUTS + 1) + 1
    const = recover(G, y, schedule="constant", **kw)
    assert int(const.steps_taken[0]) == 6


def test_no_tolerance_runs_the_budget(G):
    z = _truth(2)
    with torch.no_grad():
        y = G(z)
    r = recover(G, y, z_init=z, steps=12, lr=0.05, tol=None, device=CPU)
    assert r.steps_taken.tolist() == [12, 12] and not r.converged.any()


def test_stopped_rows_leave_the_batch(G):
    """Once an image has stopped, the generator no longer sees its latent (every
    COMPACT_EVERY steps the stopped rows leave the batch), and the results are those of
    the same images run with the batch kept whole (every image to the budget is the
    same arithmetic on each row)."""
    z = _truth(4)
    with torch.no_grad():
        y = G(z)
    start = z.clone()
    start[2:] = -start[2:]                  # images 2, 3 far from their latents
    net = Counting(G)
    kw = dict(z_init=start, strategy="project", optimizer="sgd", lr=0.02, steps=50,
              schedule="constant", patience=5, device=CPU)
    r = recover(net, y, tol=1e-4, **kw)
    assert r.converged[:2].all() and not r.converged[2:].any()
    # 4 rows until the check after step 10 (images 0, 1 stopped after step 6), then 2,
    # and one final pass over all 4.
    assert net.rows == 4 * 10 + 2 * 40 + 4
    whole = recover(G, y, tol=None, **kw)
    # The same steps on batches of 2 and of 4 rows: kernels chosen per batch size round
    # the gradient differently (~2e-6 of |g| <= 1e-2, 4e-10 in a step of lr 0.02), and
    # then z itself (half an ulp of |z| <= 1, 6e-8, where the step's rounding differs):
    # <= 50 * 6e-8 = 3e-6 after 50 steps (as a random walk ~4e-7). 1e-5 is above that and
    # 1/20 of one step of the moving components (lr |g| ~ 2e-4).
    assert torch.allclose(r.z[2:], whole.z[2:], rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- prior
NORMAL = SimpleNamespace(nz=100, nc=3, prior="normal")


def test_normal_prior_is_never_clamped(G):
    """A generator that declares a normal prior is refined without a box: its latents
    leave [-1, 1] where the data asks for it, and a box treatment is refused."""
    net = Counting(G, NORMAL)
    assert prior_of(net) == "normal" and prior_of(G) == "uniform"
    z = torch.randn(3, 100, generator=torch.Generator().manual_seed(1)) * 1.5
    with torch.no_grad():
        y = G(z)
    r = recover(net, y, z_init=z * 0.9, steps=30, lr=0.05, device=CPU)
    assert r.settings["prior"] == "normal" and r.settings["strategy"] == "none"
    assert r.z.abs().max() > 1.5
    for strategy in ("project", "stochastic"):
        with pytest.raises(ValueError, match="no box"):
            recover(net, y, strategy=strategy, steps=2, device=CPU)
    with pytest.raises(ValueError, match="no box"):
        LVRSettings(prior="normal", strategy="project")
    # The argument declares the prior of a module that does not.
    plain = recover(Counting(G), y, prior="normal", steps=2, device=CPU)
    assert plain.settings["prior"] == "normal" and plain.settings["strategy"] == "none"


@pytest.mark.parametrize("prior", ["uniform", "normal"])
def test_random_starts_are_drawn_from_the_prior(G, prior):
    """With a step size too small to move them, the recovered latents are the starts:
    the seed's draws from the declared prior."""
    with torch.no_grad():
        y = G(_truth(3))
    r = recover(G, y, prior=prior, init="random", optimizer="sgd", lr=1e-30, steps=1,
                strategy="none", seed=7, device=CPU)
    expected = sample_latent(3, 100, torch.Generator().manual_seed(7), prior=prior)
    # Exact: a step of 1e-30 |g| is far below half an ulp of any of these components.
    assert torch.equal(r.z, expected)
    assert (r.z.abs().max() > 1.0) == (prior == "normal")


# --------------------------------------------------------------------------- pruning
def test_pruned_start_never_beats_the_kept_one(G):
    """Each image's first start is its true latent (the others random): after pruning it
    is the one kept, every start run to the end confirms none of the pruned ones would
    have ended lower, the kept start's result is the unpruned run's, and the pruned
    starts cost one pass each per step until the pruning only."""
    n, R, k, steps = 2, 4, 3, 20
    z = _truth(n)
    with torch.no_grad():
        y = G(z)
    kw = dict(z_init=z * 0.95, restarts=R, strategy="project", lr=0.02, steps=steps,
              seed=3, tol=None, device=CPU)
    net = Counting(G)
    pruned = recover(net, y, prune_after=k, **kw)
    assert net.rows == n * R * k + n * (steps - k) + n * R
    every = recover(G, y, **kw)
    starts = sample_latent(n * R, 100, torch.Generator().manual_seed(3)).view(n, R, 100)
    starts[:, 0] = z * 0.95
    alone = torch.stack([recover(G, y, **{**kw, "restarts": 1, "z_init": starts[:, j]}).loss
                         for j in range(R)], 1)                       # (n, R)
    assert (alone.argmin(1) == 0).all()                # the kept start ends lowest
    # Batches of 8 then 2 rows (pruned), 8 (every), 2 (alone): other kernels. Rounding of
    # ~2e-6 relative in the gradients moves these 20 L-BFGS steps' z by ~1e-6 and the
    # losses (~0.06) by |grad| |dz| + ~1e-6 relative: 1e-4 relative is far above that,
    # and far below the gap to the other starts (0.14 and more).
    assert torch.allclose(pruned.loss, alone[:, 0], rtol=1e-4)
    assert torch.allclose(pruned.loss, every.loss, rtol=1e-4)
    assert pruned.steps_taken.tolist() == [steps] * n


# --------------------------------------------------------------------------- stochastic
def test_stop_rule_reads_the_lowest_loss_not_the_last():
    """A loss that rises after a fall (a stochastic redraw) has not "stopped falling": the
    rule compares the lowest loss so far. Constructed history, patience 2: 1.0, 0.5, 1.2
    fell by half over the window (the last loss, 1.2 > 1.0, would have said stop); with
    the lowest loss still 0.5 two steps later, the image stops."""
    from lvrlib.recovery import _Stop

    run = LVRSettings(optimizer="sgd", steps=10, lr=1.0, schedule="constant", tol=1e-3,
                      patience=2, restarts=1)
    stop = _Stop(1, run, torch.device(CPU))
    hist = torch.full((10, 1), float("nan"))
    for t, loss in enumerate([1.0, 0.5, 1.2, 0.8, 0.9]):
        hist[t, 0] = loss
        stop.update(hist, t)
        assert bool(stop.factor[0, 0] > 0) == (t < 3), t   # stopped after step 3, no earlier
    assert stop.converged.tolist() == [True] and stop.taken.tolist() == [4]


@pytest.mark.parametrize("optimizer", [None, "lbfgs", "adam"])
def test_stochastic_clipping_refused_before_any_work(G, optimizer):
    """Stochastic clipping under lvrlib's converging optimisers (L-BFGS, the default, and
    Adam) ends near a random point of the box (settings.STOCHASTIC_REFUSED): recover
    refuses it with an error naming the pairing and the way out, before a single
    generator pass; plain gradient descent (the paper's optimiser) runs it."""
    net = Counting(G)
    y = torch.zeros(2, 3, 64, 64)
    with pytest.raises(ValueError, match=r"strategy='stochastic' with optimizer='(lbfgs|adam)'"
                       r".*optimizer='sgd'"):
        recover(net, y, strategy="stochastic", optimizer=optimizer, device=CPU)
    assert net.rows == 0
    r = recover(net, y, strategy="stochastic", optimizer="sgd", steps=2, device=CPU)
    assert r.settings["optimizer"] == "sgd" and r.z.abs().max() <= 1.0
