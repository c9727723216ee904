"""Train the encoder that starts latent recovery for the shipped generator.

    python benchmarks/train_encoder.py [--iterations N] [--out PATH]

Writes lvrlib/weights/encoder_celeba_sample.safetensors (+ .json) by default, and a CSV
of the training loss beside it. On the project's 2-core CPU machine the default run takes
about the time printed at the end (recorded in the JSON).
"""
import argparse
import csv
import sys
import time
from pathlib import Path

import torch

from lvrlib.checkpoints import load_generator
from lvrlib.encoder import SHIPPED_ENCODER, load_encoder, save_encoder, train_encoder


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=6000)
    ap.add_argument("--pool", type=int, default=16384)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--nef", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--image-iterations", type=int, default=0)
    ap.add_argument("--image-lr", type=float, default=3e-4)
    ap.add_argument("--resume", default=None, help="continue training this encoder")
    ap.add_argument("--out", default=str(SHIPPED_ENCODER))
    a = ap.parse_args(argv)
    G = load_generator(None)
    log = []
    t0 = time.perf_counter()
    start = load_encoder(a.resume, G) if a.resume else None
    enc = train_encoder(G, iterations=a.iterations, pool=a.pool, batch_size=a.batch_size,
                        nef=a.nef, lr=a.lr, seed=a.seed, log=log, encoder=start,
                        image_iterations=a.image_iterations, image_lr=a.image_lr)
    seconds = time.perf_counter() - t0
    cmd = "python benchmarks/train_encoder.py " + " ".join(sys.argv[1:] if argv is None else argv)
    out = save_encoder(a.out, enc, G, dtype=torch.float16, extra={
        "command": cmd.strip(), "seconds": round(seconds, 1),
        "trained_on": f"{torch.get_num_threads()} CPU threads, torch {torch.__version__}",
        "training": dict(iterations=a.iterations, pool=a.pool, batch_size=a.batch_size,
                         lr=a.lr, seed=a.seed, max_sigma=100.0, resume=a.resume,
                         image_iterations=a.image_iterations, image_lr=a.image_lr)})
    with open(Path(out).with_name(Path(out).stem + "_train_log.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iteration", "loss", "seconds"])
        w.writerows(log)
    print(f"wrote {out} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
