"""Make the sharpness vectors shipped with lvrlib (used by `lvrlib denoise --method lvr-sa`).

    python benchmarks/make_shipped_sharpness.py [--n 256] [--device auto] [--out PATH]

Estimates s_sigma = mean(z) - mean(z_rec) on n generated images of the shipped generator
at each sigma, with recover()'s default settings (the encoder's start, whitened projected
Adam steps: converged, see the Performance chapter), and writes
lvrlib/weights/sharpness_celeba_sample.safetensors (+ .json with the settings).
"""
from __future__ import annotations

import argparse
import time

from lvrlib.checkpoints import load_generator, read_metadata
from lvrlib.dcgan import resolve_device, sample_latent
from lvrlib.recovery import recover
from lvrlib.sharpness import SHIPPED_SHARPNESS, sharpness_bank

SIGMAS = (10.0, 25.0, 50.0, 75.0, 100.0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=str(SHIPPED_SHARPNESS))
    a = p.parse_args(argv)
    dev = resolve_device(a.device)
    G = load_generator(device=str(dev))
    t0 = time.perf_counter()
    bank = sharpness_bank(G, SIGMAS, a.n, seed=a.seed)
    probe = recover(G, G(sample_latent(1, G.config.nz, None, dev)).detach())
    bank.info.update({
        "generator_weights_sha256": read_metadata()["weights_sha256"],
        "recover_settings": {k: probe.settings[k] for k in
                             ("init", "strategy", "steps", "lr", "schedule", "optimizer",
                              "restarts", "precondition")},
        "n": a.n, "seed": a.seed, "device": str(dev),
        "seconds": round(time.perf_counter() - t0, 1),
        "command": f"python benchmarks/make_shipped_sharpness.py --n {a.n} --seed {a.seed}",
    })
    bank.save(a.out)
    for s, v in zip(bank.sigmas, bank.vectors):
        print(f"sigma {s:5.1f}: |s| = {float(v.norm()):.3f}")
    print(a.out)


if __name__ == "__main__":
    main()
