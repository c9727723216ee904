"""Latent vector recovery (LVR): project images onto the range of a generator.

Given images y, ``recover`` finds for each image the latent z that minimises
``mean((A(G(z)) - y)^2)`` by gradient descent, and returns G(z), the projection of y onto
the generator's range (A is an observation operator, :mod:`lvrlib.physics`, the identity
by default). How it runs (start, update rule, box treatment, steps) is an
``LVRSettings`` (:mod:`lvrlib.settings`); the loop below calls the update rule and the box
treatment of :mod:`lvrlib.updates`, and starts where :mod:`lvrlib.encoder` says.

Batch norm runs in eval mode and each image has its own loss, optimiser state and
stopping rule, so an image's result does not depend on the rest of its batch.
"""
from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Sequence

import torch

from .dcgan import Generator, device_for, eval_mode, latent_shape, sample_latent
from .encoder import encode, whitening
from .physics import Operator, operator_for
from .settings import PLATEAU_CUTS, PLATEAU_FACTOR, LVRSettings
from .updates import apply_box, lr_schedule, update_rule

__all__ = ["RecoveryResult", "recover"]

#: How often (in steps) the rows that have stopped leave the batch: each check waits for
#: the device once.
COMPACT_EVERY = 5


@dataclass
class RecoveryResult:
    """What ``recover`` returns; all tensors on the CPU.

    z: (N, nz) recovered latents. images: (N, C, 64, 64) = G(z), in [-1, 1].
    loss: (N,) final mean squared error per image in observation space ([-1, 1] units).
    history: (steps, N) loss of each image at each step (of its best restart; the final
    loss repeats once an image has stopped). steps_taken: (N,) steps each image ran.
    converged: (N,) bool, True where the stopping rule ended the image's refinement
    (its loss had stopped falling: ``LVRSettings.tol``), False where the step budget did
    (or a pruned start, which is never kept over a running one).
    settings: ``asdict()`` of the resolved ``LVRSettings`` that ran (its ``init`` says
    which start was used). operator, seed, device: the rest of the call.
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
    converged: torch.Tensor | None = None
    settings: dict = field(default_factory=dict)
    operator: str = ""
    seed: int | None = 0
    device: str = "cpu"
    snapshots: dict = field(default_factory=dict)
    snapshot_seconds: dict = field(default_factory=dict)


@torch.no_grad()
def recover(generator: torch.nn.Module, y: torch.Tensor, settings: LVRSettings | None = None,
            *, operator: Operator | None = None, seed: int | None = 0,
            device: str | torch.device = "auto", z_init: torch.Tensor | None = None,
            encoder: torch.nn.Module | None = None, curvature: torch.Tensor | None = None,
            snapshots: Sequence[int] = (), callback=None, **fields) -> RecoveryResult:
    """Recover latents for images ``y`` (N, C, H, W) in [-1, 1] and project them.

    generator: a module mapping (N, nz) latents to (N, C, 64, 64) images in [-1, 1]; nz
    is read from ``generator.config.nz``, else from its first layer.
    settings: an ``LVRSettings`` (default ``LVRSettings()``: projected L-BFGS until each
    image's loss stops falling, from the
    encoder's start when the generator has one, else from a random one); ``fields``
    (strategy=, steps=, lr=, optimizer=, schedule=, restarts=, init=, precondition=,
    tol=, patience=) change fields of it, e.g. ``recover(G, y, strategy="none")``.
    operator: observation operator A (default: identity, or ``operator_for(y)`` when y
    is grayscale or of another resolution than the generator's output).
    seed: seeds the random starts (drawn on the CPU, so identical on every device) and
    the stochastic redraws; the same seed gives bit-identical results on the CPU.
    device: "auto" (the default) runs where the generator's parameters are; an explicit
    device must be that one. y is moved there.
    z_init: (N, nz) starting latents (the first start of each image); overrides ``init``.
    encoder: the encoder whose latent starts the refinement (default: the shipped one for
    the shipped generator). curvature: an explicit generator curvature for the whitening.
    snapshots: step counts k at which to keep a copy of the latents (result.snapshots[k]),
    e.g. to draw PSNR against steps from one run.
    callback: called with no arguments after each generator pass (one per step, and one
    for the final images), e.g. to move a progress bar.

    Returns a RecoveryResult (CPU tensors).
    """
    settings = settings if settings is not None else LVRSettings()
    if fields:
        settings = settings.replace(**fields)
    snapshots = sorted({int(k) for k in snapshots})
    if y.ndim != 4:
        raise ValueError(f"y has shape {tuple(y.shape)}; expected (N, C, H, W).")
    dev = device_for(generator, device)
    nz, nc = latent_shape(generator)
    run, encoder = settings.resolve(generator, encoder, given_start=z_init is not None,
                                    curvature=curvature)
    if snapshots and not 1 <= snapshots[0] <= snapshots[-1] <= run.steps:
        raise ValueError(f"snapshots={snapshots}; every step count must be in 1..{run.steps}.")
    whiten = (whitening(generator, encoder, curvature, dev, prior=run.prior)
              if run.precondition else None)
    operator = operator if operator is not None else operator_for(y, nc)
    with eval_mode(generator):
        t0 = time.perf_counter()
        if run.init == "encoder":
            z_init = encode(encoder, y, nc=nc, device=dev)
        z0 = _starts(y.shape[0], run.restarts, nz, seed, z_init, dev, run.prior)
        net, layout = _fast_form(generator, dev)
        with layout:
            res = _run(net, y.to(dev, torch.float32), z0, run, operator=operator, seed=seed,
                       whiten=whiten, snapshots=snapshots, t0=t0, callback=callback)
    res.operator, res.seed, res.device = repr(operator), seed, str(dev)
    return res


def _starts(n: int, restarts: int, nz: int, seed, z_init, dev, prior: str) -> torch.Tensor:
    """(n * restarts, nz) starting latents, image-major (image i's starts do not depend on
    how many images follow): draws from the prior, the first of each image replaced by
    ``z_init`` when given."""
    cpu_gen = torch.Generator().manual_seed(0 if seed is None else seed)
    z = sample_latent(n * restarts, nz, cpu_gen, dev, prior)
    if z_init is not None:
        if tuple(z_init.shape) != (n, nz):
            raise ValueError(f"z_init has shape {tuple(z_init.shape)}; expected ({n}, {nz}).")
        z.view(n, restarts, nz)[:, 0] = z_init.detach().to(dev, torch.float32)
    return z


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




class _Stop:
    """The per-image stopping rule, for the rows (image starts) of one ``recover`` call.

    An image's loss has stopped falling when its lowest loss so far fell by less than a
    relative ``tol`` over the last ``patience`` steps (the lowest, not the last: under
    stochastic clipping a redraw can raise the loss for a while). Under the "plateau" schedule its step size is then cut
    by ``PLATEAU_FACTOR``, and it stops (converged) when its loss stops falling again after
    ``PLATEAU_CUTS`` cuts; under every other schedule it stops at once. tol None: no
    image stops before the budget. With restarts and ``prune_after``, each image keeps only
    its best start after that many steps (the others stop, not converged).

    ``rows`` are the rows still running (the loop refines only those); ``factor`` their
    step-size factor (0 once stopped); ``taken``/``converged`` are per row of the call.
    """

    def __init__(self, m: int, run: LVRSettings, dev):
        self.tol, self.patience, self.run = run.tol, run.patience, run
        self.rows = torch.arange(m, device=dev)
        self.factor = torch.ones(m, 1, device=dev)
        self.since = torch.zeros(m, dtype=torch.long, device=dev)
        self.cuts = torch.zeros(m, dtype=torch.long, device=dev)
        self.taken = torch.full((m,), run.steps, dtype=torch.long, device=dev)
        self.converged = torch.zeros(m, dtype=torch.bool, device=dev)
        self.best = (torch.full((run.steps, m), float("nan"), device=dev)
                     if run.tol is not None else None)
        self.m = m

    def update(self, hist: torch.Tensor, t: int) -> None:
        """After step t: cut step sizes and stop rows by the rule (and prune starts)."""
        run = self.run
        if self.tol is not None:
            # The lowest loss so far: a loss that rises (a stochastic redraw, a rejected
            # step) is not "stopped falling" until the best one has not improved.
            self.best[t] = hist[t] if t == 0 else torch.fmin(self.best[t - 1], hist[t])
        if self.tol is not None and t >= self.patience:
            prev, cur = self.best[t - self.patience, self.rows], self.best[t, self.rows]
            stalled = (t - self.since >= self.patience) & ~((prev - cur) > self.tol * prev)
            stalled &= self.factor[:, 0] > 0
            if run.schedule == "plateau":
                cut = stalled & (self.cuts < PLATEAU_CUTS)
                self.factor[cut] *= PLATEAU_FACTOR
                self.cuts += cut
                self.since[cut] = t
                stalled &= ~cut
            self._end(stalled, t, converged=True)
        if run.restarts > 1 and run.prune_after == t + 1:
            r = run.restarts
            loss = hist[t].clone()
            loss[self.taken < run.steps] = float("inf")   # stopped starts (frozen) lose
            keep = torch.zeros(self.m, dtype=torch.bool, device=loss.device)
            keep[loss.view(-1, r).argmin(1) + torch.arange(0, self.m, r, device=loss.device)] = True
            self._end(~keep[self.rows], t, converged=False)

    def _end(self, which: torch.Tensor, t: int, converged: bool) -> None:
        which = which & (self.factor[:, 0] > 0)
        self.factor[which] = 0.0
        self.taken[self.rows[which]] = t + 1
        self.converged[self.rows[which]] = converged

    def running(self) -> torch.Tensor:
        """Positions (in ``rows``) of the rows still running; a host synchronisation."""
        return (self.factor[:, 0] > 0).nonzero()[:, 0]

    def keep(self, pos: torch.Tensor) -> None:
        self.rows, self.factor = self.rows[pos], self.factor[pos]
        self.since, self.cuts = self.since[pos], self.cuts[pos]


def _run(net, y, z, run: LVRSettings, *, operator, seed, whiten, snapshots, t0,
         callback) -> RecoveryResult:
    """The optimisation loop of ``recover``: ``run`` resolved, z the (n * restarts, nz)
    starts, the generator in eval mode. Each step: the per-image loss and its gradient,
    the update rule's step (in whitened coordinates when ``whiten``: the gradient in w is
    g P and a step dw moves z by dw P), the per-image step-size factor, the box treatment.
    Every ``COMPACT_EVERY`` steps the rows that have stopped leave the batch."""
    steps, dev, m = run.steps, z.device, z.shape[0]
    yy = y.repeat_interleave(run.restarts, dim=0)
    dev_gen = torch.Generator(device=dev).manual_seed((0 if seed is None else seed) + 1)
    rule = update_rule(run.optimizer, z, whiten)
    lrs = lr_schedule(run.lr, steps, run.schedule)
    hist = torch.full((steps, m), float("nan"), device=dev)
    stop = _Stop(m, run, dev)
    z_all, za, ya, full = z, z, yy, True   # za: the running rows of z_all (all, while full)
    snap_z: dict[int, torch.Tensor] = {}
    snap_s: dict[int, float] = {}
    t = -1
    for t in range(steps):
        with torch.enable_grad():
            za.requires_grad_(True)
            per_image = (operator(net(za)) - ya).pow(2).flatten(1).mean(1)
            (grad,) = torch.autograd.grad(per_image.sum(), za)
        za = za.detach()
        za, hist[t, stop.rows] = rule.update(za, grad, per_image.detach(), t, lrs[t],
                                             stop.factor)
        za = apply_box(run.strategy, za, dev_gen, None if full else stop.rows, m)
        stop.update(hist, t)
        if callback is not None:
            callback()
        if (t + 1) % COMPACT_EVERY == 0 or t + 1 in snapshots or run.prune_after == t + 1:
            now = rule.current(za)
            z_all = now if full else z_all.index_copy(0, stop.rows, now)
            pos = stop.running()
            if len(pos) == 0:
                break
            if len(pos) < len(stop.rows):
                stop.keep(pos)
                rule.keep(pos)
                za, ya, full = za[pos], yy[stop.rows], False
        if t + 1 in snapshots:
            snap_z[t + 1] = z_all.clone()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            snap_s[t + 1] = time.perf_counter() - t0
    now = rule.current(za)
    z_all = now if full else z_all.index_copy(0, stop.rows, now)
    return _finish(net, operator, z_all, yy, hist, min(t + 1, steps), stop, run,
                   snapshots, snap_z, snap_s, t0, callback)


def _finish(net, operator, z, yy, hist, t_last, stop, run, snapshots, snap_z, snap_s, t0,
            callback) -> RecoveryResult:
    """The final images and losses; each image's best restart, its loss history (the
    final loss from the step it stopped) and its snapshots."""
    restarts = run.restarts
    n = yy.shape[0] // restarts
    last_images = net(z)
    if callback is not None:
        callback()
    final = (operator(last_images) - yy).pow(2).flatten(1).mean(1)
    # A row that left the batch (or every row, after the last step run) kept its final
    # latent: had it gone on recording, it would have recorded the final loss.
    hist = torch.where(hist.isnan(), final[None], hist)
    offset = torch.arange(n, device=z.device) * restarts
    best = final.view(n, restarts).argmin(1) + offset
    images = last_images if restarts == 1 else last_images[best]
    # Copies to the host wait for the device, so `seconds` counts all of its work.
    out = dict(z=z[best].cpu(), images=images.contiguous().cpu(), loss=final[best].cpu(),
               history=hist[:, best].cpu(), steps_taken=stop.taken[best].cpu(),
               converged=stop.converged[best].cpu())
    seconds = time.perf_counter() - t0
    snaps = {}
    for k in snapshots:
        if k < t_last:   # the loss after k steps is the one recorded at step k
            sel = hist[k].view(n, restarts).argmin(1) + offset
            snaps[k] = snap_z[k][sel].cpu()
        else:            # stopped early, or the last step: the final latents
            snaps[k] = out["z"]
            snap_s.setdefault(k, seconds)
    return RecoveryResult(**out, seconds=seconds, settings=run.asdict(), snapshots=snaps,
                          snapshot_seconds={k: snap_s[k] for k in snapshots})
