"""Compare generator snapshots of one training run: which iteration count to ship?

For each ``generator_*.safetensors`` in RUN_DIR, measures
- range coverage: PSNR of the projection (LVR, stochastic clipping) of the 100 clean
  CelebA-sample test images, held out from training: a generator that can represent
  unseen faces well is what denoising by projection needs;
- memorisation: for 1000 generated faces, the L2 distance (pixel space, [-1, 1]) to the
  nearest training image, against the same distance for the 100 test images. A median
  ratio well below 1 means samples sit closer to training images than unseen real faces
  do, i.e. the generator copies its training set.
Writes RUN_DIR/selection.csv and RUN_DIR/snapshots.png (8 samples per snapshot, a row each).

    python benchmarks/select_checkpoint.py RUN_DIR [--steps 300] [--device auto]
"""
from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import torch

from lvrlib.checkpoints import load_generator
from lvrlib.data import celeba_sample
from lvrlib.dcgan import resolve_device, sample_latent
from lvrlib.figures import save_grid
from lvrlib.metrics import mean_ci, nearest_neighbours, psnr
from lvrlib.recovery import recover


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--device", default="auto")
    a = p.parse_args(argv)
    dev = resolve_device(a.device)
    run = Path(a.run_dir)
    train = celeba_sample("train").to(dev)
    test = celeba_sample("test")
    test_nn = nearest_neighbours(test.to(dev), train)[0]
    snaps = sorted(run.glob("generator_*.safetensors"),
                   key=lambda q: int(re.findall(r"\d+", q.stem)[-1]))
    rows, grids = [], []
    for path in snaps:
        it = int(re.findall(r"\d+", path.stem)[-1])
        G = load_generator(path, device=str(dev))
        with torch.no_grad():
            x = G(sample_latent(1000, G.config.nz, torch.Generator().manual_seed(0), dev))
        ratio = (nearest_neighbours(x, train)[0].median() / test_nn.median()).item()
        r = recover(G, test, strategy="stochastic", steps=a.steps, lr=0.1, device=dev, seed=0)
        ci = mean_ci(psnr(r.images, test))
        rows.append({"iteration": it, "test_projection_psnr": round(ci.mean, 3),
                     "ci_low": round(ci.low, 3), "ci_high": round(ci.high, 3),
                     "memorisation_ratio": round(ratio, 4)})
        grids.append(x[:8].cpu())
        print(rows[-1], flush=True)
    with open(run / "selection.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    save_grid(torch.cat(grids), run / "snapshots.png", nrow=8)


if __name__ == "__main__":
    main()
