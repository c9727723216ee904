"""Train a DCGAN (lvrlib.dcgan) on face images, resumably, from one seed.

The schedule follows B. Amos' DCGAN-tensorflow, the generator the paper used:
Adam(2e-4, beta1=0.5), batch 64, and two generator updates per discriminator update
(``DCGANConfig``). Checkpoints are written with :mod:`lvrlib.checkpoints`.
"""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from . import checkpoints as ckpt
from ._io import atomic_write_bytes
from .data import tensor_sha256
from .dcgan import DCGANConfig, Discriminator, Generator, resolve_device, sample_latent

__all__ = ["train_dcgan"]

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
    _check_args(config, images, iterations, checkpoint_every)
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
    log_path = _restart_log(out_dir / "train_log.csv", start)

    data = images.to(dev, torch.float32)
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
        pending.append(_iteration(netG, netD, optG, optD, config, data, it, seed, dev, t0))
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


def _check_args(config: DCGANConfig, images: torch.Tensor, iterations: int,
                checkpoint_every: int) -> None:
    if images.ndim != 4 or tuple(images.shape[1:]) != (config.nc, 64, 64):
        raise ValueError(f"images have shape {tuple(images.shape)}; expected "
                         f"(N, {config.nc}, 64, 64).")
    if images.shape[0] == 0:
        raise ValueError("images hold no images (N = 0); expected at least one.")
    if iterations < 0:
        raise ValueError(f"iterations={iterations}; expected >= 0.")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every={checkpoint_every}; expected a positive number "
                         "of iterations.")


def _restart_log(log_path: Path, start: int) -> Path:
    """Rewrite the training log with its rows up to iteration ``start`` (the resumed
    state), so that a resumed run appends after them; returns its path."""
    rows = []
    if log_path.is_file() and start > 0:
        with open(log_path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["iteration"]) <= start]
    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=_LOG_FIELDS)
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(log_path, text.getvalue().encode())
    return log_path


def _iteration(netG, netD, optG, optD, config: DCGANConfig, data: torch.Tensor, it: int,
               seed: int, dev, t0: float) -> dict:
    """One training iteration (a discriminator step, ``config.g_steps`` generator steps)
    with the draws of (seed, iteration); returns its row of the training log."""
    n = data.shape[0]
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
    return {
        "iteration": it + 1, "loss_d": f"{loss_d.item():.5f}",
        "loss_g": f"{loss_g.item():.5f}",
        "d_real": f"{torch.sigmoid(d_real).mean().item():.4f}",
        "d_fake": f"{torch.sigmoid(d_fake).mean().item():.4f}",
        "seconds": f"{time.perf_counter() - t0:.2f}",
    }
