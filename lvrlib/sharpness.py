"""The sharpness attribute of the paper (LVR-SA) and blind use of it.

Latents recovered from noisy images are biased: on average they encode blurrier faces
than the true latents. The paper estimates that bias at each noise level sigma as

    s_sigma = mean_i(z_i) - mean_i(z_rec_i)   (a vector in latent space)

from generated images G(z_i) with added noise, and outputs G(z_rec + s_sigma) instead of
G(z_rec) (LVR-SA). Vectors are stored per sigma; for a noisy image of unknown sigma,
sigma is estimated and the stored vectors are interpolated (blind LVR-SA).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .dcgan import eval_mode, generated_images
from .physics import Operator, noisy_copy, unit_to_sigma
from .recovery import recover

__all__ = [
    "SHIPPED_SHARPNESS",
    "SharpnessBank",
    "sharpness_vector",
    "sharpness_bank",
    "lvr_sa",
    "estimate_sigma_lvr",
    "clean_residual",
]

#: Sharpness vectors of the shipped generator (made by recipes/make_shipped_sharpness.py).
SHIPPED_SHARPNESS = Path(__file__).parent / "weights" / "sharpness_celeba_sample.safetensors"


def sharpness_vector(generator: torch.nn.Module, sigma: float, n: int = 64, *,
                     seed: int = 0, **recover_kwargs) -> tuple[torch.Tensor, dict]:
    """Estimate s_sigma on n generated images with noise ``sigma`` (0..255 pixel units).

    Draws z_i from the prior (seeded), adds noise (seeded), recovers z_rec_i with
    ``recover(generator, y, seed=seed, **recover_kwargs)`` and returns
    ``(mean(z) - mean(z_rec), info)``; the vector has shape (nz,), info holds the mean
    final loss and the recovery settings.
    """
    if n < 2:
        raise ValueError(f"n={n}; a sharpness vector is a mean over at least 2 images.")
    dev = recover_kwargs.pop("device", None) or next(generator.parameters()).device
    x, z = generated_images(generator, n, seed, dev)
    res = recover(generator, noisy_copy(x, sigma, seed).to(dev), seed=seed + 2, device=dev,
                  **recover_kwargs)
    s = z.mean(0) - res.z.mean(0)
    return s, {**res.settings, "recover_seed": res.seed, "sigma": float(sigma),
               "n": n, "seed": seed, "final_loss": float(res.loss.mean())}


@dataclass
class SharpnessBank:
    """Sharpness vectors s_sigma for several sigmas (0..255 pixel units)."""

    sigmas: list[float]
    vectors: torch.Tensor            # (len(sigmas), nz), rows in the order of sigmas
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        order = np.argsort(self.sigmas)
        self.sigmas = [float(self.sigmas[i]) for i in order]
        self.vectors = self.vectors[torch.as_tensor(order)]

    def at(self, sigma: float) -> torch.Tensor:
        """s at ``sigma``: the stored vector, linearly interpolated between neighbours;
        beyond the stored range, the nearest end (or a scaled-down first vector towards
        s_0 = 0 when sigma is below the smallest stored sigma and 0 is not stored)."""
        sig = float(sigma)
        xs = list(self.sigmas)
        vs = self.vectors
        if xs[0] > 0 and sig < xs[0]:
            # Zero noise means no bias: interpolate towards a zero vector at sigma 0.
            return vs[0] * max(sig, 0.0) / xs[0]
        if sig >= xs[-1]:
            return vs[-1].clone()
        k = int(np.searchsorted(xs, sig, side="right")) - 1
        w = (sig - xs[k]) / (xs[k + 1] - xs[k])
        return (1 - w) * vs[k] + w * vs[k + 1]

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vectors (.safetensors) and a JSON description beside them, each
        atomically (:mod:`lvrlib._io`); return ``path``."""
        from safetensors.torch import save_file

        from ._io import atomic_path, atomic_write_text

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file({"vectors": self.vectors.contiguous()}, str(tmp))
        atomic_write_text(path.with_suffix(".json"), json.dumps(
            {"sigmas": self.sigmas, "info": self.info}, indent=1, sort_keys=True, default=str))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SharpnessBank":
        """Read vectors written by ``save``."""
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file() or not path.with_suffix(".json").is_file():
            raise FileNotFoundError(f"{path} (and its .json) do not exist; compute a bank "
                                    "with lvrlib.sharpness.sharpness_bank and save it.")
        meta = json.loads(path.with_suffix(".json").read_text())
        return cls(meta["sigmas"], load_file(str(path))["vectors"], meta.get("info", {}))


def sharpness_bank(generator: torch.nn.Module, sigmas, n: int = 64, *, seed: int = 0,
                   **recover_kwargs) -> SharpnessBank:
    """Sharpness vectors for every sigma in ``sigmas`` (the same latents at every sigma)."""
    rows, infos = [], []
    for s in sigmas:
        v, info = sharpness_vector(generator, s, n, seed=seed, **recover_kwargs)
        rows.append(v)
        infos.append(info)
    return SharpnessBank(list(map(float, sigmas)), torch.stack(rows), {"runs": infos})


def lvr_sa(generator: torch.nn.Module, z_rec: torch.Tensor, s: torch.Tensor,
           operator: Operator | None = None) -> torch.Tensor:
    """LVR-SA output G(clip(z_rec + s)) (then A(.) when an operator is given), on the CPU.

    The sum is clamped to the prior's box [-1, 1]."""
    dev = next(generator.parameters()).device
    z = (z_rec.to(dev) + s.to(dev)).clamp(-1.0, 1.0)
    with eval_mode(generator), torch.no_grad():
        x = generator(z)
        if operator is not None:
            x = operator(x)
    return x.cpu()


def clean_residual(generator: torch.nn.Module, x: torch.Tensor, **recover_kwargs) -> float:
    """Mean LVR residual (mean squared error, [-1, 1] units) on clean images x: the part
    of the residual that is model error, not noise."""
    return float(recover(generator, x, **recover_kwargs).loss.mean())


def estimate_sigma_lvr(loss: torch.Tensor, clean: float = 0.0) -> np.ndarray:
    """Noise sigma (0..255 pixel units) per image from its final LVR loss.

    With y = x + noise, the residual of a good projection is about sigma^2 plus the
    model error ``clean`` (the residual on clean images, see ``clean_residual``):
    sigma = sqrt(max(loss - clean, 0)) in [-1, 1] units, times 127.5.
    """
    v = torch.as_tensor(loss, dtype=torch.float64).numpy()
    return unit_to_sigma(np.sqrt(np.maximum(v - clean, 0.0)))
