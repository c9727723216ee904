"""Latent vector recovery (LVR): project images onto the range of a generator.

Given images y, ``recover`` finds for each image the latent z that minimises
``mean((A(G(z)) - y)^2)`` by gradient descent, and returns G(z), the projection of y onto
the generator's range (A is an observation operator, the identity by default). The
latent must stay in the prior's box [-1, 1]^nz; the paper compares three ways:

- ``"none"``: no constraint;
- ``"project"``: projected gradient, z clamped to the box after each step;
- ``"stochastic"``: stochastic clipping (Lipton & Tripathi 2017), every component that
  leaves the box is redrawn uniformly from [-1, 1], the others untouched.

Batch norm runs in eval mode and each image has its own loss, optimiser state and
stopping rule, so an image's result does not depend on the rest of its batch.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .dcgan import resolve_device, sample_latent

__all__ = [
    "STRATEGIES",
    "RecoveryResult",
    "recover",
    "stochastic_clip",
    "project_to_box",
    "Operator",
    "Identity",
    "Grayscale",
    "Resize",
    "Compose",
    "operator_for",
]

STRATEGIES = ("none", "project", "stochastic")
OPTIMIZERS = ("adam", "sgd")


# --------------------------------------------------------------------------- clipping
def project_to_box(z: torch.Tensor) -> torch.Tensor:
    """Projected gradient: clamp every component of z to [-1, 1]."""
    return z.clamp(-1.0, 1.0)


def stochastic_clip(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Stochastic clipping: redraw every component outside [-1, 1] from Uniform[-1, 1].

    Components inside the box are returned unchanged. ``generator`` must live on z's
    device. Returns a new tensor.
    """
    fresh = torch.rand(z.shape, generator=generator, device=z.device, dtype=z.dtype) * 2 - 1
    return torch.where(z.abs() > 1.0, fresh, z)


# --------------------------------------------------------------------------- operators
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


# --------------------------------------------------------------------------- recovery
@dataclass
class RecoveryResult:
    """What ``recover`` returns; all tensors on the CPU.

    z: (N, nz) recovered latents. images: (N, C, 64, 64) = G(z), in [-1, 1].
    loss: (N,) final mean squared error per image in observation space ([-1, 1] units).
    history: (steps, N) loss of each image at each step (of its best restart; the last
    value repeats once an image has stopped). steps_taken: (N,) steps each image ran.
    """

    z: torch.Tensor
    images: torch.Tensor
    loss: torch.Tensor
    history: torch.Tensor
    steps_taken: torch.Tensor
    seconds: float
    settings: dict = field(default_factory=dict)


def _check_args(y, strategy, optimizer, steps, lr, restarts, tol):
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy={strategy!r}; expected one of {STRATEGIES}.")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}; expected one of {OPTIMIZERS}.")
    if steps < 1 or restarts < 1:
        raise ValueError(f"steps={steps}, restarts={restarts}; both must be >= 1.")
    if not lr > 0:
        raise ValueError(f"lr={lr}; expected a positive step size.")
    if tol is not None and not tol >= 0:
        raise ValueError(f"tol={tol}; expected a non-negative relative tolerance or None.")
    if y.ndim != 4:
        raise ValueError(f"y has shape {tuple(y.shape)}; expected (N, C, H, W).")


@torch.no_grad()
def recover(
    generator: torch.nn.Module,
    y: torch.Tensor,
    *,
    strategy: str = "stochastic",
    steps: int = 200,
    lr: float = 0.1,
    optimizer: str = "adam",
    restarts: int = 1,
    operator: Operator | None = None,
    seed: int | None = 0,
    device: str | torch.device = "auto",
    tol: float | None = None,
    patience: int = 20,
    z_init: torch.Tensor | None = None,
) -> RecoveryResult:
    """Recover latents for images ``y`` (N, C, H, W) in [-1, 1] and project them.

    strategy: "none", "project" or "stochastic" (see the module docstring).
    steps: gradient steps per image (at most, with ``tol``). lr: step size.
    optimizer: "adam" (per-image, per-component Adam, betas 0.9/0.999) or "sgd" (plain
    gradient descent on the per-image mean squared error).
    restarts: random starts per image; the start with the lowest final loss is kept.
    operator: observation operator A (default: identity, or ``operator_for(y)`` when y
    is grayscale or of another resolution than the generator's output).
    seed: seeds the initial latents (drawn on the CPU, so identical on every device) and
    the stochastic redraws; the same seed gives bit-identical results on the CPU.
    tol: per-image stopping rule; an image stops when its loss fell by less than a
    relative ``tol`` over the last ``patience`` steps. None runs every step.
    z_init: (N, nz) starting latents instead of random ones (restarts must be 1).

    Returns a RecoveryResult (CPU tensors).
    """
    _check_args(y, strategy, optimizer, steps, lr, restarts, tol)
    dev = resolve_device(device)
    was_training = generator.training
    generator.eval()
    try:
        param = next(generator.parameters())
        dev = param.device if param.device.type == dev.type else dev
        if param.device.type != dev.type:
            raise ValueError(f"the generator is on {param.device} but device={dev}; move "
                             "it with generator.to(device) first.")
        nz = generator.config.nz if hasattr(generator, "config") else 100
        out_c = generator.config.nc if hasattr(generator, "config") else 3
        if operator is None:
            operator = operator_for(y, out_c)
        t0 = time.perf_counter()
        n = y.shape[0]
        cpu_gen = torch.Generator().manual_seed(0 if seed is None else seed)
        if z_init is not None:
            if restarts != 1 or tuple(z_init.shape) != (n, nz):
                raise ValueError(f"z_init has shape {tuple(z_init.shape)}; expected "
                                 f"({n}, {nz}) with restarts=1.")
            z = z_init.detach().to(dev, torch.float32).clone()
        else:
            # Image-major draws: image i's starts do not depend on how many images follow.
            z = sample_latent(n * restarts, nz, cpu_gen, dev)
        dev_gen = torch.Generator(device=dev).manual_seed((0 if seed is None else seed) + 1)
        yy = y.to(dev, torch.float32).repeat_interleave(restarts, dim=0)
        m = n * restarts
        hist = torch.empty(steps, m, device=dev)
        active = torch.ones(m, dtype=torch.bool, device=dev)
        taken = torch.zeros(m, dtype=torch.long, device=dev)
        adam_m = torch.zeros_like(z)
        adam_v = torch.zeros_like(z)
        b1, b2, eps = 0.9, 0.999, 1e-8
        for t in range(steps):
            with torch.enable_grad():
                z.requires_grad_(True)
                per_image = (operator(generator(z)) - yy).pow(2).flatten(1).mean(1)
                (grad,) = torch.autograd.grad(per_image.sum(), z)
            z = z.detach()
            hist[t] = per_image.detach()
            if optimizer == "adam":
                adam_m.mul_(b1).add_(grad, alpha=1 - b1)
                adam_v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                step = (adam_m / (1 - b1 ** (t + 1))) / ((adam_v / (1 - b2 ** (t + 1))).sqrt() + eps)
            else:
                step = grad
            if tol is not None:
                step = step * active[:, None]
                taken += active
            new = z - lr * step
            if strategy == "project":
                new = project_to_box(new)
            elif strategy == "stochastic":
                new = stochastic_clip(new, dev_gen)
            z = torch.where(active[:, None], new, z) if tol is not None else new
            if tol is not None and t >= patience:
                prev = hist[t - patience]
                active &= (prev - hist[t]) > tol * prev
                # Checking for the end costs a host synchronisation: only now and then.
                if t % patience == 0 and not bool(active.any()):
                    hist[t + 1:] = hist[t]
                    break
        if tol is None:
            taken.fill_(steps)
        final = (operator(generator(z)) - yy).pow(2).flatten(1).mean(1)
        best = final.view(n, restarts).argmin(1) + torch.arange(n, device=dev) * restarts
        z_best = z[best]
        images = generator(z_best)
        t_last = min(t + 1, steps)
        history = hist[:t_last, best]
        if t_last < steps:
            history = torch.cat([history, history[-1:].expand(steps - t_last, -1)])
        return RecoveryResult(
            z=z_best.cpu(), images=images.cpu(), loss=final[best].cpu(),
            history=history.cpu(), steps_taken=taken[best].cpu(),
            seconds=time.perf_counter() - t0,
            settings=dict(strategy=strategy, steps=steps, lr=lr, optimizer=optimizer,
                          restarts=restarts, operator=repr(operator), seed=seed,
                          device=str(dev), tol=tol, patience=patience),
        )
    finally:
        generator.train(was_training)
