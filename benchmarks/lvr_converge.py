"""Does latent recovery reach the projection, and how fast? Gap to the optimum per setting.

On generated images x = G(z*) plus Gaussian noise, the reference ("oracle") is the
recovery started at the true latent z* and run until its loss stops falling (projected
and whitened Adam, ``--oracle-steps`` steps at a constant lr 0.03; the script prints the
relative change of the mean loss over the last half, which should be tiny). Every candidate
recovery is reported as its gap to the oracle's PSNR (dB, per image: mean, and the
share of images within 0.1 dB), its final loss relative to the oracle's, its latent error
and its seconds per image, beside BM3D's seconds per image on the same images in the
same process.

Candidates (recover() with the settings shown, unless said otherwise):
- recover()'s default (the encoder's start, whitened projected Adam), the same on the
  generator's layers as they are (batch norms not folded: the speed before the fold),
  and variations of it: other step counts, no whitening, the other two box treatments, a random start;
- the old default: random start, stochastic clipping, 200 Adam steps lr 0.1, cosine;
- random start, projected Adam, 200 steps;
- the paper's optimiser: random start, projected plain gradient descent (lr 1, as
  Lipton & Tripathi's code), 1000 steps;
- multi-start with pruning: 8 random starts, 25 steps each, the best continued;
- torch.optim.LBFGS (strong Wolfe line search) from a random start on the summed loss
  (not batch-independent: its line search couples the images), box by clamping;
- the encoder's latent alone.

    python benchmarks/lvr_converge.py [--n 64] [--sigma 50] [--quick] [--out DIR]

Writes converge.csv (one row per setting), converge_per_image.csv and
converge_machine.csv (the run's facts) to --out (default benchmarks/results/).
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from lvrlib.baselines import bm3d_denoise
from lvrlib.checkpoints import load_generator
from lvrlib.data import add_noise
from lvrlib.dcgan import sample_latent
from lvrlib.encoder import shipped_encoder_for
from lvrlib.metrics import psnr
from lvrlib.recovery import ENCODER_STEPS, encode, recover

WITHIN_DB = 0.1


def generated(G, n, sigma, zseed=5, nseed=6):
    z = sample_latent(n, 100, torch.Generator().manual_seed(zseed))
    with torch.no_grad():
        x = G(z)
    return z, x, add_noise(x, sigma, torch.Generator().manual_seed(nseed))


def mse(G, z, y):
    with torch.no_grad():
        return (G(z) - y).pow(2).flatten(1).mean(1)


def lbfgs(G, y, iters, seed=0):
    z = sample_latent(len(y), 100, torch.Generator().manual_seed(seed)).requires_grad_(True)
    opt = torch.optim.LBFGS([z], lr=1, max_iter=iters, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=0,
                            tolerance_change=0)

    def closure():
        opt.zero_grad()
        loss = (G(z) - y).pow(2).flatten(1).mean(1).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return z.detach().clamp(-1, 1)


def multistart(G, y, starts, probe, steps, seed=0):
    """``starts`` random starts per image, ``probe`` projected Adam steps each; each
    image's best start continues for ``steps`` more steps."""
    n = len(y)
    r = recover(G, y, init="random", strategy="project", steps=probe, lr=0.1,
                restarts=starts, seed=seed)
    r2 = recover(G, y, z_init=r.z, strategy="project", steps=steps, lr=0.05, seed=seed)
    return r2.z


class Plain(torch.nn.Module):
    """The generator behind a plain module: recover() then runs its layers as they are
    (batch norms not folded into the convolutions)."""

    def __init__(self, G):
        super().__init__()
        self.G, self.config = G, G.config
        self.train(G.training)   # recover() restores this mode, and with it G's

    def forward(self, z):
        return self.G(z)


DEFAULT = f"recover() default: encoder, whitened Adam {ENCODER_STEPS}"


def candidates(G, enc, quick):
    """{setting: function y -> latents}, recover()'s default first."""
    s = (lambda k: max(2, k // 50)) if quick else (lambda k: k)
    c = {}
    if enc is not None:
        c[DEFAULT] = lambda y: recover(G, y, steps=s(ENCODER_STEPS) if quick else None).z
        plain = Plain(G)   # what recover() ran before batch norms were folded
        c[f"{DEFAULT}, batch norm not folded"] = lambda y: recover(
            plain, y, encoder=enc, steps=s(ENCODER_STEPS) if quick else None).z
        c["encoder alone"] = lambda y: encode(enc, y)
        for k in (20, 60, 80):
            c[f"encoder, whitened Adam {k}"] = lambda y, k=k: recover(G, y, steps=s(k)).z
        c[f"encoder, Adam {ENCODER_STEPS} (not whitened)"] = lambda y: recover(
            G, y, steps=s(ENCODER_STEPS), precondition=False, lr=0.05).z
        for strat in ("stochastic", "none"):
            c[f"encoder, whitened Adam {ENCODER_STEPS}, {strat}"] = (
                lambda y, strat=strat: recover(G, y, strategy=strat, steps=s(ENCODER_STEPS)).z)
        c["random start, whitened Adam 200"] = lambda y: recover(
            G, y, init="random", precondition=enc.curvature, steps=s(200), lr=0.1,
            schedule="constant").z
    c.update({
        "old default: random, stochastic, Adam 200": lambda y: recover(
            G, y, init="random", strategy="stochastic", steps=s(200), lr=0.1).z,
        "random, project, Adam 200": lambda y: recover(
            G, y, init="random", strategy="project", steps=s(200), lr=0.1).z,
        "paper: random, project, gradient descent 1000": lambda y: recover(
            G, y, init="random", strategy="project", optimizer="sgd", steps=s(1000),
            lr=1.0, schedule="constant").z,
        "multi-start 8 x 25, best + 175": lambda y: multistart(G, y, 8, s(25), s(175)),
        "L-BFGS 100 (random start, summed loss)": lambda y: lbfgs(G, y, s(100)),
    })
    return c


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--sigma", type=float, default=50)
    ap.add_argument("--oracle-steps", type=int, default=1000)
    ap.add_argument("--only", default=None, help="run only settings containing this text")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for CI")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = ap.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    n = 4 if a.quick else a.n
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    G = load_generator(None)
    enc = shipped_encoder_for(G)
    z_true, x, y = generated(G, n, a.sigma)

    started = time.perf_counter()
    t0 = time.perf_counter()
    osteps = 20 if a.quick else a.oracle_steps
    ref = recover(G, y, z_init=z_true, strategy="project", steps=osteps, lr=0.03,
                  schedule="constant", precondition=enc.curvature if enc is not None else True,
                  snapshots=[osteps // 2])
    half = mse(G, ref.snapshots[osteps // 2], y).mean()
    drift = float((half - ref.loss.mean()) / ref.loss.mean())
    o_psnr = psnr(ref.images, x)
    print(f"oracle: {osteps} steps from z*, {time.perf_counter() - t0:.0f} s; mean PSNR "
          f"{o_psnr.mean():.2f} dB; loss fell {drift:.2e} (relative) over the last half",
          flush=True)

    t0 = time.perf_counter()
    bm = bm3d_denoise(y, a.sigma)
    bm_s = (time.perf_counter() - t0) / n
    bm_psnr = psnr(bm, x)
    rows = [dict(setting="oracle (start z*)", mean_psnr=o_psnr.mean(), gap_db=0.0,
                 within_share=1.0, loss_rel=0.0, z_mse=float((ref.z - z_true).pow(2).mean()),
                 s_per_image=float("nan"), of_bm3d=float("nan")),
            dict(setting="BM3D (true sigma)", mean_psnr=bm_psnr.mean(),
                 gap_db=float((o_psnr - bm_psnr).mean()),
                 within_share=float(((o_psnr - bm_psnr) <= WITHIN_DB).mean()),
                 loss_rel=float("nan"), z_mse=float("nan"), s_per_image=bm_s, of_bm3d=1.0)]
    per_image = []
    print(f"BM3D: {bm_psnr.mean():.2f} dB, {bm_s:.3f} s per image", flush=True)
    for name, fn in candidates(G, enc, a.quick).items():
        if a.only and a.only not in name:
            continue
        t0 = time.perf_counter()
        z = fn(y)
        sec = (time.perf_counter() - t0) / n
        with torch.no_grad():
            xi = G(z)
        p = psnr(xi, x)
        gap = o_psnr - p
        loss = (xi - y).pow(2).flatten(1).mean(1)
        row = dict(setting=name, mean_psnr=float(p.mean()), gap_db=float(gap.mean()),
                   within_share=float((gap <= WITHIN_DB).mean()),
                   loss_rel=float(((loss - ref.loss) / ref.loss).mean()),
                   z_mse=float((z - z_true).pow(2).mean()), s_per_image=sec,
                   of_bm3d=sec / bm_s)
        rows.append(row)
        per_image += [dict(setting=name, image=i, psnr=float(p[i]), gap_db=float(gap[i]))
                      for i in range(n)]
        print(f"{name:48s} {row['mean_psnr']:6.2f} dB  gap {row['gap_db']:+6.2f}  "
              f"within {row['within_share']:4.0%}  loss {row['loss_rel']:+.1e}  "
              f"{sec:6.3f} s/img ({row['of_bm3d']:.2f} x BM3D)", flush=True)
    for fname, data in (("converge.csv", rows), ("converge_per_image.csv", per_image)):
        with open(out / fname, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(data[0]))
            w.writeheader()
            w.writerows(data)
    info = dict(images=n, sigma=a.sigma, quick=a.quick, threads=torch.get_num_threads(),
                oracle_steps=osteps, oracle_last_half_change=drift, default_setting=DEFAULT,
                seconds=round(time.perf_counter() - started, 1), torch=torch.__version__,
                command="python benchmarks/lvr_converge.py " + " ".join(
                    argv if argv is not None else __import__("sys").argv[1:]))
    with open(out / "converge_machine.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["key", "value"])
        w.writerows(info.items())
    print(f"wrote {out / 'converge.csv'}")


if __name__ == "__main__":
    main()
