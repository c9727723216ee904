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

import math
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F

from .dcgan import Generator, resolve_device, sample_latent

__all__ = [
    "STRATEGIES",
    "RecoveryResult",
    "recover",
    "lr_schedule",
    "LR_SCHEDULES",
    "stochastic_clip",
    "project_to_box",
    "Operator",
    "Identity",
    "Grayscale",
    "Resize",
    "Compose",
    "operator_for",
    "latent_shape",
    "encode",
    "start_and_defaults",
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
    fresh = torch.empty_like(z).uniform_(-1.0, 1.0, generator=generator)
    return torch.where(z.abs() > 1.0, fresh, z)


def _stochastic_clip_(z: torch.Tensor, generator, fresh: torch.Tensor,
                      outside: torch.Tensor) -> None:
    """``stochastic_clip`` in place, drawing into the preallocated ``fresh`` and ``outside``
    (same draws, same result: the redraws use the generator exactly as stochastic_clip)."""
    fresh.uniform_(-1.0, 1.0, generator=generator)
    torch.gt(z.abs(), 1.0, out=outside)
    torch.where(outside, fresh, z, out=z)


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
LR_SCHEDULES = ("constant", "cosine", "step")


def lr_schedule(lr: float, steps: int, schedule: str = "constant") -> list[float]:
    """The step size of each of ``steps`` steps, as Python floats.

    "constant": ``lr`` throughout. "cosine": ``lr * (1 + cos(pi t / steps)) / 2``, from lr
    down towards 0 at the last step. "step": ``lr``, then ``lr / 10`` from half way and
    ``lr / 100`` from three quarters of the way.
    """
    if schedule == "constant":
        return [float(lr)] * steps
    if schedule == "cosine":
        return [lr * 0.5 * (1.0 + math.cos(math.pi * t / steps)) for t in range(steps)]
    if schedule == "step":
        return [lr * (0.1 if t >= steps // 2 else 1.0) * (0.1 if t >= (3 * steps) // 4 else 1.0)
                for t in range(steps)]
    raise ValueError(f"schedule={schedule!r}; expected one of {LR_SCHEDULES}.")


@dataclass
class RecoveryResult:
    """What ``recover`` returns; all tensors on the CPU.

    z: (N, nz) recovered latents. images: (N, C, 64, 64) = G(z), in [-1, 1].
    loss: (N,) final mean squared error per image in observation space ([-1, 1] units).
    history: (steps, N) loss of each image at each step (of its best restart; the last
    value repeats once an image has stopped). steps_taken: (N,) steps each image ran.
    snapshots: {k: (N, nz) latents after k steps} for the step counts asked for with
    ``snapshots`` (of the restart with the lowest loss at that point), and
    snapshot_seconds: {k: seconds from the start to that point}.
    """

    z: torch.Tensor
    images: torch.Tensor
    loss: torch.Tensor
    history: torch.Tensor
    steps_taken: torch.Tensor
    seconds: float
    settings: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)
    snapshot_seconds: dict = field(default_factory=dict)


def _check_args(y, strategy, optimizer, steps, lr, restarts, tol, schedule, snapshots):
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy={strategy!r}; expected one of {STRATEGIES}.")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}; expected one of {OPTIMIZERS}.")
    if (steps is not None and steps < 1) or restarts < 1:
        raise ValueError(f"steps={steps}, restarts={restarts}; both must be >= 1.")
    if lr is not None and not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr={lr}; expected a positive step size.")
    if tol is not None and not tol >= 0:
        raise ValueError(f"tol={tol}; expected a non-negative relative tolerance or None.")
    if schedule is not None and schedule not in LR_SCHEDULES:
        raise ValueError(f"schedule={schedule!r}; expected one of {LR_SCHEDULES}.")
    bad = [k for k in snapshots if not 1 <= k <= (steps or 10**9)]
    if bad:
        raise ValueError(f"snapshots={list(snapshots)}; every step count must be in 1..{steps}.")
    if y.ndim != 4:
        raise ValueError(f"y has shape {tuple(y.shape)}; expected (N, C, H, W).")


def _device_for(generator: torch.nn.Module, device) -> torch.device:
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


@contextmanager
def _channels_last_weights(module: torch.nn.Module):
    """Lend the module's 4-d weights to the convolutions in channels-last layout, and put
    the original tensors back afterwards (the values are the same; only the layout
    differs). On the CPU the convolutions (oneDNN) then run in NHWC: measured 12% fewer
    seconds per LVR step on the shipped generator at batch 64."""
    saved = []
    for p in module.parameters():
        if p.dim() == 4 and not p.is_contiguous(memory_format=torch.channels_last):
            saved.append((p, p.data))
            p.data = p.data.contiguous(memory_format=torch.channels_last)
    try:
        yield
    finally:
        for p, data in saved:
            p.data = data


def _fast_form(generator: torch.nn.Module, dev: torch.device):
    """The network the optimisation loop evaluates, and a context to run it in: for
    lvrlib's DCGAN generator (or a subclass that keeps its forward), the copy with batch
    norms folded into the convolutions (``Generator.folded``; the caller's module is not
    touched). On this 2-core CPU that saved about 4% of recover()'s time at batch 32
    (0.228 against 0.237 s per image, medians of three paired runs) and nothing
    measurable at batch 64 (``benchmarks/lvr_converge.py``, "batch norm not folded"). For any other
    module, the module itself with its weights lent in channels-last layout on the CPU."""
    if isinstance(generator, Generator) and type(generator).forward is Generator.forward:
        return generator.folded(channels_last=dev.type == "cpu"), nullcontext()
    return generator, (_channels_last_weights(generator) if dev.type == "cpu"
                       else nullcontext())


# Defaults. From a random start (no encoder for the generator): Adam at lr 0.1 with a
# cosine decay, the best single-start setting of `python benchmarks/lvr_speed.py --study`
# on real images after 200 steps, but not converged (see the Performance chapter). From an
# encoder's start (the shipped generator has one): ENCODER_STEPS projected Adam steps at
# ENCODER_LR, chosen by `python benchmarks/lvr_converge.py` (gap to the projection
# started at the true latents against seconds).
DEFAULT_STEPS = 200
DEFAULT_LR = 0.1
DEFAULT_SCHEDULE = "cosine"
ENCODER_STEPS = 50
ENCODER_LR = 0.1
ENCODER_SCHEDULE = "constant"
# Damping of the whitening, relative to the curvature's mean eigenvalue.
WHITEN_DAMPING = 1.0
INITS = ("auto", "encoder", "random")


def start_and_defaults(generator: torch.nn.Module, init: str = "auto",
                       encoder: torch.nn.Module | None = None, given: bool = False):
    """Where ``recover`` starts and the step count, step size and schedule it uses by
    default from there: ("given" | "encoder" | "random", the encoder or None,
    {"steps", "lr", "schedule"}). "auto" and "encoder" use ``encoder``, else the shipped
    encoder when the generator is the shipped generator."""
    start = "given" if given else init
    if start in ("auto", "encoder"):
        if encoder is None:
            from .encoder import shipped_encoder_for
            encoder = shipped_encoder_for(generator)
        if encoder is None and start == "encoder":
            raise ValueError("init='encoder' but no encoder was given and the generator is "
                             "not the shipped one; train one with lvrlib.encoder."
                             "train_encoder(generator) and pass encoder=.")
        start = "encoder" if encoder is not None else "random"
    if start == "encoder":
        return start, encoder, dict(steps=ENCODER_STEPS, lr=ENCODER_LR,
                                    schedule=ENCODER_SCHEDULE)
    return start, None, dict(steps=DEFAULT_STEPS, lr=DEFAULT_LR, schedule=DEFAULT_SCHEDULE)


@torch.no_grad()
def recover(
    generator: torch.nn.Module,
    y: torch.Tensor,
    *,
    strategy: str = "project",
    steps: int | None = None,
    lr: float | None = None,
    optimizer: str = "adam",
    restarts: int = 1,
    operator: Operator | None = None,
    seed: int | None = 0,
    device: str | torch.device = "auto",
    tol: float | None = None,
    patience: int = 20,
    z_init: torch.Tensor | None = None,
    init: str = "auto",
    encoder: torch.nn.Module | None = None,
    precondition: bool | torch.Tensor | None = None,
    schedule: str | None = None,
    snapshots: Sequence[int] = (),
    callback=None,
) -> RecoveryResult:
    """Recover latents for images ``y`` (N, C, H, W) in [-1, 1] and project them.

    generator: a module mapping (N, nz) latents to (N, C, 64, 64) images in [-1, 1]; nz
    is read from ``generator.config.nz``, else from its first layer.
    strategy: "none", "project" (the default) or "stochastic" (see the module docstring).
    init: where each image's refinement starts. "encoder": the latent an encoder predicts
    from y (``encoder``, or the shipped one when the generator is the shipped generator);
    "random": a draw from the prior; "auto" (the default): the encoder when there is
    one, else random. With ``restarts`` > 1 the first start is the encoder's and the
    others are random.
    steps: gradient steps per image (at most, with ``tol``); default ENCODER_STEPS from an
    encoder's start, DEFAULT_STEPS from a random one. lr: (initial) step size; default
    ENCODER_LR, resp. DEFAULT_LR.
    schedule: how the step size changes over the ``steps`` steps, see ``lr_schedule``
    ("cosine": from lr down to 0; "constant"; "step"); default ENCODER_SCHEDULE, resp.
    DEFAULT_SCHEDULE.
    optimizer: "adam" (per-image, per-component Adam, betas 0.9/0.999) or "sgd" (plain
    gradient descent on the per-image mean squared error, as the paper).
    precondition: take the steps in whitened coordinates z = z0 + P w, with
    P = (M + d I)^(-1/2) for the generator's average curvature M (``encoder.curvature``,
    see ``lvrlib.encoder.generator_curvature``) and d = WHITEN_DAMPING times its mean
    eigenvalue: the stiff directions of the latent no longer limit the step size. None
    (the default): when the encoder in use carries a curvature; True: always (computing
    the curvature when no encoder carries one, about 3200 forward passes); a tensor: use
    it as M; False: never.
    restarts: starts per image; the start with the lowest final loss is kept.
    operator: observation operator A (default: identity, or ``operator_for(y)`` when y
    is grayscale or of another resolution than the generator's output).
    seed: seeds the random starts (drawn on the CPU, so identical on every device) and
    the stochastic redraws; the same seed gives bit-identical results on the CPU.
    device: "auto" (the default) runs where the generator's parameters are; an explicit
    device must be that one. y is moved there.
    tol: per-image stopping rule; an image stops when its loss fell by less than a
    relative ``tol`` over the last ``patience`` steps. None runs every step.
    z_init: (N, nz) starting latents (the first start of each image); overrides ``init``.
    snapshots: step counts k at which to keep a copy of the latents (result.snapshots[k]),
    e.g. to draw PSNR against steps from one run.
    callback: called with no arguments after each generator pass (one per step, and one
    for the final images), e.g. to move a progress bar.

    Returns a RecoveryResult (CPU tensors); ``settings["init"]`` says which start was used.
    """
    if init not in INITS:
        raise ValueError(f"init={init!r}; expected one of {INITS}.")
    snapshots = sorted({int(k) for k in snapshots})
    _check_args(y, strategy, optimizer, steps, lr, restarts, tol, schedule, snapshots)
    dev = _device_for(generator, device)
    nz, nc = latent_shape(generator)
    start, encoder, defaults = start_and_defaults(generator, init, encoder, z_init is not None)
    steps = defaults["steps"] if steps is None else steps
    lr = defaults["lr"] if lr is None else lr
    schedule = defaults["schedule"] if schedule is None else schedule
    whiten = _whitening(generator, encoder if start == "encoder" else None, precondition, dev)
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"schedule={schedule!r}; expected one of {LR_SCHEDULES}.")
    if snapshots and snapshots[-1] > steps:
        raise ValueError(f"snapshots={snapshots}; every step count must be in 1..{steps}.")
    was_training = generator.training
    generator.eval()
    t0 = time.perf_counter()
    try:
        if start == "encoder":
            z_init = encode(encoder, y, nc=nc, device=dev)
        net, layout = _fast_form(generator, dev)
        with layout:
            res = _run(net, y, dev, nz=nz, nc=nc, strategy=strategy, steps=steps, lr=lr,
                       optimizer=optimizer, restarts=restarts, operator=operator,
                       seed=seed, tol=tol, patience=patience, z_init=z_init,
                       schedule=schedule, snapshots=snapshots, t0=t0, whiten=whiten,
                       callback=callback)
    finally:
        generator.train(was_training)
    res.settings["init"] = start
    res.settings["precondition"] = whiten is not None
    return res


def _whitening(generator, encoder, precondition, dev) -> torch.Tensor | None:
    """P = (M + d I)^(-1/2), scaled to a mean diagonal of 1, or None (no whitening)."""
    if precondition is False:
        return None
    if isinstance(precondition, torch.Tensor):
        M = precondition
    else:
        M = getattr(encoder, "curvature", None) if encoder is not None else None
        if M is not None and not bool(M.abs().sum() > 0):
            M = None
        if M is None and precondition:
            from .encoder import generator_curvature
            M = generator_curvature(generator)
        if M is None:
            return None
    M = M.detach().to("cpu", torch.float64)
    M = (M + M.T) / 2
    evals, evecs = torch.linalg.eigh(M)
    damp = WHITEN_DAMPING * float(evals.clamp_min(0).mean())
    P = evecs @ torch.diag((evals.clamp_min(0) + damp).rsqrt()) @ evecs.T
    P = P / P.diagonal().mean()
    return P.to(dev, torch.float32)


def latent_shape(generator: torch.nn.Module) -> tuple[int, int]:
    """(nz, channels) of a generator: from ``generator.config`` (``nz``, ``nc``) when it
    has one, else nz from its first layer (a Linear's in_features, a convolution's
    in_channels) and the channels from one forward pass (in eval mode: a batch of one
    through batch norm in training mode would fail; the mode is restored)."""
    cfg = getattr(generator, "config", None)
    if cfg is not None and hasattr(cfg, "nz") and hasattr(cfg, "nc"):
        return int(cfg.nz), int(cfg.nc)
    nz = next((m.in_features if isinstance(m, torch.nn.Linear) else m.in_channels
               for m in generator.modules()
               if isinstance(m, (torch.nn.Linear, torch.nn.ConvTranspose2d, torch.nn.Conv2d))),
              None)
    if nz is None:
        raise ValueError("cannot tell the generator's latent size: give it a `config.nz` "
                         "attribute, or make its first layer a Linear or ConvTranspose2d.")
    param = next(generator.parameters(), None)
    was_training = generator.training
    generator.eval()
    try:
        with torch.no_grad():
            z = torch.zeros(1, nz, device=param.device if param is not None else "cpu")
            return nz, int(generator(z).shape[1])
    finally:
        generator.train(was_training)


@torch.no_grad()
def encode(encoder: torch.nn.Module, y: torch.Tensor, *, nc: int = 3,
           device: str | torch.device = "cpu", batch_size: int = 256) -> torch.Tensor:
    """The encoder's latents for images y (N, C, H, W) in [-1, 1]: grayscale images are
    repeated to ``nc`` channels and other resolutions resized to 64x64 first (the encoder
    sees generator-shaped images). Eval mode; returns (N, nz) on ``device``."""
    was_training = encoder.training
    encoder.eval()
    try:
        out = []
        for i in range(0, y.shape[0], batch_size):
            x = y[i:i + batch_size].to(device, torch.float32)
            if x.shape[1] == 1 and nc != 1:
                x = x.expand(-1, nc, -1, -1)
            if x.shape[-1] != 64 or x.shape[-2] != 64:
                x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False,
                                  antialias=x.shape[-1] > 64)
            out.append(encoder(x.contiguous()))
        return torch.cat(out)
    finally:
        encoder.train(was_training)


def _run(generator, y, dev, *, nz, nc, strategy, steps, lr, optimizer, restarts, operator,
         seed, tol, patience, z_init, schedule, snapshots, t0, whiten=None,
         callback=None) -> RecoveryResult:
    """The optimisation loop of ``recover`` (arguments checked, generator in eval mode)."""
    if operator is None:
        operator = operator_for(y, nc)
    n = y.shape[0]
    cpu_gen = torch.Generator().manual_seed(0 if seed is None else seed)
    # Image-major draws: image i's starts do not depend on how many images follow.
    z = sample_latent(n * restarts, nz, cpu_gen, dev)
    if z_init is not None:
        if tuple(z_init.shape) != (n, nz):
            raise ValueError(f"z_init has shape {tuple(z_init.shape)}; expected ({n}, {nz}).")
        # The given start replaces each image's first start; the others stay random.
        z.view(n, restarts, nz)[:, 0] = z_init.detach().to(dev, torch.float32)
    dev_gen = torch.Generator(device=dev).manual_seed((0 if seed is None else seed) + 1)
    yy = y.to(dev, torch.float32).repeat_interleave(restarts, dim=0)
    m = n * restarts
    lrs = lr_schedule(lr, steps, schedule)
    # Every per-step buffer is allocated once; the loop below only launches kernels
    # and never waits for the device (except the stopping check every `patience` steps).
    hist = torch.empty(steps, m, device=dev)
    active = torch.ones(m, dtype=torch.bool, device=dev)
    active_f = torch.ones(m, 1, device=dev)
    taken = torch.zeros(m, dtype=torch.long, device=dev)
    adam_m = torch.zeros_like(z)
    adam_v = torch.zeros_like(z)
    denom = torch.empty_like(z)
    fresh = torch.empty_like(z)
    outside = torch.empty(z.shape, dtype=torch.bool, device=dev)
    b1, b2, eps = 0.9, 0.999, 1e-8
    snap_z: dict[int, torch.Tensor] = {}
    snap_s: dict[int, float] = {}
    want = set(snapshots)
    t = -1
    for t in range(steps):
        with torch.enable_grad():
            z.requires_grad_(True)
            per_image = (operator(generator(z)) - yy).pow(2).flatten(1).mean(1)
            (grad,) = torch.autograd.grad(per_image.sum(), z)
        z = z.detach()
        hist[t] = per_image.detach()
        if whiten is not None:
            # Steps in whitened coordinates w (z = z0 + w P): the gradient in w is g P,
            # and a step dw moves z by dw P.
            grad = grad @ whiten
        if optimizer == "adam":
            # torch.optim.Adam's arithmetic, per image and component, in place.
            adam_m.lerp_(grad, 1 - b1)
            adam_v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            torch.sqrt(adam_v, out=denom).div_(math.sqrt(1 - b2 ** (t + 1))).add_(eps)
            step = adam_m.div(denom)
            step_size = lrs[t] / (1 - b1 ** (t + 1))
        else:
            step, step_size = grad, lrs[t]
        if whiten is not None:
            step = step @ whiten
        if tol is not None:
            # Stopped images take a zero step: z - 0 == z exactly, and a z inside the
            # box is left alone by either clipping.
            step.mul_(active_f)
            taken += active
        z.sub_(step, alpha=step_size)
        if strategy == "project":
            z.clamp_(-1.0, 1.0)
        elif strategy == "stochastic":
            _stochastic_clip_(z, dev_gen, fresh, outside)
        if tol is not None and t >= patience:
            prev = hist[t - patience]
            active &= (prev - hist[t]) > tol * prev
            active_f.copy_(active[:, None])
            # Checking for the end costs a host synchronisation: only now and then.
            if t % patience == 0 and not bool(active.any()):
                break
        if callback is not None:
            callback()
        if t + 1 in want:
            snap_z[t + 1] = z.clone()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            snap_s[t + 1] = time.perf_counter() - t0
    if tol is None:
        taken.fill_(steps)
    last_images = generator(z)
    if callback is not None:
        callback()
    final = (operator(last_images) - yy).pow(2).flatten(1).mean(1)
    offset = torch.arange(n, device=dev) * restarts
    best = final.view(n, restarts).argmin(1) + offset
    z_best = z[best]
    images = last_images if restarts == 1 else last_images[best]
    t_last = min(t + 1, steps)
    history = hist[:t_last, best]
    if t_last < steps:
        # Every image had stopped: had the loop gone on, each would have recorded the
        # loss of its final (frozen) latent, whatever the rest of its batch.
        history = torch.cat([history, final[best][None].expand(steps - t_last, -1)])
    # Copies to the host wait for the device, so `seconds` counts all of its work.
    out = dict(z=z_best.cpu(), images=images.contiguous().cpu(), loss=final[best].cpu(),
               history=history.cpu(), steps_taken=taken[best].cpu())
    seconds = time.perf_counter() - t0
    snaps = {}
    for k in snapshots:
        if k < t_last:   # the loss after k steps is the one recorded at step k
            sel = hist[k].view(n, restarts).argmin(1) + offset
            snaps[k] = snap_z[k][sel].cpu()
        else:            # stopped early, or the last step: the final latents
            snaps[k] = out["z"]
            snap_s.setdefault(k, seconds)
    return RecoveryResult(
        **out, seconds=seconds,
        settings=dict(strategy=strategy, steps=steps, lr=lr, schedule=schedule,
                      optimizer=optimizer, restarts=restarts, operator=repr(operator),
                      seed=seed, device=str(dev), tol=tol, patience=patience),
        snapshots=snaps, snapshot_seconds={k: snap_s[k] for k in snapshots},
    )
