"""Image-adaptive projection and deep image prior (lvrlib.adaptive), on a tiny DCGAN."""
from __future__ import annotations

import pytest
import torch

from lvrlib.adaptive import backproject, dip, discrepancy_target, ia_lvr
from lvrlib.baselines import estimate_sigma
from lvrlib.dcgan import sample_latent
from lvrlib.physics import Resize

from conftest import IMAGE_ATOL
from test_recovery import tiny_generator

CPU = "cpu"
SIGMA = 25.0      # 0..255 pixel units
S2 = (2 * SIGMA / 255) ** 2   # its variance in the [-1, 1] units of the residual


@pytest.fixture(scope="module")
def G():
    return tiny_generator(1)


@pytest.fixture(scope="module")
def z_true():
    return sample_latent(3, 100, torch.Generator().manual_seed(4)) * 0.9


def exact_noise(shape, seed, var):
    """Gaussian noise rescaled so each image's mean square is exactly ``var``."""
    n = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    return n * (var / n.pow(2).flatten(1).mean(1)).sqrt()[:, None, None, None]


def test_discrepancy_target_units():
    t = discrepancy_target([0.0, 25.5, 255.0], 3, tau=2.0)
    assert torch.allclose(t, torch.tensor([0.0, 2 * 0.2 ** 2, 2 * 4.0]))
    # Exact: 2 * 25.5 / 255 and its square, correctly rounded float64 operations on any CPU.
    assert torch.equal(discrepancy_target(25.5, 2), torch.full((2,), 0.2 ** 2))
    with pytest.raises(ValueError, match="2 values for 3 images"):
        discrepancy_target([1.0, 2.0], 3)
    with pytest.raises(ValueError, match=">= 0"):
        discrepancy_target(-1.0, 1)


def test_stop_fires_at_once_when_the_start_already_explains_all_but_the_noise(G, z_true):
    """y = G(z*) + noise of mean square exactly sigma^2: started at z* and the pretrained
    weights the residual is sigma^2 at step 0, so the discrepancy stop (tau slightly
    above 1) fires before any step and the output is G(z*) itself."""
    with torch.no_grad():
        x = G(z_true)
    y = x + exact_noise(x.shape, 0, S2)
    r = ia_lvr(G, y, SIGMA, z_init=z_true, steps=50, tau=1.0 + 1e-4, device=CPU)
    assert r.steps_taken.tolist() == [0, 0, 0] and r.stopped.all()
    # The residual is mean(noise^2) = S2 plus 2 mean(noise d) for the images' rounding d
    # (<= ~1e-6, below): |2 mean(noise d)| <= 2 sqrt(S2) rms(d) ~ 4e-7 = 1e-5 of S2, so it
    # is within rtol 1e-4 of S2 and below tau S2 = (1 + 1e-4) S2 on any CPU.
    assert torch.allclose(r.residual, torch.full((3,), S2), rtol=1e-4)
    # The per-image form of the folded generator (batched matrix products and fold) against
    # the plain module: other kernels, of order 1e-6 per pixel (conftest).
    assert (r.images - x).abs().max() < IMAGE_ATOL
    assert torch.equal(r.z, z_true)                # exact: no step taken, the start itself


def test_stop_fires_at_the_first_step_the_residual_reaches_the_target(G, z_true):
    """From a poor start (another latent) the residual falls; the stop comes at the
    first step whose residual is <= tau sigma^2, and no earlier."""
    with torch.no_grad():
        x = G(z_true)
    y = x + exact_noise(x.shape, 1, S2)
    z0 = sample_latent(3, 100, torch.Generator().manual_seed(9))
    tau = 1.5
    r = ia_lvr(G, y, SIGMA, z_init=z0, steps=400, lr=1e-3, lr_z=3e-2, tau=tau, device=CPU)
    target = tau * S2
    assert r.stopped.all(), r.residual
    for i in range(3):
        k = int(r.steps_taken[i])
        h = r.history[:, i]
        assert k > 0 and float(h[k]) <= target < float(h[:k].min())
        assert torch.isnan(h[k + 1:]).all()          # it left the batch at its stop
        assert float(r.residual[i]) == pytest.approx(float(h[k]))
    # The returned images are the ones whose residual was measured at the stop: the same
    # formula on the same images, though in a batch of another size (the reduction of
    # 12288 squares rounds by ~log2(12288) U32 ~ 1e-6 relative): 1e-4 is far above that.
    fit = (r.images - y).pow(2).flatten(1).mean(1)
    assert torch.allclose(fit, r.residual, rtol=1e-4)


def test_budget_runs_out_when_the_target_cannot_be_reached(G, z_true):
    with torch.no_grad():
        y = G(z_true) + exact_noise((3, 3, 64, 64), 2, S2)
    r = ia_lvr(G, y, 0.0, z_init=z_true, steps=5, device=CPU)
    assert r.steps_taken.tolist() == [5, 5, 5] and not r.stopped.any()
    assert torch.isfinite(r.history).all()
    assert (r.residual < r.history[0]).all()          # it did fit the noisy image more


def test_batch_gives_the_images_one_by_one(G, z_true):
    """Per-image sigmas make the images stop at different steps, so the batch shrinks
    (and carries each remaining image's Adam state over) while the others go on."""
    with torch.no_grad():
        y = G(z_true) + exact_noise((3, 3, 64, 64), 3, S2)
    z0 = sample_latent(3, 100, torch.Generator().manual_seed(5))
    sig = [45.0, 36.0, 30.0]   # stops measured at steps 3, 8 and 17
    kw = dict(steps=40, lr=1e-3, lr_z=3e-2, device=CPU)
    seen = []
    whole = ia_lvr(G, y, sig, z_init=z0, batch_size=3, **kw,
                   callback=lambda t, idx, out: seen.append((t, idx.tolist())))
    assert whole.stopped.all() and len(set(whole.steps_taken.tolist())) == 3
    # The callback names the images still in the batch: all three, then fewer.
    assert seen[0] == (0, [0, 1, 2]) and len(seen[-1][1]) == 1
    # One by one against a batch of 3 (then 2, then 1): other kernels, other rounding
    # (~1e-6 in the images, ~2e-6 relative in the gradients), which can move a stop by a
    # step only where a residual lies that close to its target. Here each residual
    # crosses its target by >= 1e-3 relative on either side (0.3% to 13%), so the stops
    # are the same steps on any CPU.
    targets = discrepancy_target(sig, 3)
    for i in range(3):
        k = int(whole.steps_taken[i])
        assert whole.history[k, i] < targets[i] * (1 - 1e-3) < targets[i] * (1 + 1e-3) \
            < whole.history[k - 1, i], (i, whole.history[:k + 1, i], targets[i])
    # Up to 17 Adam steps of lr_z 3e-2 on z, each off by ~lr_z * 3e-6 = 1e-7 (the
    # gradients' rounding): <= 1.7e-6 in z, and in the images that times |dG/dz| (~0.1
    # per component, 100 components: ~1.7e-6) plus the weights' share and the forward's
    # own ~1e-6. 1e-4 is well above, and a wrong image's slice (or state) is off by 1e-1
    # (these latents move 0.09 to 0.43 from their starts).
    for i in range(3):
        one = ia_lvr(G, y[i:i + 1], sig[i], z_init=z0[i:i + 1], **kw)
        assert int(one.steps_taken[0]) == int(whole.steps_taken[i])
        assert (one.images[0] - whole.images[i]).abs().max() < 1e-4
        assert (one.z[0] - whole.z[i]).abs().max() < 1e-4
    # Batches of two: the callback's indices are those of the whole input.
    seen.clear()
    ia_lvr(G, y, sig, z_init=z0, batch_size=2, **kw,
           callback=lambda t, idx, out: seen.append(tuple(idx.tolist())))
    assert set(seen) >= {(0, 1), (2,)} and all(max(s) <= 2 for s in seen)
    d_whole = dip(y, SIGMA, steps=6, seed=2, device=CPU, batch_size=3)
    d_one = dip(y[1:2], SIGMA, steps=6, seed=2, device=CPU)
    # Batch of 3 against 1, 6 Adam steps on the weights: rounding of ~2e-6 relative in
    # the gradients changes each step by ~lr * 2e-6; 1e-4 is far above what that does to
    # the images, and a step of DIP changes them by up to 0.36.
    assert (d_one.images[0] - d_whole.images[1]).abs().max() < 1e-4


def test_the_pretrained_generator_is_left_unchanged(G, z_true):
    before = {k: v.clone() for k, v in G.state_dict().items()}
    G.train()
    try:
        with torch.no_grad():
            y = G.eval()(z_true) + exact_noise((3, 3, 64, 64), 4, S2)
        G.train()
        r = ia_lvr(G, y, 0.0, steps=10, lr=1e-2, device=CPU)   # never stops early
        assert G.training
    finally:
        G.eval()
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert all(not p.requires_grad or p.grad is None for p in G.parameters())
    # It did adapt: the images are no longer on the pretrained generator's range.
    with torch.no_grad():
        assert (r.images - G(r.z)).abs().max() > 1e-3


def test_same_seed_same_result_and_sigma_estimated_when_not_given(G, z_true):
    with torch.no_grad():
        y = G(z_true) + exact_noise((3, 3, 64, 64), 5, S2)
    a = ia_lvr(G, y, steps=4, device=CPU)
    b = ia_lvr(G, y, "auto", steps=4, device=CPU)
    # Exact: None and "auto" are one code path, run twice on the same numbers.
    assert torch.equal(a.images, b.images) and torch.equal(a.sigma, b.sigma)
    # The tiny generator's rough images make the wavelet estimate high; it is the
    # estimate baselines gives, and the target follows it.
    est = torch.as_tensor(estimate_sigma(y), dtype=torch.float32)
    assert torch.allclose(a.sigma, est) and torch.allclose(a.target, (2 * est / 255) ** 2)
    c = dip(y, SIGMA, steps=4, seed=7, device=CPU)
    d = dip(y, SIGMA, steps=4, seed=7, device=CPU)
    e = dip(y, SIGMA, steps=4, seed=8, device=CPU)
    # Exact: the same call twice (same seed) runs the same kernels on the same numbers.
    assert torch.equal(c.images, d.images) and not torch.equal(c.images, e.images)


def test_gray_small_images_go_through_the_operator(G, z_true):
    with torch.no_grad():
        clean = Resize(25)(G(z_true).mean(1, keepdim=True))
    y = clean + exact_noise(clean.shape, 6, S2)
    r = ia_lvr(G, y, SIGMA, steps=5, device=CPU)
    assert r.images.shape == (3, 3, 64, 64) and r.history.shape == (6, 3)
    assert "Resize" in r.settings["operator"] and "Grayscale" in r.settings["operator"]


def test_refusals(G, z_true):
    y = torch.zeros(3, 3, 64, 64)
    with pytest.raises(TypeError, match="DCGAN Generator"):
        ia_lvr(torch.nn.Linear(100, 3), y, SIGMA)
    with pytest.raises(ValueError, match="z_init has shape"):
        ia_lvr(G, y, SIGMA, z_init=z_true[:2], device=CPU)
    with pytest.raises(ValueError, match=">= 0"):
        ia_lvr(G, y, -5.0, z_init=z_true, device=CPU)
    with pytest.raises(ValueError, match="steps"):
        dip(y, SIGMA, steps=-1)
    with pytest.raises(ValueError, match="batch_size"):
        dip(y, SIGMA, steps=1, batch_size=0)
    with pytest.raises(ValueError, match="weight tensors"):
        ia_lvr(G, y, SIGMA, z_init=z_true, lr=[1e-4, 1e-4], device=CPU)

    class Other(type(G)):
        def forward(self, z):
            return -super().forward(z)
    with pytest.raises(TypeError, match="DCGAN Generator"):
        ia_lvr(Other(G.config), y, SIGMA, z_init=z_true)


def test_backproject_blends_towards_the_observation():
    x = torch.zeros(1, 3, 4, 4)
    y = torch.full((1, 3, 4, 4), 0.5)
    assert torch.equal(backproject(x, y, 0.0), x)
    assert torch.allclose(backproject(x, y, 0.2), torch.full_like(x, 0.1))
    with pytest.raises(ValueError, match="one shape"):
        backproject(x, y[:, :1], 0.5)
    with pytest.raises(ValueError, match="0..1"):
        backproject(x, y, 1.5)


# ------------------------------------------------------------------ IA-LVR ensembles
def _starts(G):
    """A start function with the ensemble's signature, recording its calls."""
    from lvrlib.recovery import recover
    calls = []

    def start(images, k):
        calls.append((images.clone(), k))
        return recover(G, images, steps=5, seed=k, device=CPU).z
    return start, calls


def test_ensemble_plan_mirrors_then_restarts():
    from lvrlib.adaptive import ensemble_plan
    assert ensemble_plan(1) == [(False, 0)]
    assert ensemble_plan(4) == [(False, 0), (True, 0), (False, 1), (True, 1)]
    with pytest.raises(ValueError, match="at least 1"):
        ensemble_plan(0)


def test_one_member_is_plain_ia_lvr(G, z_true):
    from lvrlib.adaptive import ia_lvr_ensemble
    with torch.no_grad():
        y = G(z_true) + exact_noise((3, 3, 64, 64), 6, S2)
    z0 = z_true + 0.05
    one = ia_lvr_ensemble(G, y, SIGMA, members=1, z_init=z0, steps=6, device=CPU)
    plain = ia_lvr(G, y, SIGMA, z_init=z0, steps=6, device=CPU)
    # Exact: the same ia_lvr call on the same numbers, and a mean of one.
    assert torch.equal(one.images, plain.images) and torch.equal(one.z, plain.z)
    assert torch.equal(one.steps_taken, plain.steps_taken)


def test_ensemble_is_the_mean_of_its_members_run_one_by_one(G, z_true):
    from lvrlib.adaptive import ia_lvr_ensemble
    with torch.no_grad():
        y = G(z_true) + exact_noise((3, 3, 64, 64), 7, S2)
    z0 = z_true + 0.05
    start, calls = _starts(G)
    ens = ia_lvr_ensemble(G, y, SIGMA, members=3, z_init=z0, start=start, steps=6,
                          device=CPU)
    # Member 0 starts from z_init; member 1 (the mirror) and 2 (start 1) from start().
    assert [k for _, k in calls] == [0, 1]
    assert torch.equal(calls[0][0], y.flip(-1)) and torch.equal(calls[1][0], y)
    z1, z2 = start(y.flip(-1), 0), start(y, 1)
    members = [ia_lvr(G, y, SIGMA, z_init=z0, steps=6, device=CPU).images,
               ia_lvr(G, y.flip(-1), SIGMA, z_init=z1, steps=6, device=CPU).images.flip(-1),
               ia_lvr(G, y, SIGMA, z_init=z2, steps=6, device=CPU).images]
    # Exact: the same calls on the same numbers, and the same mean over the same stack.
    assert torch.equal(ens.images, torch.stack(members).mean(0))
    assert not torch.allclose(members[0], members[1], atol=1e-3)   # the mirror differs
    # Its residual is the mean image's.
    assert torch.allclose(ens.residual, (ens.images - y).pow(2).flatten(1).mean(1), rtol=1e-5)
    assert ens.settings["members"] == [(False, 0), (True, 0), (False, 1)]


def test_ensemble_same_seed_same_result_and_generator_untouched(G, z_true):
    from lvrlib.adaptive import ia_lvr_ensemble
    before = {k: v.clone() for k, v in G.state_dict().items()}
    with torch.no_grad():
        y = G(z_true) + exact_noise((3, 3, 64, 64), 8, S2)
    a = ia_lvr_ensemble(G, y, SIGMA, members=2, steps=4, seed=3, device=CPU)
    b = ia_lvr_ensemble(G, y, SIGMA, members=2, steps=4, seed=3, device=CPU)
    # Exact: the same call twice runs the same kernels on the same numbers.
    assert torch.equal(a.images, b.images)
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert not G.training


# --------------------------------------------------------------------------- SURE stop
def test_sure_stop_returns_the_fit_of_least_estimated_risk(G, z_true):
    """stop="sure": the output is the fit at the step of least estimated risk, and each
    image runs exactly ``sure_patience`` steps past that step (or to the budget, which
    ``stopped`` tells apart)."""
    with torch.no_grad():
        y = G(z_true) + exact_noise((3, 3, 64, 64), 11, S2)
    z0 = z_true + 0.1
    seen = {}

    def cb(t, idx, out):
        for i, im in zip(idx.tolist(), out):
            seen[(t, i)] = im.clone()
    r = ia_lvr(G, y, SIGMA, z_init=z0, steps=40, stop="sure", sure_patience=4,
               sure_eps=0.05, device=CPU, callback=cb)
    risk = r.risk.nan_to_num(float("inf"))
    assert torch.equal(r.steps_taken, risk.argmin(0))
    for i, t in enumerate(r.steps_taken.tolist()):
        assert torch.equal(r.images[i], seen[(t, i)])       # the same tensor, copied
        ran = int((~r.risk[:, i].isnan()).sum()) - 1        # the last step it was scored at
        assert ran == (t + 4 if r.stopped[i] else 40)
    # At step 0 the fit G(z0) does not depend on y, so the divergence term is exactly 0
    # (both runs compute the same numbers) and the risk is the residual minus sigma^2;
    # sigma^2 is squared in float32 there and in float64 here: one float32 rounding of
    # about 0.038, 4e-9 at most, so atol 1e-7 holds on any CPU.
    assert torch.allclose(r.risk[0], r.history[0] - S2, rtol=0, atol=1e-7)
    assert r.settings["stop"] == "sure"


def test_sure_stop_keeps_the_generator_and_refuses_unknown_stops(G, z_true):
    before = {k: v.clone() for k, v in G.state_dict().items()}
    with torch.no_grad():
        y = G(z_true) + exact_noise((3, 3, 64, 64), 12, S2)
    a = ia_lvr(G, y, SIGMA, z_init=z_true, steps=5, stop="sure", device=CPU, seed=1)
    b = ia_lvr(G, y, SIGMA, z_init=z_true, steps=5, stop="sure", device=CPU, seed=1)
    assert torch.equal(a.images, b.images)                 # the probe is seeded
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert ia_lvr(G, y, SIGMA, z_init=z_true, steps=5, device=CPU).risk is None
    with pytest.raises(ValueError, match="stop='oracle'"):
        ia_lvr(G, y, SIGMA, z_init=z_true, steps=5, stop="oracle", device=CPU)
