"""Choose the IA-LVR ensemble's number of members on *training* faces, never the test set.

On the last ``--n`` images of the CelebA-sample training split (the book scores the test
split), with Gaussian noise at each ``--sigmas``: BM3D (true sigma) and the IA-LVR ensemble
(``lvrlib.adaptive.ia_lvr_ensemble``) with 1 to ``--max-members`` members, the members
in the order of ``ensemble_plan`` (the image, its mirror, then both again from a random
LVR start). Each member runs once; the ensemble of k members is the mean of the first k,
so one run gives every k. Writes ensemble_tune.csv: one row per sigma and k (mean PSNR
over the images, the paired gain over one member and over BM3D with their 95% CIs, and
the seconds per image of k members).

    python benchmarks/ensemble_tune.py [--n 8] [--sigmas 50,100] [--max-members 4] [--quick] [--out DIR]

The rule that picks the default: among the counts that take at most ``BUDGET_S`` seconds
per image at every sigma (the time goal of the Beyond chapter's method), the fewest whose
mean PSNR is within ``WITHIN_DB`` of the best of them at every sigma.
"""
from __future__ import annotations

import argparse
import time

import torch

from lvrlib.adaptive import ensemble_member, ensemble_plan, member_start
from lvrlib.baselines import bm3d_denoise
from lvrlib.benchmarking import add_run_options, tuning_run, write_csv, write_facts
from lvrlib.metrics import paired_diff, psnr
from lvrlib.physics import noisy_copy

WITHIN_DB = 0.1
BUDGET_S = 5.0


def members_at(G, x, y, sigma, k_max):
    """[(images, seconds)] of the first k_max members on (x, y), in plan order."""
    out = []
    for mirrored, k in ensemble_plan(k_max):
        t0 = time.perf_counter()
        z0 = member_start(G, y.flip(-1) if mirrored else y, k, seed=2, device="cpu")
        r = ensemble_member(G, y, sigma, mirrored, z0, seed=2, device="cpu")
        out.append((r.images, time.perf_counter() - t0))
    return out


def choose(rows, k_max):
    """The rule of the module's docstring on ensemble_tune.csv's rows."""
    fast = [k for k in range(1, k_max + 1)
            if all(r["seconds_per_image"] <= BUDGET_S for r in rows if r["members"] == k)]
    fast = fast or [1]
    best = {}
    for r in rows:
        if r["members"] in fast:
            best[r["sigma"]] = max(best.get(r["sigma"], -1e9), r["psnr"])
    return min(k for k in fast if all(r["psnr"] >= best[r["sigma"]] - WITHIN_DB
                                      for r in rows if r["members"] == k))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--sigmas", default="50,100")
    ap.add_argument("--max-members", type=int, default=4)
    a = add_run_options(ap).parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    n, k_max = (2, 2) if a.quick else (a.n, a.max_members)
    sigmas = [float(s) for s in a.sigmas.split(",")][: 1 if a.quick else None]
    G, x, out = tuning_run(a.out, n)
    rows, started = [], time.perf_counter()
    for sigma in sigmas:
        y = noisy_copy(x, sigma, 0)
        t0 = time.perf_counter()
        bm3d = psnr(bm3d_denoise(y, sigma), x)
        bm3d_s = (time.perf_counter() - t0) / n
        members = members_at(G, x, y, sigma, k_max)
        one = psnr(members[0][0], x)
        for k in range(1, k_max + 1):
            mean = torch.stack([im for im, _ in members[:k]]).mean(0)
            p = psnr(mean, x)
            gain, vs = paired_diff(p, one), paired_diff(p, bm3d)
            rows.append(dict(sigma=sigma, members=k, images=n, psnr=float(p.mean()),
                             gain_over_one=gain.mean, gain_low=gain.low, gain_high=gain.high,
                             minus_bm3d=vs.mean, minus_bm3d_low=vs.low,
                             minus_bm3d_high=vs.high,
                             seconds_per_image=sum(s for _, s in members[:k]) / n,
                             bm3d_psnr=float(bm3d.mean()), bm3d_seconds_per_image=bm3d_s))
            print(f"sigma {sigma:g}, {k} members: {p.mean():.2f} dB ({gain.mean:+.2f} over one, "
                  f"{vs.mean:+.2f} over BM3D), {rows[-1]['seconds_per_image']:.2f} s/image",
                  flush=True)
    write_csv(out / "ensemble_tune.csv", rows)
    chosen = choose(rows, k_max)
    write_facts(out / "ensemble_tune_machine.csv", dict(
        images=n, sigmas=",".join(f"{s:g}" for s in sigmas), max_members=k_max,
        within_db=WITHIN_DB, budget_s=BUDGET_S, chosen_members=chosen, quick=a.quick,
        threads=torch.get_num_threads(), total_seconds=round(time.perf_counter() - started, 1),
        torch=torch.__version__, command="python benchmarks/ensemble_tune.py "
        + " ".join(argv if argv is not None else __import__("sys").argv[1:])))
    print(f"wrote {out / 'ensemble_tune.csv'}; the rule picks {chosen} members")


if __name__ == "__main__":
    main()
