"""IA-LVR's stop on *training* faces: the discrepancy principle against Monte-Carlo SURE,
each beside the best stop in hindsight.

On the last ``--n`` images of the CelebA-sample training split (the book scores the test
split) with Gaussian noise at each ``--sigmas``, from LVR's latents (recover()'s
default): IA-LVR run ``--path-steps`` steps without stopping, its PSNR followed at every
step, gives the best stop in hindsight (the step of highest PSNR, which needs the clean
image); IA-LVR stopped by the discrepancy principle (lvrlib's default) and by
Monte-Carlo SURE (``ia_lvr(stop="sure")``) at each probe size in ``--eps`` give the two
rules a user can run. An image's run does not depend on the others, so the three are
paired per image.

    python benchmarks/sure_stop.py [--n 8] [--sigmas 25,50,75,100] [--eps 0.01,0.05,0.1] [--quick] [--out DIR]

Writes sure_stop.csv (one row per sigma and stop: mean PSNR, its paired difference to
the best stop in hindsight and to the discrepancy stop with 95% CIs, mean step, seconds
per image) and sure_stop_machine.csv to --out (default benchmarks/results/).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from lvrlib.adaptive import IA_STEPS, SURE_PATIENCE, ia_lvr
from lvrlib.benchmarking import add_run_options, tuning_run, write_csv, write_facts
from lvrlib.metrics import paired_diff, psnr
from lvrlib.physics import noisy_copy
from lvrlib.recovery import recover

NEVER = 1e-9   # a tau no residual reaches: the path runs every step


def hindsight(G, x, y, sigma, z0, steps):
    """Per image, the highest PSNR along IA-LVR's path and the step it was reached at."""
    trace = np.full((steps + 1, len(x)), np.nan)

    def cb(t, idx, out):
        trace[t, idx.numpy()] = psnr(out, x[idx])
    ia_lvr(G, y, sigma, z_init=z0, steps=steps, tau=NEVER, callback=cb, seed=2, device="cpu")
    return np.nanmax(trace, 0), np.nanargmax(trace, 0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--sigmas", default="25,50,75,100")
    ap.add_argument("--eps", default="0.01,0.05,0.1",
                    help="SURE probe sizes to try, in [-1, 1] units")
    ap.add_argument("--path-steps", type=int, default=150,
                    help="steps of the path the best stop in hindsight is read from")
    a = add_run_options(ap).parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    n = 2 if a.quick else a.n
    steps = 4 if a.quick else a.path_steps
    budget = 6 if a.quick else IA_STEPS
    sigmas = [float(s) for s in a.sigmas.split(",")][: 1 if a.quick else None]
    epss = [float(e) for e in a.eps.split(",")][: 1 if a.quick else None]
    G, x, out = tuning_run(a.out, n)
    rows, started = [], time.perf_counter()
    for sigma in sigmas:
        y = noisy_copy(x, sigma, 0)
        z0 = recover(G, y, seed=2, device="cpu").z
        best, best_step = hindsight(G, x, y, sigma, z0, steps)
        runs = {"discrepancy": dict(stop="discrepancy")}
        runs.update({f"sure eps {e:g}": dict(stop="sure", sure_eps=e) for e in epss})
        disc = None
        rows.append(dict(sigma=sigma, stop="best in hindsight", images=n,
                         psnr=float(best.mean()), minus_best=0.0, minus_best_low=0.0,
                         minus_best_high=0.0, minus_discrepancy=float("nan"),
                         minus_discrepancy_low=float("nan"),
                         minus_discrepancy_high=float("nan"),
                         mean_step=float(best_step.mean()), seconds_per_image=float("nan")))
        for name, kw in runs.items():
            t0 = time.perf_counter()
            r = ia_lvr(G, y, sigma, z_init=z0, steps=budget, seed=2, device="cpu", **kw)
            sec = (time.perf_counter() - t0) / n
            p = psnr(r.images, x)
            disc = p if name == "discrepancy" else disc
            vb, vd = paired_diff(p, best), paired_diff(p, disc)
            rows.append(dict(sigma=sigma, stop=name, images=n, psnr=float(p.mean()),
                             minus_best=vb.mean, minus_best_low=vb.low, minus_best_high=vb.high,
                             minus_discrepancy=vd.mean, minus_discrepancy_low=vd.low,
                             minus_discrepancy_high=vd.high,
                             mean_step=float(r.steps_taken.float().mean()),
                             seconds_per_image=sec))
            print(f"sigma {sigma:g} {name:16s} {p.mean():6.2f} dB ({vb.mean:+.2f} to the best "
                  f"stop in hindsight, {vd.mean:+.2f} to the discrepancy stop) at step "
                  f"{rows[-1]['mean_step']:.1f}, {sec:.2f} s/image", flush=True)
    write_csv(out / "sure_stop.csv", rows)
    write_facts(out / "sure_stop_machine.csv", dict(
        images=n, sigmas=",".join(f"{s:g}" for s in sigmas), eps=",".join(map(str, epss)),
        path_steps=steps, budget=budget, patience=SURE_PATIENCE, quick=a.quick,
        threads=torch.get_num_threads(), total_seconds=round(time.perf_counter() - started, 1),
        torch=torch.__version__,
        command="python benchmarks/sure_stop.py " + " ".join(
            argv if argv is not None else sys.argv[1:])))
    print(f"wrote {out / 'sure_stop.csv'}")


if __name__ == "__main__":
    main()
