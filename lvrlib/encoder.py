"""A learned starting point for latent recovery: an encoder y -> z trained for one generator.

Latent recovery minimises ``||G(z) - y||^2`` over z, a non-convex problem whose flat
directions make gradient descent from a random start slow (see the Performance chapter).
An encoder E, a small convolutional network trained on pairs (G(z) + noise, z), maps a
noisy image straight to a latent near its projection; ``recover`` starts its refinement
there. E is trained for one generator: its checkpoint records the sha256 of the
generator's weights and ``load_encoder`` refuses a generator it was not trained for.

The training pairs come from the generator alone (no image data): z from the prior,
x = G(z), y = x + sigma * n with sigma drawn uniformly from 0..``max_sigma`` (pixel
units of 0..255) for every pair, so one encoder serves every noise level.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

import torch.nn.functional as F

from ._io import atomic_path, atomic_write_text
from .data import sha256_file
from .dcgan import eval_mode, latent_shape
from .physics import sigma_to_unit

__all__ = ["EncoderConfig", "Encoder", "train_encoder", "generator_curvature", "save_encoder",
           "load_encoder", "shipped_encoder_for", "generator_digest", "SHIPPED_ENCODER",
           "EncoderError", "choose_start", "carries_curvature", "encode", "whitening",
           "WHITEN_DAMPING"]

SHIPPED_ENCODER = Path(__file__).parent / "weights" / "encoder_celeba_sample.safetensors"
_FORMAT = "lvrlib-encoder-1"


class EncoderError(RuntimeError):
    """An encoder checkpoint is missing, tampered with, or made for another generator."""


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture of the encoder; ``asdict()`` is saved with every checkpoint."""

    nz: int = 100          # latent size of the generator it serves
    nc: int = 3            # image channels
    nef: int = 32          # filters of the first layer (doubling at each of four layers)
    box: bool = True       # latents in [-1, 1] (a tanh output), as the paper's prior

    def __post_init__(self):
        for name in ("nz", "nc", "nef"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}; expected a positive integer.")


class Encoder(nn.Module):
    """images (N, nc, 64, 64) in [-1, 1] -> latents (N, nz).

    Four stride-2 convolutions (64 -> 4 pixels) and a linear layer; batch norm in eval
    mode at inference, so each image's latent does not depend on its batch.
    """

    def __init__(self, config: EncoderConfig = EncoderConfig()):
        super().__init__()
        self.config = config
        c, f = config.nc, config.nef
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate([(c, f), (f, 2 * f), (2 * f, 4 * f), (4 * f, 8 * f)]):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(8 * f * 4 * 4, config.nz)
        # The generator's average curvature E_z[J(z)^T J(z)] / pixels (see
        # ``generator_curvature``); recover() whitens its steps with it. Zero: not known.
        self.register_buffer("curvature", torch.zeros(config.nz, config.nz))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.head(self.features(x).flatten(1))
        return torch.tanh(z) if self.config.box else z


def generator_digest(generator: nn.Module) -> str:
    """sha256 of a generator's parameters and buffers (names, shapes and float32 values),
    independent of the file it was loaded from and of its device."""
    h = hashlib.sha256()
    for name, t in sorted(generator.state_dict().items()):
        h.update(name.encode())
        t = t.detach().to("cpu")
        t = t.float() if t.is_floating_point() else t
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def generator_curvature(generator: nn.Module, n: int = 32, *, prior: str = "uniform",
                        seed: int = 0, chunk: int = 4) -> torch.Tensor:
    """The generator's average Gauss-Newton curvature M = mean over z of J(z)^T J(z) / P,
    with J the Jacobian of the P image values with respect to the latent, at ``n``
    latents drawn from the prior. (nz, nz), symmetric, on the CPU.

    Its eigenvalues spread over three or more orders of magnitude for the shipped
    generator: that spread is what makes plain gradient steps slow, and what
    ``recover``'s whitened steps remove. Costs about n x nz forward passes.
    """
    from torch.func import jacfwd, vmap

    nz, _ = latent_shape(generator)
    gen = torch.Generator().manual_seed(seed)
    zs = (torch.rand(n, nz, generator=gen) * 2 - 1 if prior == "uniform"
          else torch.randn(n, nz, generator=gen))
    p = next(generator.parameters(), None)
    zs = zs.to(p.device if p is not None else "cpu")

    def one(z):
        return generator(z[None])[0].flatten()

    total = torch.zeros(nz, nz, device=zs.device)
    pixels = 0
    with eval_mode(generator), torch.no_grad():
        for i in range(0, n, chunk):
            J = vmap(jacfwd(one))(zs[i:i + chunk])          # (b, P, nz)
            total += torch.einsum("bpi,bpj->ij", J, J)
            pixels = J.shape[1]
    return (total / (n * pixels)).cpu()


def _noisy_pairs(generator, n, nz, max_sigma, gen, prior):
    """n pairs (y, z): z from the prior, y = G(z) + noise at a random sigma per pair."""
    if prior == "uniform":
        z = torch.rand(n, nz, generator=gen) * 2 - 1
    else:
        z = torch.randn(n, nz, generator=gen)
    with torch.no_grad():
        x = generator(z)
    sigma = torch.rand(n, 1, 1, 1, generator=gen) * sigma_to_unit(max_sigma)
    return x, z, sigma


def train_encoder(generator: nn.Module, *, iterations: int = 3000, batch_size: int = 64,
                  pool: int = 16384, max_sigma: float = 100.0, lr: float = 1e-3,
                  nef: int = 32, prior: str = "uniform", seed: int = 0,
                  image_iterations: int = 0, image_lr: float = 3e-4,
                  encoder: Encoder | None = None,
                  progress: bool = True, log: list | None = None) -> Encoder:
    """Train an encoder for ``generator`` (a module mapping (N, nz) latents to images).

    A pool of ``pool`` generated images is drawn once; every iteration takes a batch of
    it with fresh noise (sigma uniform in 0..max_sigma, pixel units) and minimises the
    mean squared error between the encoder's latent and the true one (Adam, cosine decay
    of ``lr``); then ``image_iterations`` more at ``image_lr`` that add the image-space
    error of G(E(y)). ``prior``: "uniform" (the paper's box, tanh output) or "normal" (a
    Gaussian prior, unbounded output). The generator is used in eval mode and left as it
    was. ``log`` (a list) receives (iteration, loss, seconds) every 50 iterations.
    """
    if prior not in ("uniform", "normal"):
        raise ValueError(f"prior={prior!r}; expected 'uniform' or 'normal'.")
    nz, nc = latent_shape(generator)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    with eval_mode(generator):
        xs, zs = [], []
        for i in range(0, pool, 256):
            x, z, _ = _noisy_pairs(generator, min(256, pool - i), nz, max_sigma, gen, prior)
            xs.append(x)
            zs.append(z)
    data = (torch.cat(xs), torch.cat(zs))
    enc = encoder if encoder is not None else Encoder(
        EncoderConfig(nz=nz, nc=nc, nef=nef, box=prior == "uniform"))
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=iterations + image_iterations, desc="encoder", unit="it")
    try:
        for stage, n_it, stage_lr, first in (("latent", iterations, lr, 0),
                                             ("image", image_iterations, image_lr, iterations)):
            if n_it:
                _train_stage(enc, generator, data, stage, n_it, stage_lr, batch_size,
                             max_sigma, gen, lambda it, loss: _report(log, bar, it, first,
                                                                      stage, loss, t0))
    finally:
        if bar is not None:
            bar.close()
    enc.curvature.copy_(generator_curvature(generator, prior=prior, seed=seed))
    return enc.eval()


def _report(log, bar, it, first, stage, loss, t0) -> None:
    if log is not None and it % 50 == 0:
        log.append((it + first, loss.item(), time.perf_counter() - t0))
    if bar is not None:
        bar.update(1)
        if it % 50 == 0:
            bar.set_postfix(stage=stage, loss=f"{loss.item():.4f}")


def _train_stage(enc, generator, data, stage, n_it, lr, batch_size, max_sigma, gen,
                 report) -> None:
    """One stage of ``train_encoder``: n_it Adam iterations on batches of the pool with
    fresh noise; the generator frozen and in eval mode, given back as it was."""
    x_pool, z_pool = data
    opt = torch.optim.Adam(enc.parameters(), lr=lr, betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t, n=n_it: 0.5 * (1 + math.cos(math.pi * min(t, n) / n)))
    enc.train()
    frozen = [p for p in generator.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        with eval_mode(generator):
            for it in range(n_it):
                idx = torch.randint(0, x_pool.shape[0], (batch_size,), generator=gen)
                sigma = torch.rand(batch_size, 1, 1, 1, generator=gen) * sigma_to_unit(max_sigma)
                x = x_pool[idx]
                z = enc(x + sigma * torch.randn(x.shape, generator=gen))
                loss = (z - z_pool[idx]).pow(2).mean()
                if stage == "image":
                    loss = (generator(z) - x).pow(2).mean() + 0.1 * loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                report(it, loss)
    finally:
        for p in frozen:
            p.requires_grad_(True)


def save_encoder(path: str | os.PathLike, encoder: Encoder, generator: nn.Module,
                 extra: dict | None = None, dtype: torch.dtype = torch.float32) -> Path:
    """Write the encoder's weights (.safetensors) and its description (.json) beside it,
    recording the digest of the generator it was trained for."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: an encoder checkpoint must end in .safetensors.")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Weights in float16 halve the file (cast back to float32 on load); the curvature
    # keeps float32, its smallest eigenvalues are near float16's smallest normal number.
    state = {k: (v.detach().cpu().to(dtype) if k != "curvature" and v.is_floating_point()
                 else v.detach().cpu()).contiguous()
             for k, v in encoder.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))
    meta = {"format": _FORMAT, "config": asdict(encoder.config),
            "dtype": str(dtype).replace("torch.", ""),
            "generator_digest": generator_digest(generator),
            "generator_shapes": {k: list(v.shape) for k, v in generator.state_dict().items()},
            "weights_sha256": sha256_file(path)}
    meta.update(extra or {})
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


def load_encoder(path: str | os.PathLike, generator: nn.Module | None = None,
                 device: str | torch.device = "cpu") -> Encoder:
    """Load an encoder in eval mode; with ``generator``, refuse one trained for another.

    Raises EncoderError when the files are missing, the weights do not match their
    recorded sha256, or the generator's digest differs from the recorded one.
    """
    path = Path(path)
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise EncoderError(f"The encoder {path} or its description {meta_path.name} is missing.")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != _FORMAT:
        raise EncoderError(f"{meta_path} is not an lvrlib encoder description.")
    if sha256_file(path) != meta["weights_sha256"]:
        raise EncoderError(f"The weights file {path} does not match the sha256 recorded in "
                           f"{meta_path.name}: it was modified or corrupted.")
    if generator is not None and generator_digest(generator) != meta["generator_digest"]:
        raise EncoderError(f"The encoder {path} was trained for another generator.")
    enc = Encoder(EncoderConfig(**meta["config"]))
    enc.load_state_dict({k: v.float() if v.is_floating_point() else v
                         for k, v in load_file(str(path)).items()})
    return enc.to(device).eval()


# generator -> (fingerprint of its tensors, matches the shipped encoder?); weak keys, so
# an entry goes with its generator.
_MATCHES: "weakref.WeakKeyDictionary[nn.Module, tuple[tuple, bool]]" = weakref.WeakKeyDictionary()
_LOADED: dict[tuple, Encoder] = {}


def _fingerprint(generator: nn.Module) -> tuple:
    """Changes whenever a tensor of the generator is replaced or modified in place
    (storage address and autograd version counter of every parameter and buffer)."""
    return tuple((t.data_ptr(), t._version, str(t.device)) for t in generator.state_dict().values())


def shipped_encoder_for(generator: nn.Module) -> Encoder | None:
    """The shipped encoder when ``generator`` has the shipped generator's weights, else
    None. A generator of another shape is told apart without hashing its weights, and
    the answer for a generator is kept until one of its tensors changes."""
    meta_path = SHIPPED_ENCODER.with_suffix(".json")
    if not SHIPPED_ENCODER.is_file() or not meta_path.is_file():
        return None
    fp = _fingerprint(generator)
    known = _MATCHES.get(generator)
    if known is not None and known[0] == fp:
        match = known[1]
    else:
        meta = json.loads(meta_path.read_text())
        shapes = meta.get("generator_shapes")
        own = {k: list(v.shape) for k, v in generator.state_dict().items()}
        match = (shapes is None or shapes == own) and \
            generator_digest(generator) == meta.get("generator_digest")
        _MATCHES[generator] = (fp, match)
    if not match:
        return None
    p = next(generator.parameters(), None)
    dev = str(p.device) if p is not None else "cpu"
    key = (dev, SHIPPED_ENCODER.stat().st_mtime_ns)
    if key not in _LOADED:
        _LOADED[key] = load_encoder(SHIPPED_ENCODER, device=dev)
    return _LOADED[key]


# --------------------------------------------------------------------------- the start
# Damping of the whitening, relative to the curvature's mean eigenvalue.
WHITEN_DAMPING = 1.0


def choose_start(generator: nn.Module, init: str = "auto", encoder: nn.Module | None = None,
                 given: bool = False) -> tuple[str, nn.Module | None]:
    """Where ``recover`` starts: ("given" | "encoder" | "random", the encoder or None).
    "auto" and "encoder" use ``encoder``, else the shipped encoder when the generator is
    the shipped generator; "encoder" without either is refused."""
    if init == "given" and not given:
        raise ValueError("init='given' needs the starting latents: pass z_init=.")
    start = "given" if given else init
    if start in ("auto", "encoder"):
        if encoder is None:
            encoder = shipped_encoder_for(generator)
        if encoder is None and start == "encoder":
            raise ValueError("init='encoder' but no encoder was given and the generator is "
                             "not the shipped one; train one with lvrlib.encoder."
                             "train_encoder(generator) and pass encoder=.")
        start = "encoder" if encoder is not None else "random"
    return start, (encoder if start == "encoder" else None)


def carries_curvature(encoder: nn.Module | None) -> bool:
    """Whether ``encoder`` carries a (non-zero) curvature of its generator."""
    M = getattr(encoder, "curvature", None) if encoder is not None else None
    return M is not None and bool(M.abs().sum() > 0)


def whitening(generator: nn.Module, encoder: nn.Module | None, curvature=None,
              device: str | torch.device = "cpu", prior: str = "uniform") -> torch.Tensor:
    """P = (M + d I)^(-1/2), scaled to a mean diagonal of 1, for the generator's average
    curvature M: ``curvature`` when given, else the encoder's, else computed
    (``generator_curvature`` at latents from ``prior``, about 3200 forward passes);
    d = WHITEN_DAMPING times M's
    mean eigenvalue. Steps taken in coordinates w with z = z0 + w P no longer have the
    stiff directions of the latent limit their size. (nz, nz) float32 on ``device``."""
    M = curvature
    if M is None and carries_curvature(encoder):
        M = encoder.curvature
    if M is None:
        M = generator_curvature(generator, prior=prior)
    M = M.detach().to("cpu", torch.float64)
    M = (M + M.T) / 2
    evals, evecs = torch.linalg.eigh(M)
    damp = WHITEN_DAMPING * float(evals.clamp_min(0).mean())
    P = evecs @ torch.diag((evals.clamp_min(0) + damp).rsqrt()) @ evecs.T
    P = P / P.diagonal().mean()
    return P.to(device, torch.float32)


@torch.no_grad()
def encode(encoder: nn.Module, y: torch.Tensor, *, nc: int = 3,
           device: str | torch.device = "cpu", batch_size: int = 256) -> torch.Tensor:
    """The encoder's latents for images y (N, C, H, W) in [-1, 1]: grayscale images are
    repeated to ``nc`` channels and other resolutions resized to 64x64 first (the encoder
    sees generator-shaped images). Eval mode; returns (N, nz) on ``device``."""
    out = []
    with eval_mode(encoder):
        for i in range(0, y.shape[0], batch_size):
            x = y[i:i + batch_size].to(device, torch.float32)
            if x.shape[1] == 1 and nc != 1:
                x = x.expand(-1, nc, -1, -1)
            if x.shape[-1] != 64 or x.shape[-2] != 64:
                x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False,
                                  antialias=x.shape[-1] > 64)
            out.append(encoder(x.contiguous()))
    return torch.cat(out)
