"""Does latent recovery reach the projection, and how fast? Gap to the optimum per setting.

On generated images x = G(z*) plus Gaussian noise, the reference ("oracle") is the
recovery started at the true latent z* and run until its loss stops falling (projected
and whitened Adam with a cosine decay, ``--oracle-steps`` steps; the script prints the
relative fall of the mean loss over the second half, which should be tiny). Every
candidate recovery is reported as its gap to the oracle's PSNR (dB, per image: mean, and
the share of images within 0.1 dB), its final loss relative to the oracle's, its latent
error, the steps it took and the share of images the stopping rule ended (converged),
and its seconds per image, beside BM3D's seconds per image on the same images in the same
process.

Candidates (``lvrlib.benchmarking.converge_candidates``: values of LVRSettings, each id
the text of its row; recover() with those settings, unless said otherwise):
- recover()'s default (the encoder's start, whitened projected L-BFGS until each image's
  loss stops falling), the same on the generator's layers as they are (batch norms not
  folded), with the other two box treatments, and not whitened;
- the old default (50 whitened Adam steps) and Adam with 200 steps and a cosine decay;
- recover()'s default from a random start (8 starts, the best kept after 50 steps);
- the paper's optimiser: random start, projected plain gradient descent (lr 1), 1000 steps;
- the encoder's latent alone.

``--generator gan-face`` runs the DCGAN of the gan-face-generate wheel instead
(``lvrlib.external``, normal prior, no encoder: the random-start rows only), and
``--encoder PATH`` gives it an encoder (``lvrlib train-encoder gan-face -o PATH``): then
the encoder's rows run too, whitened with the curvature the file carries.

    python benchmarks/lvr_converge.py [--n 64] [--sigma 50] [--generator shipped|gan-face]
        [--encoder PATH] [--quick] [--out DIR]

Writes converge.csv (one row per setting), converge_per_image.csv (each candidate's and
BM3D's PSNR and gap per image) and
converge_machine.csv (the run's facts) to --out (default benchmarks/results/).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from lvrlib.baselines import bm3d_denoise
from lvrlib.benchmarking import (BM3D_NAME, CONVERGE_DEFAULT, ENCODER_ALONE, NOT_FOLDED, ORACLE,
                                 WITHIN_DB, add_run_options, converge_candidates, write_csv,
                                 write_facts)
from lvrlib.dcgan import generated_images
from lvrlib.encoder import encode, load_encoder, shipped_encoder_for
from lvrlib.experiments import generator_for, noisy_set
from lvrlib.external import GAN_FACE_PRIOR, gan_face_generator
from lvrlib.physics import noisy_copy
from lvrlib.metrics import psnr
from lvrlib.reproducibility import machine
from lvrlib.recovery import recover
from lvrlib.settings import LVRSettings

# The images: noisy_set's generated set with seed 5 (latents seed 5, noise seed 6), apart
# from the book's (seed 0) and from the encoder's training pairs.
SEED = 5


def mse(G, z, y):
    with torch.no_grad():
        return (G(z) - y).pow(2).flatten(1).mean(1)


class Plain(torch.nn.Module):
    """The generator behind a plain module: recover() then runs its layers as they are
    (batch norms not folded into the convolutions)."""

    def __init__(self, G):
        super().__init__()
        self.G, self.config = G, G.config
        self.train(G.training)   # recover() restores this mode, and with it G's

    def forward(self, z):
        return self.G(z)


def runner(G, enc, settings: LVRSettings, prior: str):
    """The function y -> (latents, steps taken, converged) that runs one candidate:
    recover() with its settings (whitened with the encoder's curvature where
    ``precondition`` is True), or its own way for the candidates that are not one
    recover() call."""
    def run(module, **kw):
        return lambda y: _facts(recover(module, y, settings, prior=prior, **kw))

    if settings.id == NOT_FOLDED:
        return run(Plain(G), encoder=enc)
    if settings.id == ENCODER_ALONE:
        return lambda y: (encode(enc, y), torch.zeros(len(y)), torch.zeros(len(y)))
    curvature = enc.curvature if enc is not None and settings.precondition is True else None
    return run(G, encoder=enc, curvature=curvature)


def _facts(r):
    return r.z, r.steps_taken.float(), r.converged.float()


def oracle(G, enc, x, y, z_true, steps: int, prior: str):
    """The reference: recovery from the true latents (ORACLE, ``steps`` steps); its
    result, per-image PSNR and the relative fall of its mean loss over the last half."""
    t0 = time.perf_counter()
    settings = ORACLE.replace(steps=steps, prior=prior,
                              strategy="project" if prior == "uniform" else "none")
    ref = recover(G, y, settings, z_init=z_true,
                  curvature=enc.curvature if enc is not None else None, snapshots=[steps // 2])
    half = mse(G, ref.snapshots[steps // 2], y).mean()
    drift = float((half - ref.loss.mean()) / ref.loss.mean())
    o_psnr = psnr(ref.images, x)
    print(f"oracle: {steps} steps from z*, {time.perf_counter() - t0:.0f} s; mean PSNR "
          f"{o_psnr.mean():.2f} dB; loss fell {drift:.2e} (relative) over the last half",
          flush=True)
    return ref, o_psnr, drift


def fixed_rows(ref, o_psnr, z_true, bm_psnr, bm_s) -> list[dict]:
    """The oracle's row and BM3D's."""
    nan = float("nan")
    return [dict(setting=ORACLE.id, mean_psnr=o_psnr.mean(), gap_db=0.0, within_share=1.0,
                 loss_rel=0.0, z_mse=float((ref.z - z_true).pow(2).mean()),
                 steps=float(ref.steps_taken.float().mean()), converged_share=nan,
                 s_per_image=nan, of_bm3d=nan),
            dict(setting=BM3D_NAME, mean_psnr=bm_psnr.mean(),
                 gap_db=float((o_psnr - bm_psnr).mean()),
                 within_share=float(((o_psnr - bm_psnr) <= WITHIN_DB).mean()),
                 loss_rel=nan, z_mse=nan, steps=nan, converged_share=nan, s_per_image=bm_s,
                 of_bm3d=1.0)]


def measure(G, fn, x, y, z_true, ref, o_psnr, bm_s, name: str) -> tuple[dict, list[dict]]:
    """One candidate's row (gap to the oracle, loss, latent error, seconds) and its
    per-image rows."""
    n = len(y)
    t0 = time.perf_counter()
    z, steps, converged = fn(y)
    sec = (time.perf_counter() - t0) / n
    with torch.no_grad():
        xi = G(z)
    p = psnr(xi, x)
    gap = o_psnr - p
    loss = (xi - y).pow(2).flatten(1).mean(1)
    row = dict(setting=name, mean_psnr=float(p.mean()), gap_db=float(gap.mean()),
               within_share=float((gap <= WITHIN_DB).mean()),
               loss_rel=float(((loss - ref.loss) / ref.loss).mean()),
               z_mse=float((z - z_true).pow(2).mean()), steps=float(steps.mean()),
               converged_share=float(converged.mean()), s_per_image=sec, of_bm3d=sec / bm_s)
    print(f"{name:48s} {row['mean_psnr']:6.2f} dB  gap {row['gap_db']:+6.2f}  "
          f"within {row['within_share']:4.0%}  loss {row['loss_rel']:+.1e}  "
          f"steps {row['steps']:5.0f} ({row['converged_share']:4.0%} converged)  "
          f"{sec:6.3f} s/img ({row['of_bm3d']:.2f} x BM3D)", flush=True)
    return row, [dict(setting=name, image=i, psnr=float(p[i]), gap_db=float(gap[i]))
                 for i in range(n)]


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--sigma", type=float, default=50)
    ap.add_argument("--oracle-steps", type=int, default=ORACLE.steps)
    ap.add_argument("--only", default=None, help="run only settings containing this text")
    ap.add_argument("--generator", choices=("shipped", "gan-face"), default="shipped",
                    help="the shipped generator, or the gan-face-generate wheel's DCGAN")
    ap.add_argument("--encoder", default=None,
                    help="an encoder file for the generator (lvrlib train-encoder); default: "
                         "the shipped one for the shipped generator, none for gan-face")
    return add_run_options(ap).parse_args(argv)


def main(argv=None):
    a = parse(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    n = 4 if a.quick else a.n
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.generator == "shipped":
        G, prior = generator_for(None, "cpu"), "uniform"
        enc = load_encoder(a.encoder, G) if a.encoder else shipped_encoder_for(G)
        x, y, z_true = noisy_set("generated", a.sigma, n, SEED)
    else:
        G, prior = gan_face_generator(), GAN_FACE_PRIOR
        enc = load_encoder(a.encoder, G) if a.encoder else None
        x, z_true = generated_images(G, n, SEED, prior=prior)
        y = noisy_copy(x, a.sigma, SEED)
    started = time.perf_counter()
    osteps = 20 if a.quick else a.oracle_steps
    ref, o_psnr, drift = oracle(G, enc, x, y, z_true, osteps, prior)
    t0 = time.perf_counter()
    bm = bm3d_denoise(y, a.sigma)
    bm_s = (time.perf_counter() - t0) / n
    bm_psnr = psnr(bm, x)
    rows = fixed_rows(ref, o_psnr, z_true, bm_psnr, bm_s)
    per_image = [dict(setting=BM3D_NAME, image=i, psnr=float(bm_psnr[i]),
                      gap_db=float(o_psnr[i] - bm_psnr[i])) for i in range(n)]
    print(f"BM3D: {bm_psnr.mean():.2f} dB, {bm_s:.3f} s per image", flush=True)
    for settings in converge_candidates(a.quick, encoder=enc is not None):
        if (a.only and a.only not in settings.id) or (
                prior == "normal" and settings.strategy not in (None, "none")) or (
                settings.id == NOT_FOLDED and a.generator != "shipped"):
            continue   # a normal prior has no box; a plain module is run as it is
        row, images = measure(G, runner(G, enc, settings, prior), x, y, z_true, ref, o_psnr,
                              bm_s, settings.id)
        rows.append(row)
        per_image += images
    write_csv(out / "converge.csv", rows)
    write_csv(out / "converge_per_image.csv", per_image)
    here = machine()
    write_facts(out / "converge_machine.csv", dict(
        images=n, sigma=a.sigma, generator=a.generator, encoder=a.encoder or "",
        quick=a.quick,
        threads=torch.get_num_threads(), cpu=here["cpu"], vector=here["vector"],
        oracle_steps=osteps, oracle_last_half_change=drift, default_setting=CONVERGE_DEFAULT,
        seconds=round(time.perf_counter() - started, 1), torch=torch.__version__,
        command="python benchmarks/lvr_converge.py " + " ".join(
            argv if argv is not None else sys.argv[1:])))
    print(f"wrote {out / 'converge.csv'}")


if __name__ == "__main__":
    main()
