"""Train the encoder that starts latent recovery for the shipped generator.

    python recipes/train_encoder.py [--iterations N] [--image-iterations N] [--resume PATH]
        [--out PATH]

Writes the encoder (default lvrlib/weights/encoder_celeba_sample.safetensors) and its JSON
beside it (``lvrlib.encoder.save_encoder``: the keys ``load_encoder`` and
``shipped_encoder_for`` read, and the record of how it was made: ``commands``,
``seconds`` and ``stages``, one entry per run; a run with ``--resume`` carries the entries
of the encoder it continues), and a CSV of the training loss beside it. The shipped
encoder is two runs:

    python recipes/train_encoder.py --iterations 6000 --pool 32768 --out runs/enc_a.safetensors
    python recipes/train_encoder.py --iterations 0 --image-iterations 1500 --pool 16384 \\
        --seed 1 --resume runs/enc_a.safetensors

(about 22 minutes each on the project's 2-core CPU machine).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import torch

from lvrlib.encoder import SHIPPED_ENCODER, load_encoder, save_encoder, train_encoder
from lvrlib.experiments import generator_for

MAX_SIGMA = 100.0


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=6000, help="latent-space iterations")
    ap.add_argument("--pool", type=int, default=16384, help="generated images drawn once")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--nef", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--image-iterations", type=int, default=0,
                    help="image-space iterations after the latent ones")
    ap.add_argument("--image-lr", type=float, default=3e-4)
    ap.add_argument("--resume", default=None, help="continue training this encoder")
    ap.add_argument("--selected-by", default=None,
                    help="why this encoder is the one shipped (recorded as selected_by)")
    ap.add_argument("--out", default=str(SHIPPED_ENCODER))
    return ap.parse_args(argv)


def stages(a) -> list[str]:
    """This run's stages, in words."""
    out = []
    if a.iterations:
        out.append(f"latent: {a.iterations} iterations, batch {a.batch_size}, pool of {a.pool} "
                   f"generated images (seed {a.seed}), noise sigma uniform in "
                   f"0..{MAX_SIGMA:g}, Adam lr {a.lr:g} cosine")
    if a.image_iterations:
        out.append(f"image: {a.image_iterations} iterations, batch {a.batch_size}, pool of "
                   f"{a.pool} (seed {a.seed}), MSE of G(E(y)) to the clean G(z) + 0.1 x "
                   f"latent MSE, Adam lr {a.image_lr:g} cosine")
    out.append(f"then the generator's curvature (lvrlib.encoder.generator_curvature, 32 "
               f"latents, seed {a.seed})")
    return out


def record(a, command: str, seconds: float) -> dict:
    """The JSON's record of how the encoder was made: this run's entries after those of
    the encoder it resumes (when it has them)."""
    before = {}
    if a.resume:
        before = json.loads(Path(a.resume).with_suffix(".json").read_text())
    listed = lambda key: list(before.get(key, []))  # noqa: E731
    rec = {"commands": listed("commands") + [command],
           "seconds": listed("seconds") + [round(seconds, 1)],
           "stages": listed("stages") + stages(a),
           "trained_on": f"{torch.get_num_threads()} CPU threads, torch {torch.__version__}",
           "training": dict(iterations=a.iterations, pool=a.pool, batch_size=a.batch_size,
                            lr=a.lr, seed=a.seed, max_sigma=MAX_SIGMA, resume=a.resume,
                            image_iterations=a.image_iterations, image_lr=a.image_lr)}
    if a.selected_by:
        rec["selected_by"] = a.selected_by
    return rec


def main(argv=None):
    a = parse(argv)
    G = generator_for(None, "cpu")
    log = []
    t0 = time.perf_counter()
    start = load_encoder(a.resume, G) if a.resume else None
    enc = train_encoder(G, iterations=a.iterations, pool=a.pool, batch_size=a.batch_size,
                        nef=a.nef, lr=a.lr, seed=a.seed, log=log, encoder=start,
                        max_sigma=MAX_SIGMA, image_iterations=a.image_iterations,
                        image_lr=a.image_lr)
    seconds = time.perf_counter() - t0
    cmd = "python recipes/train_encoder.py " + " ".join(sys.argv[1:] if argv is None else argv)
    out = save_encoder(a.out, enc, G, dtype=torch.float16,
                       extra=record(a, cmd.strip(), seconds))
    with open(Path(out).with_name(Path(out).stem + "_train_log.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iteration", "loss", "seconds"])
        w.writerows(log)
    print(f"wrote {out} and {Path(out).with_suffix('.json').name} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
