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
           "apply_box", "lr_schedule", "Adam", "GradientDescent", "LBFGS", "update_rule"]

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
class _StepRule:
    """A rule whose step depends on the gradient only (and its own state): ``update``
    moves z by ``- scale * factor * direction``, in whitened coordinates when given a
    whitening P (the gradient in w, z = z0 + w P, is g P, and a step dw moves z by dw P)."""

    def __init__(self, z: torch.Tensor, whiten: torch.Tensor | None = None):
        self.whiten = whiten

    def update(self, z, grad, loss, t: int, lr: float, factor) -> tuple[torch.Tensor, torch.Tensor]:
        """The next latents to evaluate (before the box treatment) and the loss to record
        for this step (the loss at z)."""
        P = self.whiten
        step, scale = self.step(grad if P is None else grad @ P, t, lr)
        if P is not None:
            step = step @ P
        return z.sub_(step.mul_(factor), alpha=scale), loss

    def current(self, z: torch.Tensor) -> torch.Tensor:
        """The latents the rule stands at: z itself (every step is taken)."""
        return z

    def keep(self, rows: torch.Tensor) -> None:
        """Keep the state of these rows only (the others have stopped)."""


class GradientDescent(_StepRule):
    """Plain gradient descent, as the paper: the step is the gradient, scaled by lr."""

    def step(self, grad: torch.Tensor, t: int, lr: float) -> tuple[torch.Tensor, float]:
        return grad.clone(), lr


class Adam(_StepRule):
    """Adam (betas 0.9/0.999, eps 1e-8) per latent component, in place: the arithmetic of
    ``torch.optim.Adam`` with one state per row of z, buffers allocated once."""

    b1, b2, eps = 0.9, 0.999, 1e-8

    def __init__(self, z: torch.Tensor, whiten: torch.Tensor | None = None):
        super().__init__(z, whiten)
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
        self.m, self.v, self.denom = self.m[rows], self.v[rows], self.denom[rows]


class LBFGS:
    """Limited-memory BFGS per image (the two-loop recursion of Nocedal & Wright, Algorithm
    7.4, with ``memory`` pairs), without a line search: each step is evaluated by the next
    pass of the loop, and a step that raised an image's loss is undone and that image's
    next step shortened (backtracking by quadratic interpolation); a step that lowered it
    doubles the step length back towards the full one.
    In whitened coordinates when given a whitening P. Every image has its own pairs and
    step length, so its steps never depend on its batch.

    The first step, with no pairs yet, moves each image by ``FIRST`` per component (root
    mean square, in whitened coordinates) along its gradient; later ones start from the
    usual scaling s'y / y'y of the newest pair.
    """

    memory = 16
    FIRST = 0.03

    def __init__(self, z: torch.Tensor, whiten: torch.Tensor | None = None):
        n, d = z.shape
        self.P = whiten
        self.Pinv = (torch.linalg.inv(whiten.double()).to(whiten) if whiten is not None
                     else None)
        self.S = z.new_zeros(self.memory, n, d)
        self.Y = z.new_zeros(self.memory, n, d)
        self.rho = z.new_zeros(self.memory, n)
        self.k = 0
        self.scale = z.new_ones(n, 1)
        self.z = self.loss = self.g = None

    def _w(self, v):
        return v if self.P is None else v @ self.P

    def _accept(self, z, gw, loss) -> None:
        """Keep the evaluated latents of the images whose loss did not rise, store their
        curvature pairs (s, y) where s'y > 0, undo the others."""
        if self.z is None:
            self.z, self.loss, self.g = z.clone(), loss.clone(), gw
            return
        ok = loss <= self.loss                   # False for NaN too
        s = z - self.z
        s = s if self.Pinv is None else s @ self.Pinv
        y = gw - self.g
        sy = (s * y).sum(1)
        add = ok & (sy > 0)
        i = self.k % self.memory
        self.S[i] = torch.where(add[:, None], s, 0.0)
        self.Y[i] = torch.where(add[:, None], y, 0.0)
        self.rho[i] = torch.where(add, 1.0 / sy.clamp_min(1e-30), 0.0)
        self.k += 1
        # An undone step: the next one is shortened to the minimum of the parabola through
        # the loss at the kept point, its slope along s and the loss at the rejected one
        # (between a tenth and a half of the rejected step).
        slope = (self.g * s).sum(1)
        curv = loss - self.loss - slope
        shrink = (-slope / (2 * curv).clamp_min(1e-30)).nan_to_num(0.5).clamp(0.1, 0.5)
        self.z = torch.where(ok[:, None], z, self.z)
        self.loss = torch.where(ok, loss, self.loss)
        self.g = torch.where(ok[:, None], gw, self.g)
        self.scale = torch.where(ok[:, None], (self.scale * 2).clamp_max(1.0),
                                 self.scale * shrink[:, None])

    def _direction(self) -> torch.Tensor:
        q = self.g.clone()
        order = [(self.k - 1 - j) % self.memory for j in range(self.memory)]
        alphas = []
        for i in order:                          # newest to oldest
            a = self.rho[i] * (self.S[i] * q).sum(1)
            q -= a[:, None] * self.Y[i]
            alphas.append(a)
        new = order[0]
        sy, yy = (self.S[new] * self.Y[new]).sum(1), (self.Y[new] * self.Y[new]).sum(1)
        first = self.FIRST * self.g.shape[1] ** 0.5 / self.g.norm(dim=1).clamp_min(1e-30)
        gamma = torch.where(self.rho[new] > 0, sy / yy.clamp_min(1e-30), first)
        r = gamma[:, None] * q
        for i, a in zip(reversed(order), reversed(alphas)):   # oldest to newest
            b = self.rho[i] * (self.Y[i] * r).sum(1)
            r += (a - b)[:, None] * self.S[i]
        return r

    def update(self, z, grad, loss, t: int, lr: float, factor) -> tuple[torch.Tensor, torch.Tensor]:
        """The next latents to evaluate and the loss to record: the lowest found so far."""
        self._accept(z, self._w(grad), loss)
        step = self._w(self._direction())
        return self.z - (lr * self.scale * factor) * step, self.loss

    def current(self, z: torch.Tensor) -> torch.Tensor:
        """The latents with the lowest loss found (not the last, unevaluated step)."""
        return self.z

    def keep(self, rows: torch.Tensor) -> None:
        self.S, self.Y, self.rho = self.S[:, rows], self.Y[:, rows], self.rho[:, rows]
        self.scale, self.z = self.scale[rows], self.z[rows]
        self.loss, self.g = self.loss[rows], self.g[rows]


def update_rule(optimizer: str, z: torch.Tensor, whiten: torch.Tensor | None = None):
    """The update rule named ``optimizer`` ("adam", "sgd" or "lbfgs"), with state shaped
    like z, stepping in the coordinates of the whitening ``whiten`` when given."""
    rules = {"adam": Adam, "sgd": GradientDescent, "lbfgs": LBFGS}
    if optimizer not in rules:
        raise ValueError(f"optimizer={optimizer!r}; expected one of {OPTIMIZERS}.")
    return rules[optimizer](z, whiten)
