"""What the benchmarks (``benchmarks/*.py``) and the Performance chapter share: the
thresholds and goals, the ways of running LVR they measure (values of ``LVRSettings``,
each with an ``id``: the ``setting`` column of their CSV files), where their runs are
found, and the reading and summing up of their CSV files.

Nothing here computes a cached number (the benchmarks measure; the chapter reads what
they wrote), so this module is presentation code for the result cache.

The ids are the names in the CSV files recorded with the repository (``book/data/``) and
the ones ``lvrlib.paper.regime`` looks up: changing one orphans those rows.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from .methods import label as method_label
from .records import OWN_RESULTS, RECORDED, recorded_run
from .settings import (DEFAULTS, ENCODER_STEPS,
                       PAPER_OPTIMISER, LVRSettings)

__all__ = [
    "WITHIN_DB", "CONVERGED_DB", "GOAL_SHARE", "GOAL_OF_BM3D", "GOAL_EFFICIENCY",
    "GOAL_RANDOM_OF_BM3D", "SPEED_SIGMAS", "CURVE_STEPS", "SPEED_FILES", "OURS", "REFERENCE",
    "STUDY_REFERENCE", "published_settings", "reference_setting", "label", "study_settings",
    "CONVERGE_DEFAULT", "LOOSER_STOPS", "REAL_WITHIN_LOSS", "REAL_DEFAULT", "REAL_RUN", "real_candidates", "real_run", "real_summary", "RANDOM_START", "CELL_RUNS", "converge_cells", "time_by_machine", "wins_over_bm3d", "NOT_FOLDED", "ENCODER_ALONE", "OLD_DEFAULT", "RANDOM_ADAM", "RETIRED", "ORACLE", "ORACLE_NAME", "BM3D_NAME", "default_candidate", "converge_steps",
    "converge_candidates", "find_run", "find_study", "read_run", "read_facts", "write_csv", "add_run_options",
    "write_facts", "summary_value", "study_gaps", "best_single_start", "study_facts",
]

# --------------------------------------------------------------------------- thresholds
#: lvr_converge: an image is "within" when its PSNR is at most this below its oracle's (dB).
WITHIN_DB = 0.1
#: lvr_speed: a random-start curve has converged when its mean PSNR is within this of the
#: long reference run's (dB).
CONVERGED_DB = 0.1
#: The convergence issue's goals: the share of images within WITHIN_DB, the seconds per
#: image against BM3D's on the same images, and the share of the fp32 matrix-product
#: ceiling that the generator's passes reach.
GOAL_SHARE = 0.9
GOAL_OF_BM3D = 0.25
GOAL_EFFICIENCY = 0.75
#: lvr_speed's goal for random starts: seconds per image at most this of BM3D's (sigma >= 50).
GOAL_RANDOM_OF_BM3D = 0.5

# --------------------------------------------------------------------------- lvr_speed
SPEED_SIGMAS = (25, 50, 75)
CURVE_STEPS = (25, 50, 100, 200, 400, 1000, 2500, 5000)
#: The CSV files (without .csv) of a run of ``benchmarks/lvr_speed.py``.
SPEED_FILES = ("machine", "flops", "ceiling", "throughput", "quality", "quality_curve", "bm3d",
               "summary")
OURS, REFERENCE = "ours", "reference"
STUDY_REFERENCE = "ref-cosine-0.05"

# lvr_speed runs every setting with projected gradient, from a random start, with Adam
# unless said otherwise. (Its runs recorded before lvrlib refused stochastic clipping
# under Adam, book/data/lvr_speed_cpu and lvr_study_h200, used stochastic clipping.)
_RANDOM = LVRSettings(strategy="project", init="random", schedule="constant",
                      optimizer="adam", restarts=1)
#: lvrlib's Adam from a random start (recover()'s random-start default before L-BFGS).
RANDOM_ADAM = DEFAULTS[("random", "adam")]

_LABELS = {
    OURS: f"lvrlib's Adam from a random start: lr {RANDOM_ADAM['lr']}, "
          f"{RANDOM_ADAM['schedule']} schedule, {RANDOM_ADAM['steps']} steps",
    "lipton-tripathi": "Lipton & Tripathi: plain gradient descent, lr 1.0 on the batch-summed "
                       "mean loss (80 000 steps in their code; here truncated)",
    "csgm": "CSGM: Adam lr 0.1, 10 restarts x 500 steps",
    "deepinv": "deepinv: Adam lr 1e-2, up to 2500 steps, relative tolerance 1e-4",
}


def _scaled(steps: int, scale: float, least: int = 2) -> int:
    return max(int(round(steps * scale)), least)


def published_settings(scale: float = 1.0) -> list[LVRSettings]:
    """lvrlib's random-start setting ("ours") and the published ones, as lvr_speed runs
    them; ``scale`` shortens the step counts (``--quick``)."""
    return [
        _RANDOM.replace(id=OURS, lr=RANDOM_ADAM["lr"], schedule=RANDOM_ADAM["schedule"],
                        steps=_scaled(RANDOM_ADAM["steps"], scale)),
        PAPER_OPTIMISER.replace(id="lipton-tripathi", strategy="stochastic",
                                steps=_scaled(1000, scale)),
        _RANDOM.replace(id="csgm", lr=0.1, steps=_scaled(500, scale), restarts=10),
        _RANDOM.replace(id="deepinv", lr=0.01, steps=_scaled(2500, scale), tol=1e-4),
    ]


def reference_setting(scale: float = 1.0) -> LVRSettings:
    """The long run the random-start curves are measured against."""
    return _RANDOM.replace(id=REFERENCE, lr=0.05, schedule="cosine",
                           steps=_scaled(5000, scale, least=4))


def label(settings: LVRSettings) -> str:
    """A setting of lvr_speed in words (the published ones as their papers and code run)."""
    if settings.id in _LABELS:
        return _LABELS[settings.id]
    if settings.id == REFERENCE:
        return (f"reference: Adam lr {settings.lr:g}, {settings.schedule} schedule, "
                f"{settings.steps} steps")
    return settings.id


def study_settings(steps: int, long: int) -> tuple[list[LVRSettings], list[LVRSettings]]:
    """The sweep behind recover()'s random-start defaults (``lvr_speed.py --study``):
    candidates run for ``steps`` steps, and long references run for ``long``."""
    adam = _RANDOM.replace(steps=steps)
    cands = [adam.replace(id=f"adam-{lr}", lr=lr) for lr in (0.01, 0.03, 0.05, 0.1)]
    cands += [adam.replace(id=f"adam-{sch}-{lr}", lr=lr, schedule=sch)
              for sch, lr in (("cosine", 0.05), ("cosine", 0.1), ("cosine", 0.2), ("step", 0.1))]
    cands += [adam.replace(id="sgd-1.0", optimizer="sgd", lr=1.0)]
    cands += [adam.replace(id="adam-0.05-tol", lr=0.05, tol=1e-3)]
    ref = _RANDOM.replace(steps=long)
    refs = [ref.replace(id=STUDY_REFERENCE, lr=0.05, schedule="cosine"),
            ref.replace(id="ref-const-0.01", lr=0.01),
            ref.replace(id="ref-sgd-1.0", optimizer="sgd", lr=1.0)]
    return cands, refs


# --------------------------------------------------------------------------- lvr_converge
CONVERGE_DEFAULT = "recover() default: encoder, whitened L-BFGS to convergence"
ORACLE_NAME = "oracle (start z*)"
BM3D_NAME = method_label("bm3d")   # the row of BM3D at the true sigma: its registry label
# Candidates that are not one recover() call: the script runs them its own way.
NOT_FOLDED = f"{CONVERGE_DEFAULT}, batch norm not folded"
ENCODER_ALONE = "encoder alone"
#: The previous default (before per-image convergence): 50 whitened Adam steps.
OLD_DEFAULT = LVRSettings(optimizer="adam", steps=50, lr=0.1, schedule="constant",
                          id="old default: encoder, whitened Adam 50")
#: The reference: from the true latent, projected and whitened Adam with a cosine decay
#: of its step size, until the loss stops falling (lvr_converge's --oracle-steps; the
#: script prints the fall of the mean loss over the second half).
ORACLE = LVRSettings(strategy="project", optimizer="adam", steps=1500, lr=0.03,
                     schedule="cosine", precondition=True, tol=None, id=ORACLE_NAME)


def default_candidate(strategy: str = "project") -> str:
    """The id of lvr_converge's candidate that runs recover()'s default with the box
    treatment ``strategy`` (the claims' regimes quote its row)."""
    return CONVERGE_DEFAULT if strategy == "project" else f"{CONVERGE_DEFAULT}, {strategy}"


def converge_steps(steps: int, quick: bool) -> int:
    """A candidate's step count at lvr_converge's scale (``--quick``: a fiftieth, >= 2)."""
    return max(2, steps // 50) if quick else steps


#: The looser stopping rules (relative tolerance, patience) lvr_converge measures beside
#: the default's (settings.DEFAULT_TOL over settings.DEFAULT_PATIENCE steps).
LOOSER_STOPS = ((5e-5, 5), (1e-4, 5))
#: How the row of recover()'s default from a random start begins (its starts and pruning
#: follow, so recorded runs of earlier defaults begin the same way).
RANDOM_START = "recover() default from a random start"
#: Rows of recorded convergence runs whose setting lvrlib no longer runs, and why.
RETIRED = {default_candidate("stochastic"): "stochastic clipping under L-BFGS: refused since "
           "(settings.STOCHASTIC_REFUSED); the rows recorded before 2026-12-02 (in the "
           "repository's history) show why"}


def converge_candidates(quick: bool = False, encoder: bool = True) -> list[LVRSettings]:
    """The ways of running LVR that lvr_converge measures, recover()'s default first.
    ``encoder``: the generator has an encoder (else only the random starts).
    ``precondition=True`` means whitened with the encoder's curvature."""
    s = lambda k: converge_steps(k, quick)  # noqa: E731
    default = LVRSettings(id=CONVERGE_DEFAULT, steps=s(ENCODER_STEPS) if quick else None)
    r = DEFAULTS[("random", "lbfgs")]
    random = LVRSettings(init="random", id=f"{RANDOM_START}: L-BFGS, {r['restarts']} starts, "
                         f"best kept after {r['prune_after']} steps")
    c = []
    if encoder:
        c += [default, default.replace(id=NOT_FOLDED),
              LVRSettings(id=ENCODER_ALONE, init="encoder")]
        # (stochastic clipping is refused under L-BFGS: settings.STOCHASTIC_REFUSED)
        c += [default.replace(id=default_candidate("none"), strategy="none")]
        # Looser stopping rules: what a shorter confirmation of the plateau buys in
        # seconds and costs in dB (the speed goal against the gap goal).
        c += [default.replace(id=f"{CONVERGE_DEFAULT}, stopped at a fall below {tol:g} over "
                                 f"{patience} steps", tol=tol, patience=patience)
              for tol, patience in LOOSER_STOPS]
        c += [OLD_DEFAULT.replace(steps=s(50)),
              OLD_DEFAULT.replace(id="encoder, whitened Adam 200, cosine", steps=s(200),
                                  schedule="cosine"),
              default.replace(id="encoder, L-BFGS, not whitened", precondition=False)]
    return c + [
        random.replace(steps=s(DEFAULTS[("random", "lbfgs")]["steps"]) if quick else None),
        PAPER_OPTIMISER.replace(id="paper: random, project, gradient descent 1000",
                                strategy="project", steps=s(1000)),
    ]


# --------------------------------------------------------------------------- lvr_real
#: lvr_real: an image's recovery is "within" when its final loss is at most this above the
#: best of the reference's starts (relative); the convergence issue's goal is GOAL_SHARE.
REAL_WITHIN_LOSS = 1e-3
REAL_DEFAULT = "recover() default: encoder, 1 start"
#: lvr_real's recorded run (book/data/).
REAL_RUN = "lvr_real_cpu"


def real_candidates() -> list[LVRSettings]:
    """The ways of running LVR that lvr_real measures on real faces against its
    reference: recover()'s default first, then multi-start with pruning as recover()
    runs it (the encoder's start and draws from the prior, the best kept after k steps)."""
    return [LVRSettings(id=REAL_DEFAULT),
            LVRSettings(id="4 starts, best kept after 20 steps", restarts=4, prune_after=20),
            LVRSettings(id="10 starts, best kept after 50 steps", restarts=10, prune_after=50),
            LVRSettings(id="10 starts, best kept after 200 steps", restarts=10,
                        prune_after=200)]


def real_run(folder: str | Path | None = None) -> tuple[dict, dict] | None:
    """lvr_real's run ({stem: DataFrame} of real, real_starts, real_rank, and its facts):
    ``folder``, else your own full run in benchmarks/results, else the recorded one
    (book/data/lvr_real_cpu); None when there is none."""
    stems = ("real", "real_starts", "real_rank")
    if folder is not None and not (Path(folder) / "real.csv").exists():
        folder = None
    found = recorded_run(REAL_RUN, [f"{s}.csv" for s in (*stems, "real_machine")],
                         folder=folder, machine="real_machine.csv")
    if found is None:
        return None
    return read_run(found, stems), read_facts(found / "real_machine.csv")


def real_summary(run: dict, goal: float = GOAL_SHARE) -> pd.DataFrame:
    """Per (set, sigma) of an lvr_real run: the share of images within REAL_WITHIN_LOSS
    of the reference for each candidate (columns), the fewest of the reference's starts
    run to the end whose best reaches ``goal`` of the images (NaN: none), and the share of
    images whose eventual best start already led after each step count (pruning after
    that many steps would keep it)."""
    real, starts, rank = run["real"], run["real_starts"], run["real_rank"]
    out = real[real["setting"].isin([c.id for c in real_candidates()])].pivot_table(
        index=["set", "sigma"], columns="setting", values="within_share", sort=False)
    out = out[[c.id for c in real_candidates() if c.id in out.columns]]
    reach = starts[starts["within_share"] >= goal].groupby(["set", "sigma"])["k"].min()
    out["starts run to the end for the goal"] = reach.reindex(out.index)
    lead = (rank.assign(leads=rank["rank"] == 0)
            .pivot_table(index=["set", "sigma"], columns="after_steps", values="leads"))
    for k in lead.columns:
        out[f"winner leads after {k} steps"] = lead[k].reindex(out.index)
    return out


#: lvr_converge's recorded cells, one folder per noise level (and generator):
#: book/data/lvr_converge_cells_cpu/<cell>/ (the claims' regimes read sigma<S>/).
CELL_RUNS = "lvr_converge_cells_cpu"


def converge_cells() -> pd.DataFrame:
    """Every recorded cell of lvr_converge (``CELL_RUNS``), its rows joined: one row per
    cell and setting, with the cell's folder, generator, sigma and the vector instructions
    of the CPU it ran on ("vector": seconds compare within one such class of machine;
    "not recorded" where the machine file lacks it)."""
    frames = []
    for folder in sorted((RECORDED / CELL_RUNS).glob("*/")):
        if not (folder / "converge.csv").exists():
            continue
        facts = read_facts(folder / "converge_machine.csv")
        df = pd.read_csv(folder / "converge.csv")
        df.insert(0, "cell", folder.name)
        df.insert(1, "generator", str(facts.get("generator", "shipped")) +
                  (" + encoder" if _given(facts, "encoder") else ""))
        df.insert(2, "sigma", float(facts["sigma"]))
        df.insert(3, "vector", _given(facts, "vector") or "not recorded")
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _given(facts: dict, key: str) -> str:
    """A machine file's value for ``key`` as text; "" where it is absent or blank (a blank
    CSV value reads back as NaN)."""
    value = str(facts.get(key, ""))
    return "" if value == "nan" else value


def time_by_machine(cells: pd.DataFrame, setting: str = CONVERGE_DEFAULT,
                    generator: str = "shipped", goal: float = GOAL_OF_BM3D) -> pd.DataFrame:
    """The time goal per class of machine (``converge_cells``'s "vector"): for the rows of
    ``setting`` on ``generator``, one row per vector class with the noise levels it was
    measured at, its fewest and most times faster than BM3D (1 / "x BM3D", BM3D timed in
    the same run), how many of its cells are within ``goal`` (at most that fraction of
    BM3D's time per image) and how many cells it has."""
    rows = cells[(cells["setting"] == setting) & (cells["generator"] == generator)]
    out = []
    for vector, group in rows.groupby("vector", sort=True):
        ratio = group["of_bm3d"].astype(float)
        out.append(dict(vector=vector,
                        sigmas=", ".join(f"{x:g}" for x in sorted(group["sigma"])),
                        faster_lo=float(1 / ratio.max()), faster_hi=float(1 / ratio.min()),
                        goal_met=int((ratio <= goal).sum()), cells=len(ratio)))
    return pd.DataFrame(out, columns=["vector", "sigmas", "faster_lo", "faster_hi",
                                      "goal_met", "cells"])


def wins_over_bm3d(folder: str | Path, setting: str) -> tuple[int, int] | None:
    """On how many of a recorded lvr_converge run's images ``setting`` ended above BM3D
    (PSNR against the clean image, BM3D at the true sigma), and of how many: from the
    run's converge_per_image.csv; None when the run did not record BM3D per image (runs
    before 2026-12-02) or did not run ``setting``."""
    per_image = pd.read_csv(Path(folder) / "converge_per_image.csv")
    ours = per_image[per_image["setting"] == setting].set_index("image")["psnr"]
    bm3d = per_image[per_image["setting"] == BM3D_NAME].set_index("image")["psnr"]
    if ours.empty or bm3d.empty:
        return None
    both = ours.index.intersection(bm3d.index)
    return int((ours[both] > bm3d[both]).sum()), len(both)


# --------------------------------------------------------------------------- files
def find_run(name: str, files: Iterable[str], command: str,
             folder: str | Path | None = None) -> Path:
    """The folder of a recorded run (``lvrlib.records.recorded_run``: ``folder`` when
    given, else a full run of your own in benchmarks/results, else book/data/<name>);
    FileNotFoundError naming the command that makes one when there is none."""
    files = list(files)
    try:
        found = recorded_run(name, files, folder=folder)
    except FileNotFoundError as e:   # ``folder`` lacks some of them
        raise FileNotFoundError(f"{e} Run `{command} --out {folder}` (with --quick for a "
                                "quick run) to write them there.") from e
    if found is None:
        raise FileNotFoundError(
            f"No full run of {name} ({', '.join(files)}) in benchmarks/results, nor one "
            f"recorded in book/data/{name}: run `{command}` (it writes benchmarks/results), "
            f"or `{command} --quick --out DIR` and pass DIR as results_dir.")
    return found


def read_tuning(name: str, stem: str, command: str) -> tuple[pd.DataFrame, dict]:
    """A tuning run's table and facts (``<stem>.csv``, ``<stem>_machine.csv``): your own
    in benchmarks/results (a quick one too), else the one recorded in book/data/<name>;
    FileNotFoundError naming ``command`` when there is none."""
    files = [f"{stem}.csv", f"{stem}_machine.csv"]
    found = recorded_run(name, files, allow_quick=True)
    if found is None:
        raise FileNotFoundError(f"no {files[0]} in benchmarks/results or book/data/{name}: "
                                f"run {command}")
    return pd.read_csv(found / files[0]), {**read_facts(found / files[1]), "folder": found}


def training_faces(n: int):
    """The last ``n`` images of the CelebA-sample training split: the faces the adaptive
    methods' defaults are tuned on (the book scores the test split)."""
    from .data import celeba_sample
    return celeba_sample("train", limit=899)[-n:]


def tuning_run(out: str | Path, n: int):
    """What a tuning benchmark on training faces starts from: the shipped generator (CPU),
    the last ``n`` training faces (``training_faces``) and its output folder, made."""
    from .experiments import generator_for
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return generator_for(None, "cpu"), training_faces(n), out


def find_study(folder: str | Path | None = None) -> Path | None:
    """The folder of ``lvr_speed.py --study``'s study_curves.csv: ``folder`` when it holds
    one (a speed run's folder may), else ``lvrlib.records.recorded_run``'s (your own full
    run, else book/data/lvr_study_h200); None when there is none."""
    if folder is not None and (Path(folder) / "study_curves.csv").exists():
        return Path(folder)
    return recorded_run("lvr_study_h200", ["study_curves.csv"], machine="study_machine.csv")


def read_run(folder: Path, names: Sequence[str]) -> dict[str, pd.DataFrame]:
    """{name: the run's ``name.csv``}."""
    return {n: pd.read_csv(Path(folder) / f"{n}.csv") for n in names}


def read_facts(path: str | Path) -> dict:
    """A key, value CSV file (a run's machine file) as a dict (values as read)."""
    facts = pd.read_csv(path)
    return dict(zip(facts["key"], facts["value"]))


def write_csv(path: str | Path, rows: list[dict]) -> None:
    """Rows as a CSV file, the columns in the order they first appear; a ``per_image``
    entry (an array) is left out."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{k: v for k, v in r.items() if k != "per_image"} for r in rows]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        w.writeheader()
        w.writerows(rows)


def write_facts(path: str | Path, facts: dict) -> None:
    """A run's facts (machine, scale, command) as a key, value CSV file."""
    write_csv(path, [dict(key=k, value=v) for k, v in facts.items()])


def add_run_options(parser, quick_help: str = "tiny sizes (seconds), for CI"):
    """A benchmark's --quick and --out (default benchmarks/results, where
    ``recorded_run`` looks for your own runs); returns the parser."""
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", default=str(OWN_RESULTS),
                        help="folder for the CSV files (default: benchmarks/results)")
    return parser


# --------------------------------------------------------------------------- summaries
def summary_value(summary: pd.DataFrame, prefix: str) -> float:
    """The value of the first quantity of lvr_speed's summary.csv that starts with ``prefix``."""
    return float(summary[summary["quantity"].str.startswith(prefix)]["value"].iloc[0])


def study_gaps(study: pd.DataFrame) -> pd.DataFrame:
    """study_curves.csv with a ``gap`` column: PSNR minus the reference's (STUDY_REFERENCE
    at its longest run) in the same cell (set, sigma), dB."""
    ref = study[study["setting"] == STUDY_REFERENCE]
    ref = ref[ref["steps"] == ref["steps"].max()].set_index(["set", "sigma"])["psnr"]
    return study.assign(gap=study["psnr"] - [ref[k] for k in zip(study["set"], study["sigma"])])


def best_single_start(gaps: pd.DataFrame, steps: int) -> str | None:
    """The single-start setting with the smallest mean gap on the real images after
    ``steps`` steps, and the next one, in words (None when not measured)."""
    single = gaps[~gaps["setting"].str.startswith(("ref-", "csgm"))]
    real = single[(single["set"] == "celeba-test") & (single["steps"] == steps)]
    if not len(real):
        return None
    top = real.groupby("setting")["gap"].mean().sort_values(ascending=False)
    return (f"{top.index[0]} ({top.iloc[0]:+.2f} dB; next {top.index[1]}, "
            f"{top.iloc[1]:+.2f} dB)")


def study_facts(study: pd.DataFrame) -> dict:
    """The study's settings, sigmas and reference, in words."""
    ref = study[study["setting"] == STUDY_REFERENCE]
    return dict(
        perf_study_settings=", ".join(s for s in study["setting"].unique()
                                      if not s.startswith("ref-")),
        perf_study_sigmas=", ".join(f"{v:g}" for v in sorted(study["sigma"].unique())),
        perf_study_ref=f"{STUDY_REFERENCE} ({int(ref['steps'].max())} steps)")
