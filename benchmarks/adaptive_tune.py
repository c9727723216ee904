"""Choose IA-LVR's and DIP's step sizes and stop on *training* faces, never the test set.

On the last ``--n`` images of the CelebA-sample training split (the book scores the test
split), with Gaussian noise at each ``--sigmas``: LVR (recover()'s default), BM3D (true
sigma), and IA-LVR and DIP for each step size in the grids, stopped by the discrepancy
principle. Each setting runs once for ``--path-steps`` steps without stopping, following
every image's residual and PSNR at every step (the clean image is known here); since an
image's run does not depend on the others, the discrepancy stop at each tau in ``--taus``
is read off that path (the first step whose residual is <= tau sigma^2), beside the best
stopping point in hindsight (the step of highest PSNR, which a user without the clean
image cannot know).

    python benchmarks/adaptive_tune.py [--n 8] [--sigmas 25,50,100] [--quick] [--out DIR]

Writes adaptive_tune.csv (one row per method, setting, sigma and stop) and
adaptive_batch.csv (seconds per image at several batch sizes) to --out
(default benchmarks/results/).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from lvrlib.adaptive import dip, ia_lvr
from lvrlib.baselines import bm3d_denoise
from lvrlib.benchmarking import add_run_options, training_faces, write_csv
from lvrlib.experiments import generator_for
from lvrlib.metrics import psnr
from lvrlib.physics import noisy_copy
from lvrlib.recovery import recover

# A tau no residual reaches: every image runs all the steps (the stops are read off).
NEVER = 1e-9


def noisy(x, sigma):
    """The training faces with noise. Not lvrlib.experiments.noisy_set, whose sets are the
    ones the book scores (the test split), but its noise: ``physics.noisy_copy`` with
    seed 0 (LVR's seed is 2, as there)."""
    return noisy_copy(x, sigma, 0)


def stop_at(history, target):
    """Per image, the first step whose residual is <= target (the last step if none)."""
    h = history.numpy()
    hit = h <= target.numpy()[None]
    return np.where(hit.any(0), hit.argmax(0), h.shape[0] - 1)


def follow(x, steps):
    """A callback recording the PSNR of every image at every step."""
    trace = np.full((steps + 1, len(x)), np.nan)

    def cb(t, idx, out):
        trace[t, idx.numpy()] = psnr(out, x[idx])
    return trace, cb


def batch_timing(G, x, out: Path, steps: int) -> None:
    """Seconds per image of IA-LVR steps with the images adapted in batches of 1, 2, 4 and
    all (per-image weights as batched matrix products); sigma 0, so no image stops early.
    Writes adaptive_batch.csv."""
    y = noisy(x, 50)
    z0 = recover(G, y, seed=2).z
    ia_lvr(G, y[:2], 0.0, z_init=z0[:2], steps=2)          # warm-up
    rows = []
    for bs in sorted({1, 2, 4, len(y)}):
        t0 = time.perf_counter()
        ia_lvr(G, y, 0.0, z_init=z0, steps=steps, batch_size=bs)
        sec = (time.perf_counter() - t0) / len(y)
        rows.append(dict(images=len(y), steps=steps, batch_size=bs, s_per_image=sec,
                         threads=torch.get_num_threads()))
        print(f"{len(y)} images, {steps} IA-LVR steps, batches of {bs}: {sec:.2f} s per image",
              flush=True)
    write_csv(out / "adaptive_batch.csv", rows)


class Table:
    """The rows of adaptive_tune.csv for ``n`` images ``x`` and runs of ``steps`` steps."""

    def __init__(self, x, steps: int, taus):
        self.x, self.n, self.steps, self.taus, self.rows = x, len(x), steps, taus, []

    def record(self, method, setting, sigma, out, seconds):
        row = dict(method=method, setting=setting, sigma=sigma, images=self.n, stop="",
                   psnr=float(psnr(out, self.x).mean()), steps=float("nan"),
                   reached=float("nan"), s_per_image=seconds / self.n)
        self.rows.append(row)
        print(f"sigma {sigma:5.1f}  {method:7s} {setting:12s} {row['psnr']:6.2f} dB  "
              f"{row['s_per_image']:.2f} s/img", flush=True)

    def record_path(self, method, setting, sigma, res, trace):
        """The stops read off one run's path; seconds per image up to each stop."""
        per_step = res.seconds / self.n / (self.steps + 1)
        cols = np.arange(self.n)
        stops = {f"tau {t:g}": (stop_at(res.history, t * res.target), t) for t in self.taus}
        stops["best in hindsight"] = (np.nanargmax(trace, 0), None)
        for name, (k, t) in stops.items():
            reached = float("nan") if t is None else \
                float((res.history[k, cols] <= t * res.target).float().mean())
            row = dict(method=method, setting=setting, sigma=sigma, images=self.n, stop=name,
                       psnr=float(trace[k, cols].mean()), steps=float(k.mean()),
                       reached=float(reached), s_per_image=per_step * (k.mean() + 1))
            self.rows.append(row)
            print(f"sigma {sigma:5.1f}  {method:7s} {setting:12s} {name:17s} "
                  f"{row['psnr']:6.2f} dB at step {row['steps']:5.1f}  "
                  f"{row['s_per_image']:.2f} s/img", flush=True)


def tune_at(G, table: Table, sigma: float, a) -> None:
    """LVR, BM3D, and IA-LVR and DIP at every step size of their grids, at one sigma."""
    x, steps = table.x, table.steps
    y = noisy(x, sigma)
    t0 = time.perf_counter()
    lv = recover(G, y, seed=2)
    table.record("lvr", "default", sigma, lv.images, time.perf_counter() - t0)
    t0 = time.perf_counter()
    table.record("bm3d", "true sigma", sigma, bm3d_denoise(y, sigma), time.perf_counter() - t0)
    for lr in [float(v) for v in a.ia_lrs.split(",")]:
        trace, cb = follow(x, steps)
        kw = {} if a.ia_lr_z is None else dict(lr_z=a.ia_lr_z)
        res = ia_lvr(G, y, sigma, z_init=lv.z, steps=steps, lr=lr, tau=NEVER, callback=cb, **kw)
        res.target = res.target / NEVER
        table.record_path("ia-lvr", f"lr {lr:g}", sigma, res, trace)
    for lr in [float(v) for v in a.dip_lrs.split(",")]:
        trace, cb = follow(x, steps)
        res = dip(y, sigma, steps=steps, lr=lr, tau=NEVER, callback=cb)
        res.target = res.target / NEVER
        table.record_path("dip", f"lr {lr:g}", sigma, res, trace)


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--sigmas", default="25,50,100")
    ap.add_argument("--ia-lrs", default="3e-5,1e-4,3e-4")
    ap.add_argument("--ia-lr-z", type=float, default=None)
    ap.add_argument("--dip-lrs", default="3e-4,1e-3,3e-3")
    ap.add_argument("--path-steps", type=int, default=100,
                    help="steps followed per run (the stops are read off this path)")
    ap.add_argument("--taus", default="0.8,0.9,1.0,1.1")
    ap.add_argument("--only-batch-timing", action="store_true",
                    help="only time a batch against the images one by one")
    return add_run_options(ap).parse_args(argv)


def main(argv=None):
    a = parse(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    n = 2 if a.quick else a.n
    steps = 3 if a.quick else a.path_steps
    sigmas = [float(s) for s in a.sigmas.split(",")][: 1 if a.quick else None]
    G = generator_for(None, "cpu")
    x = training_faces(n)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.only_batch_timing:
        return batch_timing(G, x, out, steps=3 if a.quick else 20)
    table = Table(x, steps, [float(t) for t in a.taus.split(",")])
    for sigma in sigmas:
        tune_at(G, table, sigma, a)
    batch_timing(G, x, out, steps=3 if a.quick else 20)
    write_csv(out / "adaptive_tune.csv", table.rows)
    print(f"wrote {out / 'adaptive_tune.csv'}")


if __name__ == "__main__":
    main()
