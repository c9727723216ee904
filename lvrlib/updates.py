"""The pieces latent recovery's loop is made of: step-size schedules, update rules and box
treatments (after deepinv's split of an optimisation loop from its iterators).

An update rule turns each step's gradient into a step: ``rule.step(grad, t, lr)`` returns
the direction d and the scale a, and the loop moves ``z <- z - a * d``. Rules keep one
state per latent (per image and restart), so an image's steps never depend on its batch.

A box treatment keeps z in the prior's box [-1, 1]^nz after each step; the paper compares
three: ``"none"``, ``"project"`` (projected gradient) and ``"stochastic"`` (stochastic
clipping, Lipton & Tripathi 2017).
"""
from __future__ import annotations

import math

import torch

from .settings import LR_SCHEDULES, OPTIMIZERS, STRATEGIES

__all__ = ["STRATEGIES", "OPTIMIZERS", "LR_SCHEDULES", "project_to_box", "stochastic_clip",
           "apply_box", "lr_schedule", "Adam", "GradientDescent", "update_rule"]

# --------------------------------------------------------------------------- box
def project_to_box(z: torch.Tensor) -> torch.Tensor:
    """Projected gradient: clamp every component of z to [-1, 1]."""
    return z.clamp(-1.0, 1.0)


def stochastic_clip(z: torch.Tensor, generator: torch.Generator | None = None,
                    rows: torch.Tensor | None = None, total: int | None = None) -> torch.Tensor:
    """Stochastic clipping: redraw every component outside [-1, 1] from Uniform[-1, 1].

    Components inside the box are returned unchanged. ``generator`` must live on z's
    device. ``rows``, ``total``: z holds these rows of a batch of ``total`` rows; the
    redraws are drawn for the whole batch and these rows taken, so a row's redraws do not
    depend on which other rows are still being refined. Returns a new tensor.
    """
    shape = (total, z.shape[1]) if rows is not None else z.shape
    fresh = torch.empty(shape, device=z.device).uniform_(-1.0, 1.0, generator=generator)
    if rows is not None:
        fresh = fresh[rows]
    return torch.where(z.abs() > 1.0, fresh, z)


def apply_box(strategy: str, z: torch.Tensor, generator: torch.Generator | None = None,
              rows: torch.Tensor | None = None, total: int | None = None):
    """z after the box treatment ``strategy`` ("none", "project" or "stochastic");
    ``rows``, ``total`` as for ``stochastic_clip``."""
    if strategy == "project":
        return project_to_box(z)
    if strategy == "stochastic":
        return stochastic_clip(z, generator, rows, total)
    if strategy == "none":
        return z
    raise ValueError(f"strategy={strategy!r}; expected one of {STRATEGIES}.")


# --------------------------------------------------------------------------- schedules
def lr_schedule(lr: float, steps: int, schedule: str = "constant") -> list[float]:
    """The step size of each of ``steps`` steps, as Python floats.

    "constant": ``lr`` throughout ("plateau" too: ``recover`` cuts it per image when the
    image's loss stops falling). "cosine": ``lr * (1 + cos(pi t / steps)) / 2``, from lr
    down towards 0 at the last step. "step": ``lr``, then ``lr / 10`` from half way and
    ``lr / 100`` from three quarters of the way.
    """
    if schedule in ("constant", "plateau"):   # plateau: cut per image by recover's loop
        return [float(lr)] * steps
    if schedule == "cosine":
        return [lr * 0.5 * (1.0 + math.cos(math.pi * t / steps)) for t in range(steps)]
    if schedule == "step":
        return [lr * (0.1 if t >= steps // 2 else 1.0) * (0.1 if t >= (3 * steps) // 4 else 1.0)
                for t in range(steps)]
    raise ValueError(f"schedule={schedule!r}; expected one of {LR_SCHEDULES}.")


# --------------------------------------------------------------------------- rules
class GradientDescent:
    """Plain gradient descent, as the paper: the step is the gradient, scaled by lr."""

    def __init__(self, z: torch.Tensor):
        pass

    def step(self, grad: torch.Tensor, t: int, lr: float) -> tuple[torch.Tensor, float]:
        return grad, lr

    def keep(self, rows: torch.Tensor) -> None:
        """Keep the state of these rows only (the others have stopped)."""


class Adam:
    """Adam (betas 0.9/0.999, eps 1e-8) per latent component, in place: the arithmetic of
    ``torch.optim.Adam`` with one state per row of z, buffers allocated once."""

    b1, b2, eps = 0.9, 0.999, 1e-8

    def __init__(self, z: torch.Tensor):
        self.m = torch.zeros_like(z)
        self.v = torch.zeros_like(z)
        self.denom = torch.empty_like(z)

    def step(self, grad: torch.Tensor, t: int, lr: float) -> tuple[torch.Tensor, float]:
        b1, b2 = self.b1, self.b2
        self.m.lerp_(grad, 1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        torch.sqrt(self.v, out=self.denom).div_(math.sqrt(1 - b2 ** (t + 1))).add_(self.eps)
        return self.m.div(self.denom), lr / (1 - b1 ** (t + 1))

    def keep(self, rows: torch.Tensor) -> None:
        """Keep the state of these rows only (the others have stopped)."""
        self.m, self.v, self.denom = self.m[rows], self.v[rows], self.denom[rows]


def update_rule(optimizer: str, z: torch.Tensor):
    """The update rule named ``optimizer`` ("adam" or "sgd"), with state shaped like z."""
    rules = {"adam": Adam, "sgd": GradientDescent}
    if optimizer not in rules:
        raise ValueError(f"optimizer={optimizer!r}; expected one of {OPTIMIZERS}.")
    return rules[optimizer](z)
