"""The observation model: what the generator's images go through before they are compared
with the data, and the noise that is added to them.

Observation operators A map generator images (N, 3, 64, 64) to the shape of the data:
grayscale for gray photos, an antialiased resize for other resolutions; LVR minimises
``||A(G(z)) - y||^2``. Noise: y = x + sigma * n with n ~ N(0, 1), sigma a standard
deviation in 0..255 pixel units (sigma = 50 is 50/255 of the range), images in [-1, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["Operator", "Identity", "Grayscale", "Resize", "Compose", "operator_for",
           "add_noise", "noisy_copy", "sigma_to_unit", "unit_to_sigma"]


class Operator:
    """A differentiable observation operator A mapping generator images to observations."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def then(self, other: "Operator") -> "Compose":
        """The composition x -> other(self(x))."""
        return Compose(self, other)


class Identity(Operator):
    def __call__(self, x):
        return x

    def __repr__(self):
        return "Identity()"


class Grayscale(Operator):
    """RGB -> luma with ITU-R BT.601 weights; (N, 3, H, W) -> (N, 1, H, W)."""

    WEIGHTS = (0.299, 0.587, 0.114)

    def __call__(self, x):
        w = torch.tensor(self.WEIGHTS, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x * w).sum(dim=1, keepdim=True)

    def __repr__(self):
        return "Grayscale()"


class Resize(Operator):
    """Antialiased (area-weighted bilinear) resize to ``size`` x ``size``."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"size={size}; expected a positive number of pixels.")
        self.size = int(size)

    def __call__(self, x):
        if x.shape[-1] == self.size and x.shape[-2] == self.size:
            return x
        return F.interpolate(x, size=(self.size, self.size), mode="bilinear",
                             antialias=True, align_corners=False)

    def __repr__(self):
        return f"Resize({self.size})"


class Compose(Operator):
    """Apply operators in order."""

    def __init__(self, *ops: Operator):
        self.ops = ops

    def __call__(self, x):
        for op in self.ops:
            x = op(x)
        return x

    def __repr__(self):
        return " -> ".join(map(repr, self.ops))


def operator_for(y: torch.Tensor, channels: int = 3, size: int = 64) -> Operator:
    """The operator that maps generator images (channels x size x size) to the shape of y:
    grayscale when y has one channel, resize when its resolution differs."""
    ops: list[Operator] = []
    if y.shape[1] == 1 and channels == 3:
        ops.append(Grayscale())
    elif y.shape[1] != channels:
        raise ValueError(f"images have {y.shape[1]} channels; expected 1 or {channels}.")
    if y.shape[-1] != y.shape[-2]:
        raise ValueError(f"images are {y.shape[-2]}x{y.shape[-1]}; expected square images.")
    if y.shape[-1] != size:
        ops.append(Resize(y.shape[-1]))
    return Compose(*ops) if ops else Identity()


def sigma_to_unit(sigma):
    """A noise standard deviation in 0..255 pixel units, in [-1, 1] image units (a number,
    array or tensor)."""
    return (float(sigma) if isinstance(sigma, (int, float)) else sigma) * 2.0 / 255.0


def unit_to_sigma(value):
    """A standard deviation in [-1, 1] image units, in 0..255 pixel units."""
    return value * 127.5


def add_noise(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None,
              clip: bool = False) -> torch.Tensor:
    """y = x + sigma * n, n ~ N(0, 1); ``sigma`` in 0..255 pixel units, x in [-1, 1].

    Not clipped unless ``clip`` (then to [-1, 1]). ``generator`` (a CPU torch.Generator)
    makes the noise reproducible independently of the device of ``x``.
    """
    if not (0 <= float(sigma) < 1e4):
        raise ValueError(f"sigma={sigma}; expected a standard deviation in 0..255 pixel units.")
    n = torch.randn(x.shape, generator=generator, dtype=torch.float32).to(x.device)
    y = x + sigma_to_unit(sigma) * n
    return y.clamp(-1, 1) if clip else y


def noisy_copy(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """``add_noise`` with the noise of ``seed``: ``torch.Generator().manual_seed(seed + 1)``
    (the images themselves are drawn with ``seed``), the same standard normal draws at
    every sigma. The noisy sets of the book, the sharpness vectors and the benchmarks."""
    return add_noise(x, sigma, torch.Generator().manual_seed(seed + 1))
