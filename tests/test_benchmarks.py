"""lvrlib.benchmarking, the benchmark scripts and the recipes: the settings they measure
keep the names of the recorded runs, runs are found (or the command to make one is
named), and the scripts import against today's library."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lvrlib import benchmarking as B
from lvrlib import records
from lvrlib.settings import ENCODER_STEPS, LVRSettings
from test_shape import MAX_FUNCTION_LINES, function_lengths

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "book" / "data"
SCRIPTS = sorted([*(ROOT / "benchmarks").glob("*.py"), *(ROOT / "recipes").glob("*.py")])


def test_settings_are_named_as_in_the_recorded_runs():
    """Every row of the recorded runs is a setting of lvrlib.benchmarking, in order (a
    convergence run may measure a part of the candidates: ``--only``)."""
    conv = pd.read_csv(DATA / "lvr_converge_cpu" / "converge.csv")["setting"].tolist()
    names = [B.ORACLE_NAME, B.BM3D_NAME, *(s.id for s in B.converge_candidates())]
    assert conv[:2] == names[:2]
    # Rows of settings lvrlib no longer runs are named as retired, and no others.
    retired = [c for c in conv if c not in names]
    assert set(retired) <= set(B.RETIRED)
    kept = [c for c in conv if c in names]
    assert [names.index(c) for c in kept] == sorted(names.index(c) for c in kept)
    assert B.default_candidate() in conv
    curve = pd.read_csv(DATA / "lvr_speed_cpu" / "quality_curve.csv")["setting"].unique()
    assert list(curve) == [*(s.id for s in B.published_settings()), B.REFERENCE]
    study = pd.read_csv(DATA / "lvr_study_h200" / "study_curves.csv")["setting"].unique()
    cands, refs = B.study_settings(400, 5000)
    assert list(study) == [s.id for s in [*cands, *refs, *B.published_settings()[2:]]]


def test_settings_are_values_with_ids():
    every = [*B.published_settings(), B.reference_setting(), *B.converge_candidates(),
             *sum(B.study_settings(10, 20), [])]
    assert all(isinstance(s, LVRSettings) and s.id for s in every)
    assert len({s.id for s in B.converge_candidates()}) == len(B.converge_candidates())
    ours = B.published_settings()[0]
    assert (ours.id, ours.steps, ours.init, ours.strategy, ours.optimizer) == (
        B.OURS, B.RANDOM_ADAM["steps"], "random", "project", "adam")
    assert [s.steps for s in B.published_settings(0.02)] == [4, 20, 10, 50]
    assert B.label(B.published_settings()[2]) == "CSGM: Adam lr 0.1, 10 restarts x 500 steps"
    assert B.label(B.reference_setting(0.02)) == \
        "reference: Adam lr 0.05, cosine schedule, 100 steps"


def test_converge_candidates_scale_and_need_an_encoder():
    quick = B.converge_candidates(quick=True)
    assert all(s.steps is None or s.steps <= 20 for s in quick)
    assert quick[0].steps == B.converge_steps(ENCODER_STEPS, True) == 4
    assert B.converge_candidates()[0].steps is None
    random_only = B.converge_candidates(encoder=False)
    assert all(s.init == "random" for s in random_only) and len(random_only) == 2


def test_find_run_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "OWN_RESULTS", tmp_path / "own")
    monkeypatch.setattr(records, "RECORDED", tmp_path / "recorded")
    with pytest.raises(FileNotFoundError, match="python benchmarks/lvr_speed.py"):
        B.find_run("lvr_speed_cpu", ["machine.csv"], "python benchmarks/lvr_speed.py")
    with pytest.raises(FileNotFoundError, match="--out .*empty"):
        B.find_run("lvr_speed_cpu", ["machine.csv"], "python benchmarks/lvr_speed.py",
                   folder=tmp_path / "empty")
    assert B.find_study(tmp_path) is None
    B.write_facts(tmp_path / "own" / "machine.csv", {"quick": True, "threads": 2})
    # A quick run of your own is passed over; one given as the folder is read.
    with pytest.raises(FileNotFoundError):
        B.find_run("lvr_speed_cpu", ["machine.csv"], "python benchmarks/lvr_speed.py")
    found = B.find_run("x", ["machine.csv"], "cmd", folder=tmp_path / "own")
    assert B.read_facts(found / "machine.csv") == {"quick": "True", "threads": "2"}


def test_write_csv_takes_every_column_and_leaves_out_per_image(tmp_path):
    B.write_csv(tmp_path / "a.csv", [dict(a=1, per_image=[1, 2]), dict(a=2, b="x")])
    assert (tmp_path / "a.csv").read_text().splitlines() == ["a,b", "1,", "2,x"]


def test_study_summaries_of_the_recorded_study():
    st = B.study_gaps(pd.read_csv(DATA / "lvr_study_h200" / "study_curves.csv"))
    ref = st[(st["setting"] == B.STUDY_REFERENCE) & (st["steps"] == st["steps"].max())]
    assert (ref["gap"] == 0).all()
    assert B.best_single_start(st, 200).startswith("adam-cosine-0.1 (")
    assert B.best_single_start(st, 3) is None
    assert B.study_facts(st)["perf_study_ref"] == f"{B.STUDY_REFERENCE} (5000 steps)"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_scripts_import_against_the_library_and_stay_short(script, monkeypatch):
    """Each script's imports exist in lvrlib (nothing runs: the scripts guard main), and
    none of its functions is long."""
    spec = importlib.util.spec_from_file_location(f"_script_{script.stem}", script)
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, mod)
    spec.loader.exec_module(mod)
    assert callable(mod.main)
    long = [(n, k) for n, _, k in function_lengths(script) if k > MAX_FUNCTION_LINES]
    assert not long, long


def test_ensemble_tune_rule_picks_the_fewest_members_near_the_best_within_the_budget():
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "ensemble_tune.py"
    spec = importlib.util.spec_from_file_location("_ensemble_tune", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    row = lambda s, k, p, sec: dict(sigma=s, members=k, psnr=p, seconds_per_image=sec)  # noqa: E731
    rows = [row(50, 1, 25.0, 1), row(50, 2, 25.7, 2), row(50, 3, 25.75, 4), row(50, 4, 26.0, 9),
            row(100, 1, 23.0, 1), row(100, 2, 23.7, 2), row(100, 3, 23.85, 4), row(100, 4, 24.0, 8)]
    # 4 members is best but over the 5 s budget; of the rest, 2 is 0.15 dB below 3 at
    # sigma 100 (more than WITHIN_DB = 0.1), so 3.
    assert mod.choose(rows, 4) == 3
    rows[6]["psnr"] = 23.75                      # now 2 is within 0.05 dB of 3 everywhere
    assert mod.choose(rows, 4) == 2
    slow = [dict(r, seconds_per_image=9) for r in rows]
    assert mod.choose(slow, 4) == 1               # nothing within the budget: one member


def test_real_summary_counts_the_goal_and_the_pruning_leads():
    """Per cell: each candidate's share within, the fewest starts run to the end that
    reach the goal (NaN where none does), and the share of images whose eventual winner
    led after k steps (rank 0)."""
    ids = [c.id for c in B.real_candidates()]
    assert ids[0] == B.REAL_DEFAULT and len(set(ids)) == len(ids)
    assert B.real_candidates()[0].replace(id="") == LVRSettings()
    cells = [("olivetti", 25.0), ("olivetti", 100.0)]
    real = pd.DataFrame([dict(set=s, sigma=g, setting=i, within_share=0.1 * j + g / 1000)
                         for s, g in cells for j, i in enumerate(["reference: best", *ids])])
    starts = pd.DataFrame([dict(set=s, sigma=g, k=k, within_share=w)
                           for (s, g), ws in zip(cells, [(0.5, 0.9, 1.0), (0.2, 0.4, 0.8)])
                           for k, w in enumerate(ws, 1)])
    rank = pd.DataFrame([dict(set=s, sigma=g, after_steps=k, image=i, rank=r)
                         for s, g in cells for k in (10, 50) for i, r in enumerate((0, 3))])
    out = B.real_summary(dict(real=real, real_starts=starts, real_rank=rank))
    assert list(out.columns[:len(ids)]) == ids
    assert out.loc[("olivetti", 25.0), B.REAL_DEFAULT] == pytest.approx(0.125)
    assert out.loc[("olivetti", 25.0), "starts run to the end for the goal"] == 2
    assert np.isnan(out.loc[("olivetti", 100.0), "starts run to the end for the goal"])
    assert (out["winner leads after 50 steps"] == 0.5).all()


def test_converge_cells_join_every_recorded_cell_with_its_sigma():
    cells = B.converge_cells()
    for name, group in cells.groupby("cell"):
        facts = B.read_facts(DATA / B.CELL_RUNS / name / "converge_machine.csv")
        assert (group["sigma"] == float(facts["sigma"])).all()
        assert group["setting"].iloc[0] == B.ORACLE_NAME
    assert {25.0, 50.0, 100.0} <= set(cells[cells["generator"] == "shipped"]["sigma"])


def test_time_by_machine_splits_the_time_goal_by_vector_class():
    rows = [dict(setting=B.CONVERGE_DEFAULT, generator="shipped", sigma=s, vector=v,
                 of_bm3d=r)
            for s, v, r in ((25, "AVX512", 0.2), (50, "AVX512", 0.25), (100, "AVX512", 0.3),
                            (25, "AVX2", 0.5))]
    rows += [dict(setting=B.BM3D_NAME, generator="shipped", sigma=25, vector="AVX2",
                  of_bm3d=1.0),
             dict(setting=B.CONVERGE_DEFAULT, generator="gan-face", sigma=50,
                  vector="AVX2", of_bm3d=0.1)]
    out = B.time_by_machine(pd.DataFrame(rows), goal=0.25).set_index("vector")
    assert list(out.index) == ["AVX2", "AVX512"]
    assert out.loc["AVX512", "sigmas"] == "25, 50, 100"
    assert out.loc["AVX512", "faster_lo"] == pytest.approx(1 / 0.3)
    assert out.loc["AVX512", "faster_hi"] == pytest.approx(5.0)
    assert tuple(out.loc["AVX512", ["goal_met", "cells"]]) == (2, 3)   # 0.25 is within
    assert out.loc["AVX2", "faster_lo"] == pytest.approx(2.0)        # BM3D, gan-face left out
    assert tuple(out.loc["AVX2", ["goal_met", "cells"]]) == (0, 1)


def test_wins_over_bm3d_counts_images_above_bm3d(tmp_path):
    rows = [dict(setting=B.BM3D_NAME, image=i, psnr=p, gap_db=0.0)
            for i, p in enumerate((30.0, 31.0, 32.0))]
    rows += [dict(setting="mine", image=i, psnr=p, gap_db=0.0)
             for i, p in enumerate((30.5, 31.0, 35.0))]          # a tie is not a win
    pd.DataFrame(rows).to_csv(tmp_path / "converge_per_image.csv", index=False)
    assert B.wins_over_bm3d(tmp_path, "mine") == (2, 3)
    assert B.wins_over_bm3d(tmp_path, "not run") is None
    pd.DataFrame(rows[3:]).to_csv(tmp_path / "converge_per_image.csv", index=False)
    assert B.wins_over_bm3d(tmp_path, "mine") is None              # no BM3D rows
