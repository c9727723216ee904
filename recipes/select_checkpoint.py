"""Compare generator snapshots of one training run: which iteration count to ship?

For each ``generator_*.safetensors`` in RUN_DIR, measures
- range coverage: PSNR of the projection (LVR, projected Adam) of the 100 clean
  CelebA-sample test images, held out from training: a generator that can represent
  unseen faces well is what denoising by projection needs;
- memorisation: for 1000 generated faces, the L2 distance (pixel space, [-1, 1]) to the
  nearest training image, against the same distance for the 100 test images. A median
  ratio well below 1 means samples sit closer to training images than unseen real faces
  do, i.e. the generator copies its training set.
Writes RUN_DIR/selection.csv and RUN_DIR/snapshots.png (8 samples per snapshot, a row each).

With ``--ship`` it also ships the snapshot of the highest projection PSNR: exported in
float16 to lvrlib/weights/dcgan_celeba_sample.safetensors (or the path given) with its
JSON beside it (``checkpoints.export_generator``: the keys ``read_metadata`` and
``load_generator`` read, plus ``selected_by`` and ``export``), its training log as
``<name>_train_log.csv`` and the table as ``selection.csv`` beside it (the files the
train_dcgan chapter reads).

    python recipes/select_checkpoint.py RUN_DIR [--steps 300] [--device auto] [--ship [PATH]]
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import torch

from lvrlib.benchmarking import write_csv
from lvrlib.checkpoints import SHIPPED_GENERATOR, export_generator, load_generator
from lvrlib.data import celeba_sample
from lvrlib.dcgan import resolve_device, sample_latent
from lvrlib.figures import save_grid
from lvrlib.metrics import mean_ci, nearest_neighbours, psnr
from lvrlib.recovery import recover
from lvrlib.settings import LVRSettings

#: How the snapshots' range coverage is measured (a snapshot has no encoder: random start).
#: The shipped checkpoint was chosen with stochastic clipping under these Adam steps;
#: lvrlib now refuses that pairing (settings.STOCHASTIC_REFUSED), so a rerun projects.
PROJECTION = LVRSettings(strategy="project", optimizer="adam", init="random", lr=0.1,
                         schedule="cosine", steps=300, id="select_checkpoint")


def iteration(path: Path) -> int:
    return int(re.findall(r"\d+", path.stem)[-1])


def measure(path: Path, train, test, test_nn, settings: LVRSettings, dev) -> tuple[dict, object]:
    """One snapshot's row of selection.csv, and 8 of its samples."""
    G = load_generator(path, device=str(dev))
    with torch.no_grad():
        x = G(sample_latent(1000, G.config.nz, torch.Generator().manual_seed(0), dev))
    ratio = (nearest_neighbours(x, train)[0].median() / test_nn.median()).item()
    r = recover(G, test, settings, device=dev, seed=0)
    ci = mean_ci(psnr(r.images, test))
    return ({"iteration": iteration(path), "test_projection_psnr": round(ci.mean, 3),
             "ci_low": round(ci.low, 3), "ci_high": round(ci.high, 3),
             "memorisation_ratio": round(ratio, 4)}, x[:8].cpu())


def ship(run: Path, rows: list[dict], dst: Path, command: str) -> Path:
    """Export the best snapshot to ``dst`` with its JSON, training log and selection.csv."""
    best = max(rows, key=lambda r: r["test_projection_psnr"])
    src = run / f"generator_{best['iteration']}.safetensors"
    out = export_generator(src, dst, dtype=torch.float16, selected_by=(
        f"{command}: the snapshot with the highest PSNR of projected held-out CelebA-sample "
        f"test images (see {dst.parent.name}/selection.csv)"),
        export=f"python -c \"from lvrlib.checkpoints import export_generator; "
               f"export_generator('{src}', '{dst}')\"")
    if (run / "train_log.csv").exists():
        shutil.copyfile(run / "train_log.csv", dst.with_name(dst.stem + "_train_log.csv"))
    write_csv(dst.parent / "selection.csv", rows)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--steps", type=int, default=PROJECTION.steps)
    p.add_argument("--device", default="auto")
    p.add_argument("--ship", nargs="?", const=str(SHIPPED_GENERATOR), default=None,
                   help="export the best snapshot there (default: the shipped generator's "
                        "file) with its JSON, training log and selection.csv")
    a = p.parse_args(argv)
    dev = resolve_device(a.device)
    run = Path(a.run_dir)
    train = celeba_sample("train").to(dev)
    test = celeba_sample("test")
    test_nn = nearest_neighbours(test.to(dev), train)[0]
    snaps = sorted(run.glob("generator_*.safetensors"), key=iteration)
    if not snaps:
        raise SystemExit(f"{run} holds no generator_*.safetensors snapshots.")
    rows, grids = [], []
    for path in snaps:
        row, samples = measure(path, train, test, test_nn, PROJECTION.replace(steps=a.steps), dev)
        rows.append(row)
        grids.append(samples)
        print(row, flush=True)
    write_csv(run / "selection.csv", rows)
    save_grid(torch.cat(grids), run / "snapshots.png", nrow=8)
    if a.ship:
        command = "python recipes/select_checkpoint.py " + " ".join(
            sys.argv[1:] if argv is None else argv)
        print("shipped", ship(run, rows, Path(a.ship), command))


if __name__ == "__main__":
    main()
