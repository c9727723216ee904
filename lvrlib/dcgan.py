"""DCGAN (Radford et al. 2015) for 64x64 faces: networks, config, latent prior, device.

The architecture follows pytorch/examples ``dcgan`` (itself a port of the original
Torch code). The latent prior is the paper's: z ~ Uniform[-1, 1]^100. The training loop
lives in :mod:`lvrlib.training`; the optimiser settings it uses are in ``DCGANConfig``.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn as nn

__all__ = [
    "DCGANConfig",
    "Generator",
    "FoldedGenerator",
    "Discriminator",
    "sample_latent",
    "resolve_device",
    "eval_mode",
    "device_for",
    "latent_shape",
    "generated_images",
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

    @torch.no_grad()
    def folded(self, channels_last: bool = False) -> "FoldedGenerator":
        """A copy of this generator in eval mode with every batch norm folded into the
        transposed convolution before it (w' = w * gamma / sqrt(var + eps) per output
        channel, b' = beta - mean * gamma / sqrt(var + eps)): the same function, up to
        float rounding (below 1e-5 in the tests), with fewer operations per pass and no
        batch statistics: recovery runs it, and the image-adaptive methods give each
        image its own copy of its weights (``lvrlib.adaptive``). Its weights are new tensors
        that do not require gradients; changing this generator afterwards does not
        change the copy. ``channels_last`` stores the 4-d weights in NHWC order, which
        the CPU's convolutions prefer."""
        layers: list[nn.Module] = []
        mods = list(self.main)
        i = 0
        while i < len(mods):
            m = mods[i]
            if isinstance(m, nn.ConvTranspose2d):
                w = m.weight.detach().clone()
                b = (torch.zeros(m.out_channels, dtype=w.dtype, device=w.device)
                     if m.bias is None else m.bias.detach().clone())
                if i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d):
                    bn = mods[i + 1]
                    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                    w = w * scale[None, :, None, None]     # (in, out, kh, kw)
                    b = (b - bn.running_mean) * scale + bn.bias
                    i += 1
                conv = nn.ConvTranspose2d(m.in_channels, m.out_channels, m.kernel_size,
                                          m.stride, m.padding, m.output_padding, m.groups,
                                          bias=True, dilation=m.dilation,
                                          device=w.device, dtype=w.dtype)
                if channels_last:
                    w = w.contiguous(memory_format=torch.channels_last)
                conv.weight = nn.Parameter(w, requires_grad=False)
                conv.bias = nn.Parameter(b, requires_grad=False)
                layers.append(conv)
            elif isinstance(m, nn.BatchNorm2d):
                raise ValueError("folded(): a batch norm that does not follow a "
                                 "transposed convolution cannot be folded.")
            elif isinstance(m, nn.ReLU):
                layers.append(nn.ReLU(inplace=True))
            else:
                layers.append(copy.deepcopy(m))
            i += 1
        return FoldedGenerator(self.config, nn.Sequential(*layers)).eval()


class FoldedGenerator(nn.Module):
    """``Generator.folded()``: the eval-mode generator with batch norms folded away."""

    def __init__(self, config: DCGANConfig, main: nn.Sequential):
        super().__init__()
        self.config = config
        self.main = main

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
                  device: str | torch.device = "cpu", prior: str = "uniform") -> torch.Tensor:
    """Draw n latent vectors from ``prior``: "uniform", the paper's Uniform[-1, 1]^nz, or
    "normal", N(0, I) (``lvrlib.settings.PRIORS``).

    The draw is made on the CPU with ``generator`` (so a seed gives the same z on every
    device) and then moved to ``device``. Returns (n, nz) float32.
    """
    if prior == "uniform":
        z = torch.rand(n, nz, generator=generator, dtype=torch.float32) * 2.0 - 1.0
    elif prior == "normal":
        z = torch.randn(n, nz, generator=generator, dtype=torch.float32)
    else:
        raise ValueError(f"prior={prior!r}; expected 'uniform' or 'normal'.")
    return z.to(device)


@contextmanager
def eval_mode(module: nn.Module):
    """Run ``module`` in eval mode inside the block and give it back in the train/eval
    mode it had (batch norm in eval mode: each image's output independent of its batch)."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def latent_shape(generator: nn.Module) -> tuple[int, int]:
    """(nz, channels) of a generator: from ``generator.config`` (``nz``, ``nc``) when it
    has one, else nz from its first layer (a Linear's in_features, a convolution's
    in_channels) and the channels from one forward pass in eval mode (a batch of one
    through batch norm in training mode would fail)."""
    cfg = getattr(generator, "config", None)
    if cfg is not None and hasattr(cfg, "nz") and hasattr(cfg, "nc"):
        return int(cfg.nz), int(cfg.nc)
    nz = next((m.in_features if isinstance(m, nn.Linear) else m.in_channels
               for m in generator.modules()
               if isinstance(m, (nn.Linear, nn.ConvTranspose2d, nn.Conv2d))), None)
    if nz is None:
        raise ValueError("cannot tell the generator's latent size: give it a `config.nz` "
                         "attribute, or make its first layer a Linear or ConvTranspose2d.")
    param = next(generator.parameters(), None)
    with eval_mode(generator), torch.no_grad():
        z = torch.zeros(1, nz, device=param.device if param is not None else "cpu")
        return nz, int(generator(z).shape[1])


def device_for(generator: nn.Module, device="auto") -> torch.device:
    """The device to recover on: "auto" follows the generator's parameters (and only for a
    generator without parameters picks cuda when available); an explicit device must be
    the generator's."""
    param = next(generator.parameters(), None)
    if device is None or str(device) == "auto":
        return param.device if param is not None else resolve_device("auto")
    dev = resolve_device(device)
    if param is None:
        return dev
    if param.device.type != dev.type or (dev.index is not None and param.device != dev):
        raise ValueError(f"the generator is on {param.device} but device={device!r}; move "
                         "it with generator.to(device) first, or pass device='auto'.")
    return param.device


def generated_images(generator: nn.Module, n: int, seed: int = 0,
                     device: str | torch.device = "cpu",
                     prior: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """n images of the generator and their latents, (x, z) on the CPU: z drawn from the
    prior (default: the one the generator declares, ``settings.prior_of``) with
    ``torch.Generator().manual_seed(seed)`` (``sample_latent``), x = G(z) in eval mode.
    The generated sets of the book, the sharpness vectors and the benchmarks all draw
    their images this way."""
    from .settings import prior_of   # here: importing the networks imports nothing else

    z = sample_latent(n, latent_shape(generator)[0], torch.Generator().manual_seed(seed),
                      device, prior if prior is not None else prior_of(generator))
    with eval_mode(generator), torch.no_grad():
        return generator(z).cpu(), z.cpu()
