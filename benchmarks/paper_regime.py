"""Table 1 in the paper's regime: the three box treatments under the paper's optimiser.

The paper's regime (``lvrlib.settings.PAPER_REGIME``): plain gradient descent at step size
1 on each image's mean squared error, from a random start (a draw from the prior), until
the image's lowest loss fell by less than ``PAPER_TOL`` (relative) over
``PAPER_PATIENCE`` steps, within ``--steps`` steps; with no clipping, projected gradient
and stochastic clipping. The images are the book's Table 1 images (the first ``--n`` of
its noisy generated set, seed 0) at each ``--sigmas``; each image starts from the latent
the book's Table 1 would draw for it. For speed, every noise level runs in one batch
per box treatment (about 6 ms per image and step on a 2-core CPU at batch 48, against
about 12 at batch 8): an image's steps do not depend on its batch, but stochastic
clipping's redraws do (they are drawn for the whole batch), so a redraw sequence is not
the one ``evaluate`` would draw.

    python benchmarks/paper_regime.py [--n 16] [--sigmas 0,25,50] [--steps 3000]
        [--quick] [--out DIR]

``--tables 2,3`` runs Tables 2 and 3 in the paper's regime instead, through the book's own
pipeline (``evaluate`` with ``lvrlib.paper.paper_profile`` of the sample profile, ``--n``
images per set): LVR with stochastic clipping, LVR-SA with sharpness vectors estimated
from the paper's recoveries of ``--n`` generated images at each of ``--sigmas``, blind
LVR-SA and BM3D (true and blind), on the real sets and a fresh generated set, the cells
in that order, each written as soon as it is done (tables23_per_image.csv; its machine
file tables23_machine.csv lists the cells done).

Writes to --out (default benchmarks/results/): table1_per_image.csv (one row per image
and box treatment: PSNR, SSIM, latent error, final loss, steps, whether the stopping rule
ended it, the relative fall of its lowest loss over the last 20% of its steps),
table1_curve.csv (mean PSNR and loss of each cell after about 12 step counts) and
paper_regime_machine.csv (the run's facts). A run killed part-way keeps the box
treatments it finished (and says so); run it again to do the rest.
"""
from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lvrlib.benchmarking import add_run_options, write_csv, write_facts
from lvrlib.dcgan import latent_shape, sample_latent
from lvrlib.experiments import generator_for, noisy_set
from lvrlib.metrics import psnr, ssim
from lvrlib.recovery import recover
from lvrlib.settings import PAPER_PATIENCE, PAPER_REGIME, PAPER_STEPS, PAPER_TOL, STRATEGIES  # noqa: F401

SEED = 0          # the book's Table 1 set (evaluate's seed); recover's seed is SEED + 2
FILES = ("table1_per_image.csv", "table1_curve.csv", "paper_regime_machine.csv")


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16, help="images per noise level")
    ap.add_argument("--sigmas", default="0,25,50", help="noise levels (0..255 units)")
    ap.add_argument("--steps", type=int, default=PAPER_STEPS, help="most steps per image")
    ap.add_argument("--only", default=None,
                    help="rerun these box treatments (comma-separated) and keep the others "
                         "of the run in --out")
    ap.add_argument("--tables", default="1", choices=("1", "2,3"),
                    help="Table 1 (default), or Tables 2 and 3")
    return add_run_options(ap).parse_args(argv)


#: What ``--tables 2,3`` writes, and the methods it scores per image.
T23_FILES = ("tables23_per_image.csv", "tables23_machine.csv")
T23_METHODS = ("lvr", "lvr-sa", "lvr-sa-blind", "bm3d", "bm3d-blind")


def tables23(a, out: Path, say) -> None:
    """Tables 2 and 3 in the paper's regime, cell by cell through ``evaluate``."""
    from lvrlib.experiments import evaluate
    from lvrlib.paper import paper_profile
    from lvrlib.profiles import get_profile

    n, steps = (2, 6) if a.quick else (a.n, a.steps)
    sigmas = [float(s) for s in a.sigmas.split(",")]
    base = get_profile("sample", paper_n=n, paper_steps=steps, n_celeba=n, n_unseen=n,
                       sharpness_sigmas=tuple(sigmas))
    pp = paper_profile(base)
    sets = ["celeba-test", *base.unseen, "generated-fresh"]
    rows, done, started = [], [], time.perf_counter()
    for name in sets:
        for sigma in sigmas:
            t0 = time.perf_counter()
            say(f"{name} at sigma {sigma:g}: {n} images")
            r = evaluate(name, sigma, T23_METHODS, pp, n=n, device="cpu")
            for m in T23_METHODS:
                for i in range(n):
                    rows.append(dict(set=name, sigma=sigma, method=m, image=i,
                                     psnr=r[m].psnr[i], ssim=r[m].ssim[i]))
            done.append(f"{name}@{sigma:g}")
            say(f"  {time.perf_counter() - t0:.0f} s: " + ", ".join(
                f"{m} {r[m].psnr.mean():.2f}" for m in T23_METHODS))
            write_csv(out / T23_FILES[0], rows)
            write_facts(out / T23_FILES[1], dict(
                images_per_cell=n, sigmas=",".join(f"{v:g}" for v in sigmas),
                sharpness_images=pp.sharpness_n, max_steps=steps, tol=PAPER_TOL,
                patience=PAPER_PATIENCE, lr=PAPER_REGIME.lr, lvr=pp.lvr.id,
                cells_done=";".join(done), complete=len(done) == len(sets) * len(sigmas),
                quick=a.quick, threads=torch.get_num_threads(),
                total_seconds=round(time.perf_counter() - started, 1),
                torch=torch.__version__, command="python benchmarks/paper_regime.py " + " ".join(
                    a.argv)))
    say(f"wrote {out / T23_FILES[0]}")


def images(G, sigmas, n):
    """Clean and noisy images, true latents and the starts evaluate would draw, per sigma,
    stacked in the order of ``sigmas``."""
    nz, _ = latent_shape(G)
    xs, ys, zs, starts = [], [], [], []
    for s in sigmas:
        x, y, z = noisy_set("generated", s, n, SEED)
        xs.append(x), ys.append(y), zs.append(z)
        # recover(seed=SEED + 2) draws an image's starts like this (lvrlib.recovery._starts)
        starts.append(sample_latent(n, nz, torch.Generator().manual_seed(SEED + 2), "cpu",
                                    "uniform"))
    return torch.cat(xs), torch.cat(ys), torch.cat(zs), torch.cat(starts)


def _kept(out: Path, redo, commands):
    """The rows, curve points, seconds and commands of an earlier run in ``out`` for the
    box treatments not in ``redo`` (``--only``); rows without a rule of their own get the
    one that earlier run recorded."""
    from lvrlib.benchmarking import read_facts

    facts = read_facts(out / FILES[2])
    per = pd.read_csv(out / FILES[0])
    if "tol" not in per:
        per = per.assign(tol=float(facts["tol"]), patience=int(facts["patience"]))
    rows = per[~per["strategy"].isin(redo)].to_dict("records")
    curve = pd.read_csv(out / FILES[1])
    curve = curve[~curve["strategy"].isin(redo)].to_dict("records")
    seconds = {k: v for k, v in ast.literal_eval(str(facts["seconds"])).items() if k not in redo}
    return rows, curve, seconds, [str(facts["command"]), *commands]


def run_strategy(G, strategy, x, y, z_true, z0, sigmas, n, steps, say):
    budgets = sorted({max(1, int(round(b))) for b in np.geomspace(1, steps, 12)})
    settings = PAPER_REGIME.replace(strategy=strategy, steps=steps)
    count = [0]

    def tick():
        count[0] += 1
        if count[0] % 250 == 0:
            say(f"  {strategy}: step {count[0]} of at most {steps}")

    res = recover(G, y, settings, z_init=z0, seed=SEED + 2, device="cpu", snapshots=budgets,
                  callback=tick)
    best = torch.cummin(res.history, 0).values              # (steps, N) lowest loss so far
    taken = res.steps_taken.numpy()
    tail = np.maximum(1, (taken * 0.8).astype(int)) - 1     # the step 20% before the end
    fall = [(best[tail[i], i] - best[taken[i] - 1, i]).item() / best[tail[i], i].item()
            for i in range(len(taken))]
    p, q = psnr(res.images, x), ssim(res.images, x)
    zerr = ((res.z - z_true) ** 2).mean(1).numpy()
    sig = np.repeat(np.asarray(sigmas, float), n)
    rows = [dict(sigma=sig[i], strategy=strategy, image=i % n, psnr=p[i], ssim=q[i],
                 z_mse=zerr[i], loss=res.loss[i].item(), steps=int(taken[i]),
                 converged=bool(res.converged[i]), last_fifth_fall=fall[i],
                 tol=settings.tol, patience=settings.patience)
            for i in range(len(taken))]
    curve = []
    with torch.no_grad():
        for k in budgets:
            pk = psnr(G(res.snapshots[k]), x)
            lk = (G(res.snapshots[k]) - y).pow(2).flatten(1).mean(1).numpy()
            for s in sigmas:
                at = sig == s
                curve.append(dict(sigma=s, strategy=strategy, steps=k, psnr=pk[at].mean(),
                                  loss=lk[at].mean(),
                                  seconds_per_image=res.snapshot_seconds[k] / len(taken)))
    return rows, curve, res.seconds


def main(argv=None):
    a = parse(argv)
    a.argv = argv if argv is not None else sys.argv[1:]
    torch.set_num_threads(min(2, torch.get_num_threads()))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    say = lambda m: print(m, flush=True)   # noqa: E731
    if a.tables == "2,3":
        return tables23(a, out, say)
    n, steps = (3, 12) if a.quick else (a.n, a.steps)
    sigmas = [float(s) for s in a.sigmas.split(",")]
    G = generator_for(None, "cpu")
    x, y, z_true, z0 = images(G, sigmas, n)
    rows, curve, seconds, started = [], [], {}, time.perf_counter()
    commands = ["python benchmarks/paper_regime.py " + " ".join(a.argv)]
    todo = STRATEGIES if a.only is None else a.only.split(",")
    if a.only is not None:   # keep the other box treatments of the run in --out
        rows, curve, seconds, commands = _kept(out, todo, commands)
    for strategy in todo:
        say(f"{strategy}: {len(y)} images ({n} per sigma), at most {steps} steps")
        r, c, s = run_strategy(G, strategy, x, y, z_true, z0, sigmas, n, steps, say)
        rows, curve, seconds[strategy] = rows + r, curve + c, s
        df = pd.DataFrame(r)
        say(df.groupby("sigma")[["psnr", "z_mse", "steps", "converged"]].mean().to_string())
        write_csv(out / FILES[0], rows)
        write_csv(out / FILES[1], curve)
        write_facts(out / FILES[2], dict(
            images_per_sigma=n, sigmas=",".join(f"{v:g}" for v in sigmas), max_steps=steps,
            rules="; ".join(sorted({f"{r['strategy']}: tol {r['tol']:g} over {r['patience']} "
                                    "steps" for r in rows})), lr=PAPER_REGIME.lr,
            strategies_done=",".join(seconds), complete=set(seconds) == set(STRATEGIES),
            quick=a.quick, threads=torch.get_num_threads(),
            seconds={k: round(v, 1) for k, v in seconds.items()},
            total_seconds=round(sum(seconds.values()), 1), torch=torch.__version__,
            command=" && ".join(commands)))
    say(f"wrote {out / FILES[0]}")


if __name__ == "__main__":
    main()
