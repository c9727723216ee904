"""DCGAN (Radford et al. 2015) for 64x64 faces: networks, config, prior, training loop.

The architecture follows pytorch/examples ``dcgan`` (itself a port of the original
Torch code); the training schedule follows B. Amos' DCGAN-tensorflow, the generator the
paper used: Adam(2e-4, beta1=0.5), batch 64, and two generator updates per
discriminator update. The latent prior is the paper's: z ~ Uniform[-1, 1]^100.
"""
from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "DCGANConfig",
    "Generator",
    "Discriminator",
    "sample_latent",
    "train_dcgan",
    "resolve_device",
]


@dataclass(frozen=True)
class DCGANConfig:
    """Architecture and optimiser settings; ``asdict()`` is saved with every checkpoint."""

    nz: int = 100          # latent size
    ngf: int = 64          # generator filters in the last hidden layer
    ndf: int = 64          # discriminator filters in the first layer
    nc: int = 3            # image channels
    image_size: int = 64   # fixed by the five-layer architecture
    lr: float = 2e-4
    beta1: float = 0.5
    batch_size: int = 64
    g_steps: int = 2       # generator updates per discriminator update (DCGAN-tensorflow)
    flip: bool = True      # random horizontal flips of training images

    def __post_init__(self):
        if self.image_size != 64:
            raise ValueError(f"image_size={self.image_size}; this DCGAN produces 64x64 images.")
        for name in ("nz", "ngf", "ndf", "nc", "batch_size", "g_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}; expected a positive integer.")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """'auto' -> cuda when available else cpu; 'cuda' without a GPU raises a clear error."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but no CUDA GPU is available; "
                           "use device='cpu' or 'auto'.")
    return device


def _init_weights(m: nn.Module) -> None:
    # DCGAN paper: weights from N(0, 0.02); batch-norm scales from N(1, 0.02).
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (N, nz) in [-1, 1] -> images (N, nc, 64, 64) in [-1, 1]."""

    def __init__(self, config: DCGANConfig = DCGANConfig()):
        super().__init__()
        self.config = config
        nz, ngf, nc = config.nz, config.ngf, config.nc
        self.main = nn.Sequential(
            # input: nz x 1 x 1
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            # state size: (ngf*8) x 4 x 4
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            # state size: (ngf*4) x 8 x 8
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # state size: (ngf*2) x 16 x 16
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            # state size: ngf x 32 x 32
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
            # state size: nc x 64 x 64
        )
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.reshape(z.shape[0], -1, 1, 1))


class Discriminator(nn.Module):
    """images (N, nc, 64, 64) -> logits (N,) of being real."""

    def __init__(self, config: DCGANConfig = DCGANConfig()):
        super().__init__()
        self.config = config
        nc, ndf = config.nc, config.ndf
        self.main = nn.Sequential(
            # input: nc x 64 x 64
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # state size: ndf x 32 x 32
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # state size: (ndf*2) x 16 x 16
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            # state size: (ndf*4) x 8 x 8
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            # state size: (ndf*8) x 4 x 4
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            # state size: 1 x 1 x 1 (a logit; the sigmoid lives in the loss)
        )
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).reshape(-1)


def sample_latent(n: int, nz: int = 100, generator: torch.Generator | None = None,
                  device: str | torch.device = "cpu") -> torch.Tensor:
    """Draw n latent vectors from the paper's prior Uniform[-1, 1]^nz.

    The draw is made on the CPU with ``generator`` (so a seed gives the same z on every
    device) and then moved to ``device``. Returns (n, nz) float32.
    """
    z = torch.rand(n, nz, generator=generator, dtype=torch.float32) * 2.0 - 1.0
    return z.to(device)


# --------------------------------------------------------------------------- training
_LOG_FIELDS = ["iteration", "loss_d", "loss_g", "d_real", "d_fake", "seconds"]


def _batch_indices(n_images: int, batch_size: int, iteration: int, seed: int) -> torch.Tensor:
    """Indices of the training batch of one iteration: a fresh permutation per epoch.

    A function of (seed, iteration) only, so a resumed run draws the same batches.
    """
    per_epoch = max(n_images // batch_size, 1)
    epoch, k = divmod(iteration, per_epoch)
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    perm = torch.randperm(n_images, generator=g)
    if n_images < batch_size:
        return perm
    return perm[k * batch_size:(k + 1) * batch_size]


def train_dcgan(
    config: DCGANConfig,
    images: torch.Tensor,
    out_dir: str | Path,
    iterations: int,
    *,
    seed: int = 0,
    device: str | torch.device = "auto",
    checkpoint_every: int = 100,
    snapshots: tuple[int, ...] = (),
    progress: bool = True,
) -> Path:
    """Train a DCGAN on ``images`` (N, nc, 64, 64) in [-1, 1] up to ``iterations``.

    One iteration is one discriminator step and ``config.g_steps`` generator steps.
    Writes into ``out_dir``: ``generator.safetensors`` + ``generator.json`` (the final
    generator, loadable with ``lvrlib.checkpoints.load_generator``), ``state.safetensors``
    + ``state.json`` (everything needed to resume, written every ``checkpoint_every``
    iterations) and ``train_log.csv`` (losses per iteration). A run started again on the
    same ``out_dir`` resumes from its last state, after checking that the config and the
    training data are the same. ``snapshots`` lists iterations at which a copy of the
    generator is kept as ``generator_{it}.safetensors``. Returns the generator's path.

    Randomness comes only from ``seed``: batches, flips and latents are drawn from
    generators seeded by (seed, iteration), so a resumed run continues the same sequence.
    """
    from . import checkpoints as ckpt
    from .data import tensor_sha256

    if images.ndim != 4 or tuple(images.shape[1:]) != (config.nc, 64, 64):
        raise ValueError(f"images have shape {tuple(images.shape)}; expected "
                         f"(N, {config.nc}, 64, 64).")
    if iterations < 0:
        raise ValueError(f"iterations={iterations}; expected >= 0.")
    dev = resolve_device(device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data_sha = tensor_sha256(images)

    with torch.random.fork_rng(devices=[]):  # seeded initialisation, global state untouched
        torch.manual_seed(seed)
        netG, netD = Generator(config).to(dev), Discriminator(config).to(dev)
    optG = torch.optim.Adam(netG.parameters(), lr=config.lr, betas=(config.beta1, 0.999))
    optD = torch.optim.Adam(netD.parameters(), lr=config.lr, betas=(config.beta1, 0.999))
    start = 0
    if (out_dir / "state.json").is_file():
        start = ckpt.load_training_state(out_dir, config, data_sha, seed,
                                         netG, netD, optG, optD)
    log_path = out_dir / "train_log.csv"
    rows = []
    if log_path.is_file() and start > 0:
        with open(log_path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["iteration"]) <= start]
    with open(log_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=_LOG_FIELDS)
        w.writeheader()
        w.writerows(rows)

    data = images.to(dev, torch.float32)
    n = data.shape[0]
    netG.train(), netD.train()
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=iterations, initial=start, desc="DCGAN", unit="it")
    t0 = time.perf_counter()
    pending: list[dict] = []

    def save_state(it: int) -> None:
        with open(log_path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=_LOG_FIELDS).writerows(pending)
        pending.clear()
        ckpt.save_training_state(out_dir, config, data_sha, seed, it,
                                 netG, netD, optG, optD)

    for it in range(start, iterations):
        g = torch.Generator().manual_seed(seed * 1_000_003 + 7919 * (it + 1))
        real = data[_batch_indices(n, config.batch_size, it, seed).to(dev)]
        b = real.shape[0]
        if config.flip:
            flip = (torch.rand(b, generator=g) < 0.5).to(dev)
            real = torch.where(flip[:, None, None, None], real.flip(3), real)
        # Discriminator: real -> 1, fake -> 0.
        fake = netG(sample_latent(b, config.nz, g, dev))
        d_real, d_fake = netD(real), netD(fake.detach())
        loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                  + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        optD.zero_grad(set_to_none=True)
        loss_d.backward()
        optD.step()
        # Generator, g_steps times (DCGAN-tensorflow runs it twice so that the
        # discriminator's loss does not go to zero), non-saturating loss.
        for k in range(config.g_steps):
            if k > 0:
                fake = netG(sample_latent(b, config.nz, g, dev))
            out = netD(fake)
            loss_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
            optG.zero_grad(set_to_none=True)
            loss_g.backward()
            optG.step()
        pending.append({
            "iteration": it + 1, "loss_d": f"{loss_d.item():.5f}",
            "loss_g": f"{loss_g.item():.5f}",
            "d_real": f"{torch.sigmoid(d_real).mean().item():.4f}",
            "d_fake": f"{torch.sigmoid(d_fake).mean().item():.4f}",
            "seconds": f"{time.perf_counter() - t0:.2f}",
        })
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss_d=pending[-1]["loss_d"], loss_g=pending[-1]["loss_g"])
        if (it + 1) % checkpoint_every == 0 or it + 1 == iterations:
            save_state(it + 1)
        if it + 1 in snapshots:
            ckpt.save_generator(out_dir / f"generator_{it + 1}.safetensors", netG,
                                iteration=it + 1, data_sha256=data_sha)
    if bar is not None:
        bar.close()
    final = out_dir / "generator.safetensors"
    ckpt.save_generator(final, netG, iteration=max(start, iterations), data_sha256=data_sha)
    return final
