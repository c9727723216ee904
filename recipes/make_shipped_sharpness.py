"""Make the sharpness vectors shipped with lvrlib (used by `lvrlib denoise --method lvr-sa`).

    python recipes/make_shipped_sharpness.py [--n 256] [--device auto] [--out PATH]

Estimates s_sigma = mean(z) - mean(z_rec) on n generated images of the shipped generator
at each sigma, with recover()'s default settings (the encoder's start, whitened projected
Adam steps: converged, see the Performance chapter), and writes
lvrlib/weights/sharpness_celeba_sample.safetensors and its JSON beside it
(``SharpnessBank.save``: ``sigmas``, and ``info`` with the runs, the generator's sha256,
the resolved recover() settings and the command), the keys ``SharpnessBank.load`` and
``lvrlib denoise`` read.
"""
from __future__ import annotations

import argparse
import sys
import time

from lvrlib.checkpoints import read_metadata
from lvrlib.dcgan import resolve_device
from lvrlib.experiments import generator_for
from lvrlib.settings import LVRSettings
from lvrlib.sharpness import SHIPPED_SHARPNESS, sharpness_bank

SIGMAS = (10.0, 25.0, 50.0, 75.0, 100.0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=256, help="generated images per sigma")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=str(SHIPPED_SHARPNESS))
    a = p.parse_args(argv)
    dev = resolve_device(a.device)
    G = generator_for(None, str(dev))
    settings = LVRSettings()
    t0 = time.perf_counter()
    bank = sharpness_bank(G, SIGMAS, a.n, seed=a.seed, settings=settings)
    resolved = settings.resolve(G)[0].asdict()
    bank.info.update({
        "generator_weights_sha256": read_metadata()["weights_sha256"],
        "recover_settings": {k: resolved[k] for k in
                             ("init", "strategy", "steps", "lr", "schedule", "optimizer",
                              "restarts", "precondition")},
        "n": a.n, "seed": a.seed, "device": str(dev),
        "seconds": round(time.perf_counter() - t0, 1),
        "command": "python recipes/make_shipped_sharpness.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
    })
    bank.save(a.out)
    for s, v in zip(bank.sigmas, bank.vectors):
        print(f"sigma {s:5.1f}: |s| = {float(v.norm()):.3f}")
    print(a.out)


if __name__ == "__main__":
    main()
