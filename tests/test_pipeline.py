"""The one pipeline: recovery settings (LVRSettings), update rules, the method registry
and the recorded-run finder."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from lvrlib import methods, records
from lvrlib.dcgan import eval_mode
from lvrlib.encoder import choose_start
from lvrlib.methods import CLI_METHODS, METHODS, Context, run_method, run_methods
from lvrlib.physics import add_noise
from lvrlib.recovery import recover
from lvrlib.settings import (DEFAULT_STEPS, DEFAULT_TOL, ENCODER_STEPS, PAPER_OPTIMISER,
                             LVRSettings)
from lvrlib.sharpness import SharpnessBank
from lvrlib.updates import Adam, apply_box, update_rule
from test_recovery import tiny_generator


@pytest.fixture(scope="module")
def G():
    return tiny_generator(0)


@pytest.fixture(scope="module")
def y(G):
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        x = G((torch.rand(3, 100, generator=g) * 2 - 1) * 0.9)
    return add_noise(x, 30, torch.Generator().manual_seed(6))


# --------------------------------------------------------------------------- settings
def test_settings_are_checked_frozen_and_fill_defaults_once(G):
    s = LVRSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.steps = 3
    for bad in (dict(strategy="clip"), dict(optimizer="newton"), dict(steps=0),
                dict(lr=-1.0), dict(schedule="linear"), dict(init="zeros"), dict(tol=-1)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            LVRSettings(**bad)
    run, enc = s.resolve(G)            # no encoder for this generator: a random start
    assert enc is None and run.init == "random" and run.precondition is False
    assert (run.optimizer, run.steps, run.lr, run.schedule, run.tol) == (
        "lbfgs", DEFAULT_STEPS, 1.0, "constant", DEFAULT_TOL)
    assert (run.restarts, run.prune_after) == (8, 50)        # multi-start, pruned
    adam = s.replace(optimizer="adam").resolve(G)[0]         # Adam keeps its own defaults
    assert (adam.steps, adam.lr, adam.schedule, adam.tol, adam.restarts) == (
        200, 0.1, "cosine", None, 1)
    assert s.replace(restarts=1).resolve(G)[0].prune_after is None
    assert s.replace(steps=7).resolve(G)[0].steps == 7       # given fields are kept
    assert s.resolve(G, given_start=True)[0].init == "given"
    assert s.resolve(G, curvature=torch.eye(100))[0].precondition is True
    with pytest.raises(ValueError, match="z_init"):
        choose_start(G, "given")
    with pytest.raises(ValueError, match="curvature="):      # the old way to pass a matrix
        LVRSettings(precondition=torch.eye(3))
    with pytest.raises(ValueError, match="patience=0"):
        LVRSettings(patience=0)
    with pytest.raises(ValueError, match="whole number"):
        LVRSettings(steps=3.0)
    assert LVRSettings(steps=np.int64(3)).asdict()["steps"].__class__ is int
    with pytest.raises(ValueError, match="resolved"):
        LVRSettings().describe()


def test_whitening_with_the_identity_curvature_takes_the_plain_steps(G, y):
    """With M = I the whitening P = (M + d I)^(-1/2), scaled to a unit mean diagonal, is
    I up to the float64 eigensolver's rounding (about 1e-15, which LAPACK builds may
    spread differently over a degenerate spectrum), far below float32's resolution, so
    the whitened run takes the plain run's steps. Tolerance: a few float32 ulps of
    |z| <= 1 (1.2e-7 each) over 6 steps."""
    from lvrlib.encoder import whitening

    torch.testing.assert_close(whitening(G, None, torch.eye(100)), torch.eye(100),
                               rtol=0, atol=1e-7)
    a = recover(G, y, steps=6, seed=2, curvature=torch.eye(100))
    b = recover(G, y, steps=6, seed=2, precondition=False)
    assert a.settings["precondition"] is True and b.settings["precondition"] is False
    torch.testing.assert_close(a.z, b.z, rtol=0, atol=1e-6)
    c = recover(G, y, steps=6, seed=2, curvature=torch.diag(torch.linspace(0.1, 10, 100)))
    assert not torch.equal(c.z, b.z)


def test_recover_records_the_resolved_settings_and_takes_them_as_an_object(G, y):
    settings = LVRSettings(steps=5, strategy="none", id="mine")
    a = recover(G, y, settings, seed=1)
    b = recover(G, y, seed=1, steps=5, strategy="none", id="mine")
    assert torch.equal(a.z, b.z) and a.settings == b.settings   # exact: one run, twice
    assert a.settings == settings.resolve(G)[0].asdict()
    assert a.settings["init"] == "random" and a.settings["id"] == "mine"
    # Fields given as keywords change the object's fields, not the object.
    c = recover(G, y, settings, seed=1, steps=3)
    assert c.settings["steps"] == 3 and settings.steps == 5


def test_the_shipped_generator_resolves_to_the_encoder_start():
    from lvrlib.checkpoints import load_generator

    run, enc = LVRSettings().resolve(load_generator(None))
    assert enc is not None and run.init == "encoder" and run.precondition is True
    assert run.steps == ENCODER_STEPS and run.schedule == "constant" and run.restarts == 1
    assert run.describe() == (f"from the encoder's latent, at most {ENCODER_STEPS} whitened "
                              "L-BFGS steps at lr 1 (constant step size) until its loss falls "
                              "by less than 1e-05 (relative) in 10 steps")
    paper = PAPER_OPTIMISER.replace(steps=10).resolve(load_generator(None))[0]
    assert paper.describe() == ("from a random latent, 10 gradient descent steps at lr 1 "
                                "(constant step size)")


def test_adam_rule_takes_torch_adams_steps():
    """The per-row rule is torch.optim.Adam's arithmetic. The two round differently
    (torch fuses p - a * m / d in addcdiv), by at most a few float32 ulps of |z| per step:
    after 20 steps of size <= 0.1 on |z| <= 2 that is under 20 * 4 * 2 * 1.2e-7 = 2e-5."""
    g = torch.Generator().manual_seed(0)
    target = torch.randn(4, 6, generator=g)
    z0 = torch.randn(4, 6, generator=g)
    p = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=0.1)
    z, rule = z0.clone(), update_rule("adam", z0)
    assert isinstance(rule, Adam)
    for t in range(20):
        opt.zero_grad()
        ((p - target) ** 2).sum().backward()
        opt.step()
        step, scale = rule.step(2 * (z - target), t, 0.1)
        z = z - scale * step
    torch.testing.assert_close(z, p.detach(), rtol=0, atol=2e-5)
    assert not torch.equal(z, z0)


def test_box_treatments_by_name():
    z = torch.tensor([[-1.5, 0.3, 2.0]])
    assert torch.equal(apply_box("none", z), z)
    assert torch.equal(apply_box("project", z), torch.tensor([[-1.0, 0.3, 1.0]]))
    s = apply_box("stochastic", z, torch.Generator().manual_seed(0))
    assert s[0, 1] == 0.3 and s.abs().max() <= 1.0
    with pytest.raises(ValueError, match="strategy='clip'"):
        apply_box("clip", z)


def test_eval_mode_restores_the_mode_even_on_error(G):
    G.train()
    with pytest.raises(RuntimeError):
        with eval_mode(G):
            assert not G.training
            raise RuntimeError("boom")
    assert G.training
    G.eval()


# --------------------------------------------------------------------------- registry
def test_registry_labels_and_cli_methods():
    assert CLI_METHODS == ("lvr", "lvr-sa", "ia-lvr", "ia-lvr-ensemble", "bm3d")
    assert methods.label("lvr-project") == "LVR, projected gradient"
    assert methods.short_label("LVR-SA (true sigma)") == methods.short_label("lvr-sa") == "LVR\u2011SA"
    assert methods.label("clean") == "clean"
    assert {m.family for m in METHODS.values()} == {"input", "lvr", "lvr-sa", "adaptive",
                                                    "classical", "fusion"}
    assert all(set(m.fuses) <= set(METHODS) for m in METHODS.values())
    assert all(METHODS[m.starts_from].family == "lvr" for m in METHODS.values()
               if m.starts_from)
    with pytest.raises(ValueError, match="starts from the result of lvr"):
        run_method("lvr-sa", torch.zeros(1, 3, 64, 64), 50, Context())
    with pytest.raises(ValueError, match="method='bm4d'"):
        run_method("bm4d", torch.zeros(1, 3, 64, 64), 50, Context())


def test_run_methods_recovers_once_for_the_methods_that_start_from_lvr(G, y, monkeypatch):
    """LVR-SA and IA-LVR start from one LVR run, and get what they would get run alone."""
    import lvrlib.recovery

    calls = []
    real = lvrlib.recovery.recover
    monkeypatch.setattr(lvrlib.recovery, "recover",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    bank = SharpnessBank([25.0, 50.0], torch.full((2, 100), 0.01))
    ctx = Context(generator=G, lvr=LVRSettings(steps=4), bank=bank, seed=3, ia_steps=2)
    out = run_methods(["lvr-sa", "ia-lvr", "lvr"], y, 30.0, ctx)
    assert len(calls) == 1 and list(out) == ["lvr-sa", "ia-lvr", "lvr"]
    # Exact: the same calls on the same 3 images, so the same kernels on the same numbers.
    lvr = run_method("lvr", y, 30.0, ctx)
    assert torch.equal(out["lvr"].z, lvr.z)
    sa = run_method("lvr-sa", y, 30.0, ctx, start=lvr)
    assert torch.equal(out["lvr-sa"].images, sa.images)
    assert np.array_equal(sa.sigma_used, [30.0] * 3)
    assert out["lvr-sa"].z is out["lvr"].z and out["ia-lvr"].extra["stopped"].shape == (3,)
    # Each GAN method reports its residual against y: LVR's is its final loss.
    assert torch.equal(out["lvr"].extra["residual"], out["lvr"].loss)
    torch.testing.assert_close(out["lvr-sa"].extra["residual"],
                               (sa.images - y).pow(2).flatten(1).mean(1))
    for bad in ([30.0, None, 30.0], [30.0, 30.0], float("nan"), -5.0):
        with pytest.raises(ValueError, match="sigma"):
            run_method("lvr-sa", y, bad, ctx, start=lvr)


def test_the_sharpness_bank_is_estimated_with_the_lvr_it_corrects(monkeypatch):
    """The sharpness vectors are estimated from the recoveries of the method "lvr" that
    LVR-SA starts from: with the box treatment of the profile's LVR settings (the paper's
    regime: stochastic clipping), projected when they name none (recover()'s default)."""
    import lvrlib.experiments as ex
    from lvrlib.profiles import get_profile

    seen = []
    monkeypatch.setattr(ex, "_lvr_cell", lambda **kw: seen.append(kw) or
                        {"z": torch.zeros(kw["n"], 100)})
    assert METHODS["lvr"].strategy is None          # the settings' own
    for given, used in ((None, "project"), ("none", "none"), ("stochastic", "stochastic")):
        prof = get_profile("smoke", strategy=given, optimizer="sgd")
        seen.clear()
        ex.bank_for(prof, device="cpu")
        assert [kw["strategy"] for kw in seen] == [used] == [ex._box(prof.lvr.asdict(), None,
                                                                     "lvr")]
        assert seen[0]["lvr"]["steps"] == 8 and seen[0]["set_name"] == "generated"
        assert seen[0]["n"] == prof.sharpness_n


def test_the_bank_from_the_lvr_cells_is_sharpness_bank(monkeypatch, tmp_path):
    """bank_for reads its recoveries from the LVR cells of the generated set: the same
    images, noise and recover() call as sharpness.sharpness_bank, so the same vectors."""
    import lvrlib.experiments as ex
    from lvrlib.profiles import get_profile
    from lvrlib.sharpness import sharpness_bank

    monkeypatch.setenv("LVRLIB_RESULTS", str(tmp_path))
    monkeypatch.delenv("LVRLIB_NO_CACHE", raising=False)
    prof = get_profile("smoke")
    bank = ex.bank_for(prof, device="cpu")
    ref = sharpness_bank(ex.generator_for(None, "cpu"), [50.0], prof.sharpness_n, seed=0,
                         settings=prof.lvr.replace(strategy="project"))
    # The same recover() on the same inputs (the identity operator in the cell, none in
    # sharpness_bank: the same float32 arithmetic), then means over 4 latents: within a
    # few float32 roundings of values below 1, 1e-6.
    torch.testing.assert_close(bank.vectors, ref.vectors, atol=1e-6, rtol=0)


def test_classical_methods_take_a_sigma_per_image_or_estimate_it(y):
    ctx = Context()
    one = run_method("tv", y[:2], 30.0, ctx)
    per = run_method("tv", y[:2], [30.0, 30.0], ctx)
    # Exact: one sigma is expanded to one per image, the same float64 code then runs.
    assert torch.equal(one.images, per.images) and list(one.sigma_used) == [30.0, 30.0]
    blind = run_method("bm3d-blind", y[:1], None, ctx)
    assert blind.sigma_used.shape == (1,) and blind.sigma_used[0] > 10
    with pytest.raises(ValueError, match="needs the noise sigma"):
        run_method("nlm", y[:1], None, ctx)


# --------------------------------------------------------------------------- records
def test_recorded_run_prefers_a_full_run_of_your_own(tmp_path, monkeypatch):
    own, book = tmp_path / "results", tmp_path / "data"
    monkeypatch.setattr(records, "OWN_RESULTS", own)
    monkeypatch.setattr(records, "RECORDED", book)
    (book / "bench").mkdir(parents=True)
    (book / "bench" / "a.csv").write_text("x\n1\n")
    assert records.recorded_run("bench", ["a.csv"]) == book / "bench"
    assert records.recorded_run("bench", ["b.csv"]) is None
    own.mkdir()
    (own / "a.csv").write_text("x\n2\n")
    pd.DataFrame({"key": ["quick"], "value": ["True"]}).to_csv(own / "a_machine.csv")
    assert records.recorded_run("bench", ["a.csv"]) == book / "bench"     # quick: passed over
    assert records.recorded_run("bench", ["a.csv"], allow_quick=True) == own
    # A quick run of another benchmark in the same folder hides nothing of this one's.
    (own / "b.csv").write_text("x\n3\n")
    pd.DataFrame({"key": ["quick"], "value": ["False"]}).to_csv(own / "b_machine.csv")
    assert records.recorded_run("bench", ["b.csv", "b_machine.csv"]) == own
    # A run whose machine file is named apart: only that file says whether it is quick.
    assert records.recorded_run("bench", ["b.csv"], machine="b_machine.csv") == own
    assert records.recorded_run("bench", ["a.csv"], machine="a_machine.csv") == book / "bench"
    (own / "a_machine.csv").unlink()
    assert records.recorded_run("bench", ["a.csv"]) == own
    assert records.recorded_run("bench", ["a.csv"], own=False) == book / "bench"
    with pytest.raises(FileNotFoundError, match="c.csv"):
        records.recorded_run("bench", ["c.csv"], folder=own)


def test_a_claims_regime_quotes_the_benchmark_only_for_recovers_defaults():
    """The recorded gap is lvrlib's default's; a profile that changes any other field of
    the LVR settings (the optimiser, the whitening, ...) is said to be unmeasured."""
    from lvrlib.paper import regime
    from lvrlib.profiles import get_profile

    assert "gap to the projection started at the true latent" in regime(
        get_profile("sample"), device="cpu")
    for change in (dict(optimizer="sgd"), dict(precondition=False), dict(steps=8)):
        assert "not measured at these settings" in regime(get_profile("sample", **change),
                                                          device="cpu")


def test_a_claims_regime_quotes_the_gap_of_each_cell_it_pools(tmp_path, monkeypatch):
    """The regime of a claim quotes the recorded gap at each noise level it pools, and
    names the levels the benchmark did not measure; a run recorded for another sigma than
    its folder says is not used."""
    from lvrlib.benchmarking import BM3D_NAME, ORACLE_NAME, default_candidate
    from lvrlib.paper import CELL_RUNS, regime
    from lvrlib.profiles import get_profile

    monkeypatch.setattr(records, "RECORDED", tmp_path)
    monkeypatch.setattr(records, "OWN_RESULTS", tmp_path / "none")
    for sigma, gap, recorded_as in ((25, 0.17, 25), (100, 0.07, 100), (75, 9.0, 50)):
        folder = tmp_path / CELL_RUNS / f"sigma{sigma}"
        folder.mkdir(parents=True)
        pd.DataFrame({"setting": [ORACLE_NAME, BM3D_NAME, default_candidate()],
                      "gap_db": [0.0, 5.0, gap], "within_share": [1.0, 0.0, 0.5]}).to_csv(
            folder / "converge.csv", index=False)
        pd.DataFrame({"key": ["sigma"], "value": [recorded_as]}).to_csv(
            folder / "converge_machine.csv", index=False)
    text = regime(get_profile("sample"), device="cpu", sigmas=(100, 25, 75, 50))
    assert "sigma 25: project +0.17 dB (50% of images within 0.1 dB)" in text
    assert "sigma 100: project +0.07 dB" in text
    assert text.index("sigma 25:") < text.index("sigma 100:")
    assert text.endswith("not measured at sigma 50, 75") and "+9.00" not in text


def test_a_claim_on_real_faces_quotes_the_real_face_benchmark(tmp_path, monkeypatch):
    """A claim that pools real-face cells quotes, beside the generated-image gap, how
    often the real-face benchmark found recover()'s default within 0.1% of its reference
    (default rows only, per cell it measured), and names the cells it did not measure;
    a claim on generated images only, or a profile off the default, quotes none of it."""
    from types import SimpleNamespace

    from lvrlib.benchmarking import (BM3D_NAME, CELL_RUNS, ORACLE_NAME, REAL_DEFAULT, REAL_RUN,
                                     default_candidate)
    from lvrlib.paper import convergence_gap
    from lvrlib.profiles import get_profile

    monkeypatch.setattr(records, "RECORDED", tmp_path)
    monkeypatch.setattr(records, "OWN_RESULTS", tmp_path / "none")
    folder = tmp_path / CELL_RUNS / "sigma100"
    folder.mkdir(parents=True)
    pd.DataFrame({"setting": [ORACLE_NAME, BM3D_NAME, default_candidate()],
                  "gap_db": [0.0, 5.0, 0.07], "within_share": [1.0, 0.0, 0.5]}).to_csv(
        folder / "converge.csv", index=False)
    pd.DataFrame({"key": ["sigma"], "value": [100]}).to_csv(
        folder / "converge_machine.csv", index=False)
    real = tmp_path / REAL_RUN
    real.mkdir()
    pd.DataFrame({"set": ["olivetti", "olivetti", "celeba-test"],
                  "sigma": [100.0, 100.0, 25.0],
                  "setting": [REAL_DEFAULT, "10 starts, best kept after 50 steps", REAL_DEFAULT],
                  "within_share": [0.25, 0.75, 0.5]}).to_csv(real / "real.csv", index=False)
    pd.DataFrame({"key": ["starts", "images", "quick"], "value": [10, 8, False]}).to_csv(
        real / "real_machine.csv", index=False)
    for stem, cols in (("real_starts", "set,sigma,k,within_share"),
                       ("real_rank", "set,sigma,after_steps,image,rank")):
        (real / f"{stem}.csv").write_text(cols + "\n")   # a run writes them beside real.csv

    def cell(name):
        s = SimpleNamespace(set_name=name, sigma=100.0)
        return {"lvr": s, "bm3d": s}
    text = convergence_gap(get_profile("sample"), [cell("olivetti"), cell("lfw-subset")],
                           ("lvr", "bm3d"), device="cpu")
    assert text.startswith("gap to the projection started at the true latent (generated "
                           "images, Performance chapter): sigma 100: project +0.07 dB")
    assert "within 0.1% of the best of 10 starts run to their plateaus on Olivetti sigma " \
           "100 25% of images (8 per cell); not measured: LFW subset sigma 100" in text
    gen = convergence_gap(get_profile("sample"), [cell("generated")], ("lvr", "bm3d"), "cpu")
    assert gen.endswith("sigma 100: project +0.07 dB (50% of images within 0.1 dB)")
    off = convergence_gap(get_profile("sample", steps=8), [cell("olivetti")], ("lvr", "bm3d"),
                          "cpu")
    assert "real faces" not in off


def _quadratic(z, target, scales):
    d = z - target
    return 0.5 * (scales * d * d).sum(1), scales * d


def test_lbfgs_rule_solves_an_ill_conditioned_quadratic_per_row():
    """On f(z) = sum_i a_i (z_i - t_i)^2 / 2 with a spread over two orders of magnitude,
    the L-BFGS rule reaches the minimiser to 1e-4 in 40 evaluations, where Adam at its
    default step size is still far; each row's path is the same alone and in a batch."""
    from lvrlib.updates import LBFGS

    g = torch.Generator().manual_seed(0)
    target = torch.randn(3, 6, generator=g)
    scales = torch.logspace(0, 2, 6).expand(3, 6)

    def run(name, rows, lr):
        z = torch.zeros(len(rows), 6)
        rule = update_rule(name, z)
        for t in range(40):
            loss, grad = _quadratic(z, target[rows], scales[rows])
            z, _ = rule.update(z, grad, loss, t, lr, torch.ones(len(rows), 1))
        return rule.current(z)

    z = run("lbfgs", [0, 1, 2], 1.0)
    assert (z - target).abs().max() < 1e-4
    assert (run("adam", [0, 1, 2], 0.1) - target).abs().max() > 1e-2
    # Alone or in a batch of 3, the row sees the same arithmetic, except that the sums over
    # its 6 components may be vectorised differently for another batch shape (a few ulps
    # per step; the rule's contraction keeps them from growing): 1e-6 of |z| <= 3.
    torch.testing.assert_close(run("lbfgs", [1], 1.0), z[1:2], rtol=0, atol=1e-6)
    assert isinstance(update_rule("lbfgs", z), LBFGS)


def test_lbfgs_undoes_a_step_that_raised_the_loss():
    """A step whose loss is higher than the kept one is undone: the rule stays at the kept
    latents, records the kept loss, and its next step is shorter."""
    z0 = torch.zeros(1, 4)
    rule = update_rule("lbfgs", z0)
    one = torch.ones(1, 1)
    z1, rec = rule.update(z0, torch.ones(1, 4), torch.tensor([1.0]), 0, 1.0, one)
    assert rec.item() == 1.0 and not torch.equal(z1, z0)
    first = (z1 - z0).norm()
    z2, rec = rule.update(z1, torch.ones(1, 4), torch.tensor([5.0]), 1, 1.0, one)
    assert torch.equal(rule.current(z2), z0) and rec.item() == 1.0
    assert 0 < (z2 - z0).norm() <= 0.5 * first
