"""Latent vector recovery (lvrlib.recovery): clipping, operators and ``recover``.

The generator here is a tiny DCGAN (ngf=8) whose transposed convolutions are
re-initialised with He (Kaiming) normal weights, std = sqrt(2 / fan_in) where fan_in is the
number of inputs each output pixel sees. Why: with the DCGAN initialisation N(0, 0.02) and
batch norm in eval mode (fresh running statistics, so batch norm is the identity) every
layer shrinks the signal, and the images barely depend on z (their spread over z is about
1e-5, see ``test_default_init_is_nearly_constant_in_z``): z would not be identifiable from
G(z). With He weights the pixels spread over about 0.26 and z is recoverable.
"""
from __future__ import annotations

import pytest
import torch
from scipy import stats

from lvrlib.dcgan import DCGANConfig, Generator, sample_latent
from lvrlib.physics import Compose, Grayscale, Identity, Resize, operator_for
from lvrlib.recovery import recover
from lvrlib.settings import STRATEGIES
from lvrlib.updates import lr_schedule, project_to_box, stochastic_clip

from conftest import IMAGE_ATOL

CPU = "cpu"
N_IMAGES = 4


def tiny_generator(seed: int = 0, he_init: bool = True) -> Generator:
    """A tiny DCGAN generator in eval mode, built without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = Generator(DCGANConfig(ngf=8, ndf=8))
    if he_init:
        g = torch.Generator().manual_seed(seed)
        convs = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
        for i, m in enumerate(convs):
            # The first layer maps a 1x1 input, so each output pixel sees in_channels
            # inputs; the stride-2 layers give each output pixel 2x2 taps per channel.
            fan_in = m.in_channels * (1 if i == 0 else 4)
            with torch.no_grad():
                m.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=g)
    return G.eval()


@pytest.fixture(scope="module")
def G():
    return tiny_generator(0)


@pytest.fixture(scope="module")
def z_true():
    # Inside [-0.9, 0.9]: the truth is strictly inside the box.
    g = torch.Generator().manual_seed(100)
    return (torch.rand(N_IMAGES, 100, generator=g) * 2 - 1) * 0.9


@pytest.fixture(scope="module")
def y(G, z_true):
    with torch.no_grad():
        return G(z_true)


@pytest.fixture(scope="module")
def y_other(G):
    """Other targets, to replace the rest of a batch."""
    with torch.no_grad():
        return G(sample_latent(N_IMAGES, 100, torch.Generator().manual_seed(7)))


# --------------------------------------------------------------------------- generator
def test_default_init_is_nearly_constant_in_z(y):
    z = sample_latent(16, 100, torch.Generator().manual_seed(1))
    with torch.no_grad():
        spread_default = tiny_generator(0, he_init=False).eval()(z).std(0).mean().item()
        spread_he = tiny_generator(0)(z).std(0).mean().item()
    assert spread_default < 1e-3   # measured 1.7e-5: z is not identifiable
    assert spread_he > 0.1         # measured 0.26


# --------------------------------------------------------------------------- clipping
def test_project_to_box_clamps():
    z = torch.tensor([[-3.0, -1.0, -0.5, 0.0, 0.99, 1.0, 1.01, 7.0]])
    out = project_to_box(z)
    assert torch.equal(out, torch.tensor([[-1.0, -1.0, -0.5, 0.0, 0.99, 1.0, 1.0, 1.0]]))


def test_stochastic_clip_box_and_untouched_inside():
    z = torch.randn(200, 100, generator=torch.Generator().manual_seed(0)) * 2
    out = stochastic_clip(z, torch.Generator().manual_seed(1))
    outside = z.abs() > 1
    assert outside.float().mean() > 0.5          # the test exercises many redraws
    assert out.abs().max() <= 1.0
    assert torch.equal(out[~outside], z[~outside])
    assert not torch.any(out[outside] == z[outside])
    # Each component gets its own draw, not one value per row or a clamp to the edge.
    assert out[outside].unique().numel() > 0.99 * int(outside.sum())
    assert not torch.any(out[outside].abs() == 1.0)
    # Same generator seed -> same redraws.
    assert torch.equal(out, stochastic_clip(z, torch.Generator().manual_seed(1)))


def test_stochastic_clip_redraws_are_uniform():
    z = torch.randn(100, 100, generator=torch.Generator().manual_seed(2)) * 3
    out = stochastic_clip(z, torch.Generator().manual_seed(3))
    redrawn = out[z.abs() > 1].numpy().astype("float64")
    assert redrawn.size > 5000
    ks = stats.kstest(redrawn, "uniform", args=(-1.0, 2.0))
    assert ks.pvalue > 0.01, ks
    # The test has power: the same values squeezed into [-0.9, 0.9] are rejected.
    assert stats.kstest(redrawn * 0.9, "uniform", args=(-1.0, 2.0)).pvalue < 1e-6


# --------------------------------------------------------------------------- operators
def test_grayscale_uses_bt601_weights():
    x = torch.zeros(3, 3, 4, 4)
    for c in range(3):
        x[c, c] = 1.0
    gray = Grayscale()(x)
    assert gray.shape == (3, 1, 4, 4)
    assert torch.allclose(gray[:, 0, 0, 0], torch.tensor([0.299, 0.587, 0.114]))
    r = torch.rand(2, 3, 5, 5, generator=torch.Generator().manual_seed(0)) * 2 - 1
    expected = 0.299 * r[:, 0] + 0.587 * r[:, 1] + 0.114 * r[:, 2]
    # The operator's kernel against the formula: 3 products and 2 sums of terms <= 1 in
    # another order differ by <= 5 U32 ~ 3e-7; 1e-6 is 3x that.
    assert torch.allclose(Grayscale()(r)[:, 0], expected, rtol=0, atol=1e-6)
    # The weights sum to one: white stays white, black stays black in [-1, 1] units.
    assert torch.allclose(Grayscale()(torch.ones(1, 3, 2, 2)), torch.ones(1, 1, 2, 2))


def test_resize_size_antialias_and_gradient():
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert Resize(25)(x).shape == (2, 3, 25, 25)
    assert Resize(64)(x) is x
    # Antialiasing: a one-pixel checkerboard averages out instead of aliasing.
    ii, jj = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    board = (((ii + jj) % 2) * 2 - 1).float().expand(1, 1, 64, 64)
    assert Resize(25)(board).abs().max() < 0.2
    # Differentiable, with the right gradient.
    small = torch.rand(1, 1, 9, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(Resize(4), (small,))
    with pytest.raises(ValueError, match="size=0"):
        Resize(0)


def test_operator_for_picks_grayscale_and_resize():
    op = operator_for(torch.zeros(2, 1, 25, 25))
    assert isinstance(op, Compose)
    assert [type(o) for o in op.ops] == [Grayscale, Resize] and op.ops[1].size == 25
    assert op(torch.zeros(2, 3, 64, 64)).shape == (2, 1, 25, 25)
    assert isinstance(operator_for(torch.zeros(2, 3, 64, 64)), Identity)
    assert [type(o) for o in operator_for(torch.zeros(1, 1, 64, 64)).ops] == [Grayscale]
    assert [type(o) for o in operator_for(torch.zeros(1, 3, 32, 32)).ops] == [Resize]
    with pytest.raises(ValueError, match="channels"):
        operator_for(torch.zeros(1, 2, 64, 64))
    with pytest.raises(ValueError, match="square"):
        operator_for(torch.zeros(1, 1, 25, 30))
    composed = Grayscale().then(Resize(8))
    assert composed(torch.zeros(1, 3, 64, 64)).shape == (1, 1, 8, 8)


# --------------------------------------------------------------------------- recover
def test_noiseless_recovery_finds_z(G, z_true, y):
    r = recover(G, y, strategy="project", optimizer="adam", steps=300, lr=0.05, restarts=4,
                seed=0, device=CPU)
    err = (r.z - z_true).pow(2).mean(1)
    # Measured: per-image errors <= 3e-10 here and <= 5e-8 for generator seeds 0..9; a
    # random z in the box would be off by about 0.6 per component. Restarts are needed:
    # with one start some images stall in a local minimum (error ~4e-2 at 250 steps).
    # Rounding cannot reach these bounds on any CPU: y = G(z_true) comes from the plain
    # module and recover fits the folded one, whose images differ by <= IMAGE_ATOL per
    # pixel; that moves the minimiser by <= 1e-5 sqrt(12288) / s_min(J) ~ 1.1e-3 / 4.5 in
    # norm (s_min: J's smallest singular value), 6e-10 in mean square, and the loss by 1e-10.
    assert err.mean() < 1e-6, err
    assert err.max() < 1e-5, err
    assert r.loss.max() < 1e-5
    assert r.z.shape == (N_IMAGES, 100) and r.images.shape == (N_IMAGES, 3, 64, 64)
    assert r.history.shape == (300, N_IMAGES) and r.loss.shape == (N_IMAGES,)
    assert torch.equal(r.steps_taken, torch.full((N_IMAGES,), 300))
    # recover's images come from the folded, channels-last copy of G (Generator.folded),
    # G(r.z) from the plain module: other kernels, another summation order in each of the
    # five layers, of order 1e-6 per pixel (conftest: sqrt(580) U32 of the O(1) pre-tanh
    # values; 1.49e-6 on an AMD EPYC). IMAGE_ATOL = 1e-5 still proves they are G(z): a
    # latent 1e-3 away moves the pixels by about 1e-3.
    assert torch.allclose(r.images, G(r.z).detach(), rtol=0, atol=IMAGE_ATOL)


def test_strategies_keep_z_in_box_and_none_does_not(G, z_true):
    # The truth lies outside the box, so the unconstrained optimum does too.
    z_out = z_true.clone()
    z_out[:, :10] = 1.6
    with torch.no_grad():
        y_out = G(z_out)
    # (stochastic clipping runs under gradient descent: refused under L-BFGS and Adam)
    sgd = dict(optimizer="sgd", lr=1.0)
    res = {s: recover(G, y_out, strategy=s, steps=100, seed=0, device=CPU,
                      **(sgd if s == "stochastic" else dict(lr=0.05)))
           for s in STRATEGIES}
    assert res["none"].z.abs().max() > 1.2
    for s in ("project", "stochastic"):
        assert res[s].z.abs().max() <= 1.0, s
    assert (res["project"].z.abs() == 1.0).any()  # clamped to the edge
    # Free z fits best here: the constraint is the only difference.
    assert (res["none"].loss < res["project"].loss).all()


def test_same_seed_same_result(G, y):
    kw = dict(strategy="stochastic", optimizer="sgd", steps=40, lr=1.0, restarts=2, device=CPU)
    a, b = recover(G, y, seed=3, **kw), recover(G, y, seed=3, **kw)
    c = recover(G, y, seed=4, **kw)
    # Exact: the same call twice runs the same kernels on the same numbers.
    for name in ("z", "images", "loss", "history", "steps_taken"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.z, c.z)


def _image_0(r):
    return dict(z=r.z[0], images=r.images[0], loss=r.loss[0], history=r.history[:, 0],
                steps_taken=r.steps_taken[0])


@pytest.mark.parametrize("tol", [None, 0.05])
def test_result_independent_of_rest_of_batch(G, y, y_other, tol):
    kw = dict(strategy="stochastic", optimizer="sgd", steps=60, lr=1.0, seed=0, device=CPU,
              tol=tol, patience=10)
    mixed = y.clone()
    mixed[1:] = y_other[1:]
    a, b = recover(G, y, **kw), recover(G, mixed, **kw)
    assert not torch.equal(a.z[1:], b.z[1:])
    one, other = _image_0(a), _image_0(b)
    if tol is None:
        # Exact: both runs refine batches of 4 rows at every step, so the same kernels, and
        # no kernel mixes rows: image 0 gets the same arithmetic to the bit.
        for name, first in one.items():
            assert torch.equal(first, other[name]), name
    else:
        # Here the other images stop at other steps, so image 0 is refined in batches of
        # other sizes (other kernels). It stops at the same step: its loss's relative fall
        # over the window stays >= 0.06 against tol 0.05, far beyond rounding. Its latent:
        # 60 steps of lr 1 with |g| <= 1e-2, each step off by <= 2e-6 |g| (gradient
        # rounding) plus half an ulp of |z| < 1 (6e-8): <= 60 * 8e-8 ~ 5e-6 < 1e-5, while
        # a redraw taken from another row moves a component by O(1) (image 0 stays >= 5e-3
        # inside the box, so no redraw decision is near a tie). Its loss: ~1e-6 relative.
        assert torch.equal(one["steps_taken"], other["steps_taken"])
        torch.testing.assert_close(one["z"], other["z"], rtol=0, atol=1e-5)
        torch.testing.assert_close(one["images"], other["images"], rtol=0, atol=IMAGE_ATOL)
        torch.testing.assert_close(one["loss"], other["loss"], rtol=1e-5, atol=0)
        torch.testing.assert_close(one["history"], other["history"], rtol=1e-5, atol=0)
        # Per-image stopping really happened, at different steps for different images.
        taken = a.steps_taken
        assert taken.min() < 60 and taken.unique().numel() > 1, taken


def test_batch_norm_runs_in_eval_mode_and_mode_is_restored(G, y):
    kw = dict(strategy="project", steps=10, lr=0.05, seed=0, device=CPU)
    ref = recover(G, y, **kw)
    G.train()
    try:
        r = recover(G, y, **kw)
        assert G.training
    finally:
        G.eval()
    # Exact: in either mode recover runs the same folded copy (from the running
    # statistics) on the same numbers.
    assert torch.equal(r.z, ref.z)


def test_restarts_keep_the_best_start(G, y):
    """restarts=R runs R starts per image, drawn image-major from the seed, and keeps the
    one with the lowest final loss. With strategy="project" (no random redraws) each start
    can be rerun alone through z_init, so the claim can be checked exactly."""
    R, seed = 4, 5
    kw = dict(strategy="project", optimizer="adam", steps=30, lr=0.05, device=CPU)
    multi = recover(G, y, restarts=R, seed=seed, **kw)
    starts = sample_latent(N_IMAGES * R, 100, torch.Generator().manual_seed(seed))
    starts = starts.view(N_IMAGES, R, 100)
    single = [recover(G, y, z_init=starts[:, k], **kw) for k in range(R)]
    losses = torch.stack([s.loss for s in single], 1)           # (N, R)
    best = losses.argmin(1)
    assert losses.std(1).min() > 0                              # the starts do differ
    # multi refines 16 rows at once, the single runs 4: other kernels, other rounding. Each
    # image's best start ends >= 1% below its next (4% to 21% here), far beyond the ~1e-5
    # relative by which rounding can move a loss, so rounding cannot change the winner.
    ranked = losses.sort(1).values
    assert (ranked[:, 1] > ranked[:, 0] * 1.01).all(), ranked
    # Adam, 30 steps of lr <= 0.05: gradient rounding (~2e-6 relative) shifts each step by
    # ~lr * 3e-6 = 1.5e-7, <= 4.5e-6 in all, under 1e-5 for z; the loss moves by
    # |grad| |dz| + its own rounding ~1e-6 relative, far under 1e-4.
    assert torch.allclose(multi.loss, losses.min(1).values, rtol=1e-4, atol=1e-7)
    assert (multi.loss <= losses.min(1).values * (1 + 1e-4) + 1e-7).all()
    z_best = torch.stack([single[k].z[i] for i, k in enumerate(best.tolist())])
    assert torch.allclose(multi.z, z_best, rtol=0, atol=1e-5)
    # Image 0's first start is the start restarts=1 uses too (image-major draws). Exact:
    # both runs refine 4 rows with row 0 from the same start, the same arithmetic.
    one = recover(G, y, restarts=1, seed=seed, **kw)
    assert torch.equal(one.z[0], single[0].z[0])
    assert multi.loss[0] <= one.loss[0] * (1 + 1e-4) + 1e-7     # 16 rows against 4, as above


def test_recover_gray_25x25_through_operator(G, z_true):
    op = Grayscale().then(Resize(25))
    with torch.no_grad():
        y_gray = op(G(z_true))
    assert y_gray.shape == (N_IMAGES, 1, 25, 25)
    # Constant step size: the numbers below were measured with it (a cosine decay over
    # only 80 steps gets less far: 3.6x on average).
    r = recover(G, y_gray, strategy="project", optimizer="adam", steps=80, lr=0.05, seed=0,
                device=CPU, schedule="constant")
    assert r.images.shape == (N_IMAGES, 3, 64, 64)
    assert r.operator == "Grayscale() -> Resize(25)"
    # Measured: every image's loss falls 4x to 20x in 80 steps (6.5x on average).
    assert (r.loss < r.history[0] / 2).all(), (r.history[0], r.loss)
    assert r.loss.mean() < r.history[0].mean() / 4
    # The reported loss is the loss in observation space. It came from the folded G, fit
    # from the plain one: images off by d <= ~1e-6 per pixel change a mean square of
    # residuals r by 2 mean(r d), ~2 rms(r) rms(d) / sqrt(625) for uncorrelated d, i.e.
    # 2e-6 / (sqrt(loss) * 25) ~ 2e-5 relative at the smallest loss here (1.4e-5): 1e-4.
    fit = (op(G(r.z)) - y_gray).pow(2).flatten(1).mean(1).detach()
    assert torch.allclose(r.loss, fit, rtol=1e-4, atol=1e-8)


class _Untouchable(torch.nn.Module):
    """A generator that fails the test if recover does any work with it."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.config = DCGANConfig(ngf=8, ndf=8)

    def forward(self, z):  # pragma: no cover - must not run
        raise AssertionError("recover ran the generator before checking its arguments")

    def train(self, mode=True):
        if not mode:
            raise AssertionError("recover switched modes before checking its arguments")
        return super().train(mode)


@pytest.mark.parametrize("kwargs, match", [
    (dict(strategy="clip"), "strategy='clip'"),
    (dict(steps=0), "steps=0"),
    (dict(lr=0.0), "lr=0.0"),
    (dict(lr=-0.1), "lr=-0.1"),
    (dict(lr=float("nan")), "lr=nan"),
    (dict(restarts=0), "restarts=0"),
    (dict(optimizer="newton"), "optimizer='newton'"),
    (dict(tol=-1.0), "tol=-1.0"),
])
def test_bad_arguments_raise_before_any_work(kwargs, match):
    gen = _Untouchable()
    with pytest.raises(ValueError, match=match):
        recover(gen, torch.zeros(2, 3, 64, 64), device=CPU, **kwargs)
    with pytest.raises(ValueError, match="expected \\(N, C, H, W\\)"):
        recover(gen, torch.zeros(3, 64, 64), device=CPU)
    assert gen.training


def test_z_init_of_wrong_shape_raises(G, y):
    with pytest.raises(ValueError, match="z_init"):
        recover(G, y, z_init=torch.zeros(N_IMAGES, 99), device=CPU)
    with pytest.raises(ValueError, match="z_init"):
        recover(G, y, z_init=torch.zeros(N_IMAGES + 1, 100), device=CPU)


def test_z_init_is_the_first_of_several_starts(G, y):
    """With restarts, the given start is each image's first start and the others are the
    seed's random draws: the result is the better of the given start's run and theirs."""
    kw = dict(strategy="project", steps=30, lr=0.05, device=CPU, seed=5)
    z0 = torch.zeros(N_IMAGES, 100)
    given = recover(G, y, z_init=z0, **kw)
    both = recover(G, y, z_init=z0, restarts=3, **kw)
    # 12 rows against 4 (other kernels): 1e-5 relative covers their rounding of a loss
    # (~1e-6), 1e-8 the loss's rounding floor (IMAGE_ATOL^2 = 1e-10).
    assert (both.loss <= given.loss * (1 + 1e-5) + 1e-8).all()
    assert both.settings["init"] == "given" and given.settings["init"] == "given"


# --------------------------------------------------------------------------- issue 7
def test_auto_device_follows_the_generator(G, y, monkeypatch):
    """device="auto" runs where the generator is, even when a GPU is present, and never
    moves it; an explicit other device is refused with a sentence saying what to do."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    r = recover(G, y, steps=3, seed=0)                  # default device="auto"
    assert r.device == "cpu"
    assert next(G.parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match="generator is on cpu but device='cuda'"):
        recover(G, y, steps=3, device="cuda")


def test_recover_leaves_the_generator_as_it_was(G, y):
    """The CPU loop lends the weights to the convolutions in channels-last layout; the
    generator gets its own tensors back, values and layout unchanged."""
    before = {k: (v.data_ptr(), v.stride(), v.clone()) for k, v in G.state_dict().items()}
    recover(G, y, steps=3, seed=0, device=CPU)
    after = G.state_dict()
    for k, (ptr, stride, val) in before.items():
        assert after[k].data_ptr() == ptr and after[k].stride() == stride, k
        assert torch.equal(after[k], val), k
    r = recover(G, y, steps=3, seed=0, device=CPU)
    assert r.images.is_contiguous()


class _Plain(torch.nn.Module):
    """The generator behind a plain module, so recover() runs its layers as they are."""

    def __init__(self, G):
        super().__init__()
        self.G, self.config = G, G.config
        self.train(G.training)   # recover() restores this mode, and with it G's

    def forward(self, z):
        return self.G(z)


def test_folded_batch_norm_does_not_change_the_recovery(G, y):
    """recover() runs lvrlib's generator with batch norms folded into the convolutions;
    a plain module runs its layers as they are. Same function, same steps."""
    g = torch.Generator().manual_seed(3)
    for m in G.modules():            # non-trivial statistics, restored afterwards
        if isinstance(m, torch.nn.BatchNorm2d):
            saved = (m.running_mean.clone(), m.running_var.clone())
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m._saved = saved
    try:
        # Adam: L-BFGS's accept/undo decisions would turn rounding into different paths.
        a = recover(G, y, optimizer="adam", steps=20, seed=0, device=CPU, init="random")
        b = recover(_Plain(G), y, optimizer="adam", steps=20, seed=0, device=CPU,
                    init="random")
    finally:
        for m in G.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(m._saved[0])
                m.running_var.copy_(m._saved[1])
                del m._saved
    # The fold rounds each weight once (w gamma / sqrt(var + eps)) and the two networks sum
    # in other orders: images ~1e-6 apart, gradients ~2e-6 relative (conftest). Adam from a
    # random start moves z by up to 1 in these 20 steps and carries such perturbations
    # over as a few 1e-6 in z (images perturbed by 1e-6 move its result by 1.6e-6): 1e-3
    # is far above that, and a wrong fold (the running mean ignored moves pixels by
    # 1.5e-2) sends Adam elsewhere. The losses (0.05 to 0.09) move by |grad| |dz| plus
    # ~1e-6 relative rounding, ~1e-7: 1e-5 is 100x that.
    assert (a.z - b.z).abs().max() < 1e-3
    assert (a.loss - b.loss).abs().max() < 1e-5 * (1 + b.loss.abs().max())
    assert not G.training


def test_lr_schedules():
    assert lr_schedule(0.1, 4, "constant") == [0.1] * 4
    cos = lr_schedule(0.1, 100, "cosine")
    assert cos[0] == pytest.approx(0.1) and cos[50] == pytest.approx(0.05)
    assert cos[-1] < 1e-4 and all(a > b for a, b in zip(cos, cos[1:]))
    step = lr_schedule(1.0, 8, "step")
    assert step == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01])
    with pytest.raises(ValueError, match="schedule='linear'"):
        lr_schedule(0.1, 4, "linear")


@pytest.mark.parametrize("kwargs, match", [
    (dict(schedule="linear"), "schedule='linear'"),
    (dict(steps=10, snapshots=(5, 11)), "snapshots"),
    (dict(snapshots=(0,)), "snapshots"),
])
def test_bad_schedule_or_snapshots_raise_before_any_work(kwargs, match):
    gen = _Untouchable()
    with pytest.raises(ValueError, match=match):
        recover(gen, torch.zeros(2, 3, 64, 64), device=CPU, **kwargs)
    assert gen.training


def test_snapshots_equal_shorter_runs(G, y):
    """With a constant step size the first k steps do not depend on how many follow, so a
    snapshot after k steps is the result of a k-step run, restart choice included."""
    kw = dict(strategy="stochastic", optimizer="sgd", lr=1.0, schedule="constant", restarts=2,
              seed=1, device=CPU)
    long = recover(G, y, steps=30, snapshots=(10, 30), **kw)
    short = recover(G, y, steps=10, **kw)
    # Exact: gradient descent runs every step (no stopping rule), so both runs refine the
    # same 8 rows with the same kernels; the first 10 steps are the same arithmetic.
    assert torch.equal(long.snapshots[10], short.z)
    assert torch.equal(long.snapshots[30], long.z)
    assert set(long.snapshot_seconds) == {10, 30}
    assert 0 < long.snapshot_seconds[10] <= long.snapshot_seconds[30] <= long.seconds

