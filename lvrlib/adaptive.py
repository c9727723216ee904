"""Image-adaptive projection (IA-LVR) and its untrained control, the deep image prior.

LVR's output is a point of the generator's range; on real faces that range is too small
(the book measures LVR far below BM3D on CelebA test at every sigma). IA-LVR, after Abu
Hussein, Tirer & Giryes, "Image-Adaptive GAN based Reconstruction" (AAAI 2020), lets each
image move the generator: starting from LVR's latent z0 and the pretrained weights w0, it
minimises the mean squared residual ||A(G_w(z)) - y||^2 / pixels over z and w together,
for each image on its own, and stops by the discrepancy principle: at the first step at
which the residual has fallen to ``tau * sigma^2`` (sigma given, or estimated from y),
i.e. when the fit has explained everything but the noise. No clean image is needed.

The control, ``dip``, is the same network, loss and stop started from random weights
(deep image prior, Ulyanov et al. 2018): IA-LVR's margin over it is what the GAN prior
adds.

Per-image weights can be batched: the generator (batch norms folded,
``Generator.folded``) runs N images with N weight sets at once, each transposed
convolution as a batched matrix product, and each image's Adam state is its own slice,
so an image's result does not depend on its batch (up to float rounding). An image
leaves the batch when it stops. On a 2-core CPU one image at a time was measured faster
(``_default_batch``). Neither function modifies the caller's generator.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .dcgan import DCGANConfig, Generator, device_for, resolve_device, sample_latent
from .physics import Operator, operator_for, sigma_to_unit
from .recovery import recover

__all__ = ["AdaptiveResult", "ia_lvr", "ia_lvr_ensemble", "ensemble_plan", "ensemble_member",
           "ensemble_mean", "member_start", "dip",
           "backproject", "discrepancy_target", "IA_STEPS", "IA_LR", "IA_LR_Z", "DIP_STEPS",
           "DIP_LR", "TAU", "ENSEMBLE_MEMBERS", "SURE_EPS", "SURE_PATIENCE", "STOPS", "IA_STOP"]

# Defaults, chosen on CelebA-sample *training* faces (never the test images the book
# scores): see ``python benchmarks/adaptive_tune.py``.
# Measured there (8 faces, sigma 25/50/100; book/data/adaptive_tune_cpu): with IA_LR the
# discrepancy stop at TAU = 1 lands 0.1-0.3 dB below the best stopping point in
# hindsight; TAU 0.8 and 1.1 do worse at every sigma, TAU 0.9 is better at sigma 25 and
# worse at 50 and 100. A weight step size of 3e-5 is within 0.1 dB of IA_LR (either way)
# for two to three times the steps, 3e-4 loses 0.3-0.6 dB. DIP: 1e-2 beats 3e-3, and 3e-2
# diverges. (Adapting only some layers, tried by hand, moved PSNR by about 0.1 dB.)
IA_STEPS = 300       # most steps per image; the discrepancy stop usually comes first
IA_LR = 1e-4         # Adam step size of the generator's weights
IA_LR_Z = 1e-2       # Adam step size of the latent
DIP_STEPS = 600
DIP_LR = 1e-2
TAU = 1.0            # stop when the mean squared residual <= TAU * sigma^2
#: The Monte-Carlo SURE stop (ia_lvr(stop="sure")): the probe's size in [-1, 1] units
#: and the steps an image runs on after its last new least risk. Measured on 8 training
#: faces at sigma 25-100 (benchmarks/sure_stop.py, book/data/sure_stop_cpu): probes of
#: 0.05 and 0.1 gained +0.09 dB on average over the discrepancy stop (+0.21 at sigma 25,
#: -0.06 at 100), 0.01 lost at sigma 100; the SURE stop took 4 to 9 times the
#: adaptation's time, so the discrepancy principle stays IA-LVR's default (IA_STOP).
SURE_EPS = 5e-2
SURE_PATIENCE = 20
STOPS = ("discrepancy", "sure")
IA_STOP = "discrepancy"   # IA-LVR's default stop (benchmarks/sure_stop.py)
ENSEMBLE_MEMBERS = 2  # IA-LVR ensemble: the image and its mirror (benchmarks/ensemble_tune.py)


@dataclass
class AdaptiveResult:
    """What ``ia_lvr`` and ``dip`` return; all tensors on the CPU.

    images: (N, C, 64, 64) the adapted generator's output at the stop, in [-1, 1]
    (generator space; apply the operator for gray or smaller inputs).
    z: (N, nz) latents at the stop. steps_taken: (N,) steps before the stop.
    residual: (N,) mean squared residual at the stop ([-1, 1] units), target: (N,) the
    discrepancy target tau * sigma^2 it was compared with, sigma: (N,) the noise levels
    used (0..255 units), stopped: (N,) whether the target was reached (False: the step
    budget ran out first). history: (steps + 1, N) residual at every step (NaN after
    the image's stop). seconds: wall time of the whole call. risk: with the SURE stop
    (``ia_lvr(stop="sure")``), (steps + 1, N) the risk estimate at every step, else None;
    steps_taken is then the step of least estimated risk, whose fit is returned, and
    stopped says the risk had stopped falling before the budget ran out.
    """

    images: torch.Tensor
    z: torch.Tensor
    steps_taken: torch.Tensor
    residual: torch.Tensor
    target: torch.Tensor
    sigma: torch.Tensor
    stopped: torch.Tensor
    history: torch.Tensor
    seconds: float
    settings: dict = field(default_factory=dict)
    risk: torch.Tensor | None = None


def discrepancy_target(sigma, n: int, tau: float = TAU) -> torch.Tensor:
    """tau * sigma^2 in the [-1, 1] units of the residual, per image; sigma in 0..255
    pixel units (one number or one per image)."""
    s = torch.as_tensor(sigma, dtype=torch.float64).flatten()
    if s.numel() == 1:
        s = s.expand(n)
    if s.numel() != n:
        raise ValueError(f"sigma has {s.numel()} values for {n} images.")
    if bool((s < 0).any()) or not bool(torch.isfinite(s).all()):
        raise ValueError("sigma must be finite and >= 0 (0..255 pixel units).")
    if not tau > 0:
        raise ValueError(f"tau={tau}; expected > 0.")
    return (tau * sigma_to_unit(s) ** 2).to(torch.float32)


def backproject(x: torch.Tensor, y: torch.Tensor, weight: float) -> torch.Tensor:
    """IAGAN's back-projection for denoising (identity operator): x + weight * (y - x).

    With A = I the regularised back-projection x + A^T (A A^T + lambda I)^(-1) (y - A x)
    is this blend with weight = 1 / (1 + lambda): it moves the estimate back towards the
    observation. weight 0 returns x."""
    if x.shape != y.shape:
        raise ValueError(f"backproject needs images of one shape; got {tuple(x.shape)} "
                         f"and {tuple(y.shape)} (it is defined for the identity operator).")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight={weight}; expected 0..1.")
    return (x + weight * (y - x)).clamp(-1.0, 1.0)


# --------------------------------------------------------------------------- batched net
def _plan(folded: nn.Module):
    """The folded generator as a list of steps: ("conv", conv module) / ("relu",) /
    ("tanh",)."""
    plan = []
    for m in folded.main:
        if isinstance(m, nn.ConvTranspose2d) and m.groups == 1:
            plan.append(("conv", m))
        elif isinstance(m, nn.ReLU):
            plan.append(("relu", None))
        elif isinstance(m, nn.Tanh):
            plan.append(("tanh", None))
        else:
            raise ValueError(f"image-adaptive projection supports lvrlib's DCGAN generator "
                             f"(transposed convolutions, batch norms, ReLU, Tanh); found "
                             f"{type(m).__name__}.")
    return plan


def _forward(plan, weights, z: torch.Tensor) -> torch.Tensor:
    """Images (n, C, H, W) for latents z (n, nz) and per-image weights: weights[2l] is
    (n, Cout k k, Cin) and weights[2l + 1] is (n, Cout) for the l-th convolution
    (``_stacked_weights``).

    A transposed convolution with per-image weights is a batched matrix product (each
    input pixel times its image's weights gives a k x k patch per output channel)
    followed by ``fold``, which adds the overlapping patches up: measured 1.8x faster per
    step on this 2-core CPU than the same layer as a convolution with one group per
    image. The weights are kept in the product's own layout, so neither the product nor
    the gradient of the weights needs a transposed copy: 28 against 41 ms per step on one
    image (forward, backward and Adam; 2 threads)."""
    n = z.shape[0]
    x = z.reshape(n, -1, 1, 1)
    li = 0
    for kind, m in plan:
        if kind == "conv":
            w, b = weights[li], weights[li + 1]
            li += 2
            cin, kh, kw = m.in_channels, *m.kernel_size
            h, wd = x.shape[-2:]
            cols = torch.bmm(w, x.reshape(n, cin, h * wd))
            size = [(d - 1) * s - 2 * p + dl * (k - 1) + op + 1 for d, s, p, dl, k, op in
                    zip((h, wd), m.stride, m.padding, m.dilation, (kh, kw), m.output_padding)]
            x = F.fold(cols, size, (kh, kw), dilation=m.dilation, padding=m.padding,
                       stride=m.stride) + b[:, :, None, None]
        elif kind == "relu":
            x = F.relu(x)
        else:
            x = torch.tanh(x)
    return x


def _stacked_weights(plan, n: int) -> list[torch.Tensor]:
    """The folded generator's weights repeated for n images: per convolution its weight
    (Cin, Cout, k, k) as (n, Cout k k, Cin), contiguous, and its bias as (n, Cout)."""
    out = []
    for kind, m in plan:
        if kind == "conv":
            cin = m.weight.shape[0]
            w = m.weight.detach().reshape(cin, -1).t()
            out.append(w[None].repeat(n, 1, 1).contiguous())
            out.append(m.bias.detach()[None].repeat(n, 1).contiguous())
    return out


def _adam(params, lrs, states=None) -> torch.optim.Adam:
    """Adam (betas 0.9, 0.999) with one step size per tensor; the fused kernel where
    there is one (one pass over each tensor: measured five times faster than unfused
    arithmetic on the per-image weights). ``states`` carries the moments over when the
    batch shrinks."""
    fused = params[0].device.type in ("cpu", "cuda")
    opt = torch.optim.Adam([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)],
                           betas=(0.9, 0.999), eps=1e-8, fused=fused)
    for p, st in zip(params, states or []):
        opt.state[p] = st
    return opt


def _step_sizes(lr_w, lr_z, weights, fit_z) -> list:
    """One Adam step size per fitted tensor: the weights' (one number, or one per weight
    tensor), then the latent's when it is fitted."""
    if isinstance(lr_w, (list, tuple)) and len(lr_w) != len(weights):
        raise ValueError(f"lr has {len(lr_w)} step sizes; the generator has {len(weights)} "
                         "weight tensors (weight and bias of each layer).")
    return (list(lr_w) if isinstance(lr_w, (list, tuple)) else [lr_w] * len(weights)) \
        + ([lr_z] if fit_z else [])


def _adapt(plan, weights, z, y, operator, target, *, steps, lr_w, lr_z, fit_z, callback):
    """The loop shared by IA-LVR and DIP: per-image Adam on (weights, z), discrepancy stop,
    stopped images leave the batch."""
    n = z.shape[0]
    dev = z.device
    images = None                                # (n, C, H, W), made at the first stop
    z_out = z.detach().clone()
    taken = torch.full((n,), steps, dtype=torch.long)
    residual = torch.empty(n)
    stopped = torch.zeros(n, dtype=torch.bool)
    hist = torch.full((steps + 1, n), float("nan"))
    idx = torch.arange(n, device=dev)            # which images are still in the batch
    lrs = _step_sizes(lr_w, lr_z, weights, fit_z)
    params = [p.detach().requires_grad_(True) for p in
              ([*weights, z] if fit_z else weights)]
    opt = _adam(params, lrs)
    yy, tt = y, target.to(dev)
    for t in range(steps + 1):
        with torch.enable_grad():
            zz = params[-1] if fit_z else z
            out = _forward(plan, params[:len(weights)], zz)
            res = (operator(out) - yy).pow(2).flatten(1).mean(1)
            rd = res.detach()
            hist[t, idx.cpu()] = rd.cpu()
            if callback is not None:
                callback(t, idx.cpu(), out.detach())
            stop = rd <= tt
            if t == steps:
                stop = torch.ones_like(stop)
            if bool(stop.any()):
                where = idx[stop]
                if images is None:
                    images = out.new_empty(n, *out.shape[1:])
                images[where] = out.detach()[stop]
                z_out[where] = zz.detach()[stop]
                w_cpu = where.cpu()
                taken[w_cpu] = t
                residual[w_cpu] = rd[stop].cpu()
                stopped[w_cpu] = rd[stop].cpu() <= tt[stop].cpu()
            if bool(stop.all()):
                break
            grads = torch.autograd.grad(res.sum(), params)
        for p, g in zip(params, grads):
            p.grad = g.contiguous()   # the fused kernel reads memory in order
        # Adam is elementwise, so each image's slice of a tensor follows its own Adam.
        opt.step()
        if bool(stop.any()):
            keep = ~stop
            idx, yy, tt = idx[keep], yy[keep], tt[keep]
            states = [{k: (v[keep] if v.dim() > 0 else v) for k, v in opt.state[p].items()}
                      for p in params]
            params = [p.detach()[keep].requires_grad_(True) for p in params]
            opt = _adam(params, lrs, states)
            if not fit_z:
                z = z[keep]
    return images, z_out, taken, residual, stopped, hist


def _sure(res, obs, b, s2, eps):
    """Monte-Carlo SURE per image, per value: the residual ``res`` of the fit f (the first
    half of ``obs``) minus sigma^2, plus 2 sigma^2 times the divergence estimated from the
    fit to y + eps b (the second half): b.(f(y + eps b) - f(y)) / (eps d)."""
    n = res.shape[0]
    div = (b * (obs[n:] - obs[:n])).flatten(1).sum(1) / (eps * b[0].numel())
    return res - s2 + 2 * s2 * div


def _adapt_sure(plan, weights, z, y, operator, target, *, steps, lr_w, lr_z, fit_z,
                callback, sigma_u, eps, patience, seed):
    """IA-LVR stopped by Monte-Carlo SURE (Ramani, Blu & Unser 2008): each image runs
    twice side by side, on y and on y + eps b (b a seeded standard normal draw, eps in
    [-1, 1] units), with weights and Adam states of their own. At every step the risk
    estimate is ``|y - f|^2 / d - sigma^2 + 2 sigma^2 b.(f(y + eps b) - f(y)) / (eps d)``
    (d values per image, f the observed fit); the output is the fit at the step of least
    estimated risk, and an image ends ``patience`` steps after its last new least risk
    (or at the budget). ``target`` is not used to stop; ``residual`` and ``history`` are
    as ``_adapt``'s, and the risk estimates come back as a seventh value."""
    n = z.shape[0]
    dev = z.device
    g = torch.Generator().manual_seed(0 if seed is None else int(seed) + 7919)
    b = torch.randn(y.shape, generator=g).to(dev, y.dtype)
    yy = torch.cat([y, y + eps * b])
    s2 = sigma_u.to(dev, torch.float32) ** 2
    lrs = _step_sizes(lr_w, lr_z, weights, fit_z)
    zz0 = torch.cat([z, z])
    params = [torch.cat([w, w]).detach().requires_grad_(True) for w in weights]
    if fit_z:
        params.append(zz0.detach().clone().requires_grad_(True))
    opt = _adam(params, lrs)
    best = torch.full((n,), float("inf"), device=dev)
    best_t = torch.zeros(n, dtype=torch.long)
    images, z_out = None, z.detach().clone()
    residual = torch.empty(n)
    hist = torch.full((steps + 1, n), float("nan"))
    risk = torch.full((steps + 1, n), float("nan"))
    live = torch.ones(n, dtype=torch.bool)
    taken = torch.full((n,), steps, dtype=torch.long)
    for t in range(steps + 1):
        with torch.enable_grad():
            zz = params[-1] if fit_z else zz0
            out = _forward(plan, params[:len(weights)], zz)
            obs = operator(out)
            per = (obs - yy).pow(2).flatten(1).mean(1)
            res = per[:n].detach()
            r = _sure(res, obs.detach(), b, s2, eps)
            lv = live.to(dev)
            hist[t, live] = res.cpu()[live]
            risk[t, live] = r.cpu()[live]
            if callback is not None:
                callback(t, torch.arange(n)[live], out.detach()[:n][lv])
            better = (r < best) & lv
            if images is None:
                images = out.new_empty(n, *out.shape[1:])
            if bool(better.any()):
                images[better] = out.detach()[:n][better]
                z_out[better] = zz.detach()[:n][better]
                best[better] = r[better]
                best_t[better.cpu()] = t
                residual[better.cpu()] = res[better].cpu()
            done = live & ((t - best_t) >= patience)
            if t == steps:
                done = live.clone()
            taken[done] = t
            live &= ~done
            if not bool(live.any()):
                break
            grads = torch.autograd.grad(per.sum(), params)
        for p, gr in zip(params, grads):
            p.grad = gr.contiguous()
        opt.step()
    stopped = taken < steps
    return images, z_out, best_t, residual, stopped, hist, risk


def _default_batch(dev: torch.device) -> int:
    """Images adapted together. Each image's weights serve that image alone, so a batch
    adds no reuse of them, only memory traffic: on this project's 2-core CPU, 20 steps
    on 8 images took 0.87 s per image in one batch and 0.63 s one image at a time
    (``python benchmarks/adaptive_tune.py --only-batch-timing``, recorded in
    book/data/adaptive_tune_cpu), so the CPU takes one image at a time; a GPU runs a
    batch in parallel (not measured here)."""
    return 1 if dev.type == "cpu" else 64


def _threads(dev: torch.device, batches: int) -> int:
    """Batches adapted at once on the CPU: one per intra-op thread torch has (each batch
    then computes on one thread). An image's steps are small matrix products that two
    threads split poorly: on this project's 2-core CPU, 8 CelebA faces x 30 steps took
    6.38 s this way against 7.42 s one after the other on two threads for IA-LVR (6.06
    against 7.03 s for DIP), 1.16 times as fast, with the same images to the last bit."""
    if dev.type != "cpu" or batches < 2:
        return 1
    return max(1, min(torch.get_num_threads(), batches))


def _on_threads(run, starts, threads: int):
    """``[run(i) for i in starts]`` on ``threads`` Python threads, torch's intra-op
    threads set to one meanwhile (and restored): each batch's numbers are those of a
    one-thread run whatever the thread it lands on. torch releases the GIL in its
    kernels, so the threads compute at once."""
    from concurrent.futures import ThreadPoolExecutor
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(run, starts))
    finally:
        torch.set_num_threads(before)


def _adapt_in_batches(plan, z, y, op, target, batch_size, callback, sure=None, **kw):
    """``_adapt`` (or, with ``sure`` = dict(sigma_u=per-image sigma in [-1, 1] units, eps,
    patience, seed), ``_adapt_sure``) over consecutive batches of ``batch_size`` images,
    results joined; the last value is the risk estimates (None without ``sure``)."""
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}; expected >= 1.")
    n = z.shape[0]

    def run(i):
        j = min(n, i + batch_size)
        cb = None if callback is None else (
            lambda t, idx, out: callback(t, idx + i, out))
        args = (plan, _stacked_weights(plan, j - i), z[i:j], y[i:j], op, target[i:j])
        if sure is None:
            return (*_adapt(*args, callback=cb, **kw), None)
        return _adapt_sure(*args, callback=cb, **kw,
                           **{**sure, "sigma_u": sure["sigma_u"][i:j]})
    starts = list(range(0, n, batch_size))
    threads = _threads(z.device, len(starts))
    if threads == 1:
        parts = [run(i) for i in starts]
    else:
        parts = _on_threads(run, starts, threads)
    images, zs, taken, residual, stopped, hist, risk = zip(*parts)
    return (torch.cat(images), torch.cat(zs), torch.cat(taken), torch.cat(residual),
            torch.cat(stopped), torch.cat(hist, dim=1),
            None if risk[0] is None else torch.cat(risk, dim=1))


def _prepare(y, sigma, operator, device, nc):
    if y.dim() != 4:
        raise ValueError(f"y must be (N, C, H, W); got shape {tuple(y.shape)}.")
    if sigma is None or (isinstance(sigma, str) and sigma == "auto"):
        from .baselines import estimate_sigma
        sigma = estimate_sigma(y)
    op = operator_for(y, nc) if operator is None else operator
    return sigma, op


def _fit(plan, z0, y, sigma, target, op, dev, batch_size, callback, t0, settings,
         **kw) -> AdaptiveResult:
    """What ``ia_lvr`` and ``dip`` share once their network and start are ready: the
    batched fit with its stop, and the result on the CPU."""
    n = y.shape[0]
    with torch.no_grad():
        images, z, taken, residual, stopped, hist, risk = _adapt_in_batches(
            plan, z0, y.to(dev, torch.float32), op, target,
            _default_batch(dev) if batch_size is None else batch_size, callback, **kw)
    sig = torch.as_tensor(sigma, dtype=torch.float32).flatten().expand(n).clone()
    return AdaptiveResult(
        images=images.cpu(), z=z.cpu(), steps_taken=taken, residual=residual,
        target=target, sigma=sig, stopped=stopped, history=hist, risk=risk,
        seconds=time.perf_counter() - t0,
        settings={**settings, "operator": repr(op), "device": str(dev)})


def ia_lvr(generator: Generator, y: torch.Tensor, sigma=None, *,
           z_init: torch.Tensor | None = None, steps: int = IA_STEPS, lr: float = IA_LR,
           lr_z: float = IA_LR_Z, tau: float = TAU, operator: Operator | None = None,
           seed: int | None = 0, device: str | torch.device = "auto",
           batch_size: int | None = None, callback=None, stop: str = IA_STOP,
           sure_eps: float = SURE_EPS, sure_patience: int = SURE_PATIENCE) -> AdaptiveResult:
    """Image-adaptive LVR: refine the latent and the generator's weights per image.

    generator: lvrlib's DCGAN ``Generator`` (left unchanged). y: (N, C, H, W) noisy
    images in [-1, 1] (gray or smaller images go through ``operator``, default
    ``operator_for(y)``). sigma: noise std in 0..255 pixel units, one number or one per
    image; None or "auto" estimates it per image (``baselines.estimate_sigma``).
    z_init: (N, nz) starting latents; default: ``recover(generator, y, operator=...,
    seed=seed)`` (its time counts in ``seconds``). steps: most Adam steps per image; the
    discrepancy stop (mean squared residual <= tau * sigma^2) usually ends it sooner.
    lr, lr_z: Adam step sizes of the weights (a number, or a list with one per weight
    tensor: weight and bias of each layer in order; 0 freezes a tensor) and of the latent.
    batch_size: images adapted together (each with its own weights); default 1 on the
    CPU, where that was measured fastest, and 64 elsewhere. Results do not depend on it
    beyond float rounding (which can move an image's stop by a step).
    callback: for studies, called as ``callback(step, image_indices, images)`` after each
    forward pass with the images (generator space) of the images still in the batch.
    stop: "discrepancy" (``IA_STOP``, the default) or "sure": Monte-Carlo SURE
    (``_adapt_sure``: each image runs twice, on y and on y + sure_eps b, about twice the
    cost per step; the fit
    of least estimated risk is kept, an image ends ``sure_patience`` steps after its last
    new least risk, and ``tau`` is not used). Measured against the discrepancy stop and
    the best stop in hindsight on training faces: ``python benchmarks/sure_stop.py``.
    """
    if stop not in STOPS:
        raise ValueError(f"stop={stop!r}; expected one of {STOPS}.")
    if not isinstance(generator, Generator) or type(generator).forward is not Generator.forward:
        raise TypeError("ia_lvr needs lvrlib's DCGAN Generator (its layers are adapted "
                        f"per image); got {type(generator).__name__}.")
    if steps < 0:
        raise ValueError(f"steps={steps}; expected >= 0.")
    t0 = time.perf_counter()
    dev = device_for(generator, device)   # the generator's device; another one is refused
    sigma, op = _prepare(y, sigma, operator, dev, generator.config.nc)
    n = y.shape[0]
    target = discrepancy_target(sigma, n, tau)   # checks sigma before any work
    if z_init is None:
        z_init = recover(generator, y, operator=op, seed=seed, device=dev).z
    if tuple(z_init.shape) != (n, generator.config.nz):
        raise ValueError(f"z_init has shape {tuple(z_init.shape)}; expected "
                         f"({n}, {generator.config.nz}).")
    plan = _plan(generator.folded())      # a copy; the generator's mode is not touched
    return _fit(plan, z_init.detach().to(dev, torch.float32).clone(), y, sigma, target, op,
                dev, batch_size, callback, t0,
                dict(method="ia-lvr", steps=steps, lr=lr, lr_z=lr_z, tau=tau, seed=seed,
                     stop=stop, **({"sure_eps": sure_eps, "sure_patience": sure_patience}
                                   if stop == "sure" else {})),
                steps=steps, lr_w=lr, lr_z=lr_z, fit_z=True,
                sure=None if stop == "discrepancy" else dict(
                    sigma_u=sigma_to_unit(torch.as_tensor(sigma, dtype=torch.float32)
                                          .flatten().expand(n).clone()),
                    eps=sure_eps, patience=sure_patience, seed=seed))


def dip(y: torch.Tensor, sigma=None, *, config: DCGANConfig = DCGANConfig(),
        steps: int = DIP_STEPS, lr: float = DIP_LR, tau: float = TAU,
        operator: Operator | None = None, seed: int | None = 0,
        device: str | torch.device = "auto", batch_size: int | None = None,
        callback=None) -> AdaptiveResult:
    """Deep image prior with the DCGAN generator's architecture: the control of IA-LVR.

    Each image gets its own randomly initialised generator (``config``; PyTorch's default
    initialisation, seeded by ``seed``, the same for every image) and a fixed random
    latent from the prior; only the weights are fitted, by Adam at ``lr``, with the same
    discrepancy stop as ``ia_lvr``. Arguments otherwise as ``ia_lvr``.
    """
    if steps < 0:
        raise ValueError(f"steps={steps}; expected >= 0.")
    t0 = time.perf_counter()
    dev = resolve_device(device)
    sigma, op = _prepare(y, sigma, operator, dev, config.nc)
    n = y.shape[0]
    target = discrepancy_target(sigma, n, tau)   # checks sigma before any work
    g = torch.Generator().manual_seed(0 if seed is None else seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if seed is None else seed)
        net = Generator(config)
        for m in net.modules():      # PyTorch's default initialisation, not DCGAN's
            if isinstance(m, (nn.ConvTranspose2d, nn.BatchNorm2d)):
                m.reset_parameters()
    net = net.to(dev).eval()
    plan = _plan(net.folded())
    z0 = sample_latent(1, config.nz, g, dev).expand(n, -1).contiguous()
    return _fit(plan, z0, y, sigma, target, op, dev, batch_size, callback, t0,
                dict(method="dip", steps=steps, lr=lr, tau=tau, seed=seed),
                steps=steps, lr_w=lr, lr_z=0.0, fit_z=False)


def ensemble_plan(members: int) -> list[tuple[bool, int]]:
    """The members of an IA-LVR ensemble, in order, as (mirrored, start): member i adapts
    to the image itself (even i) or to its left-right mirror (odd i), from start number
    i // 2. Start 0 is LVR's latent for those images; start k >= 1 is LVR from a random
    start drawn with seed + k. Faces are nearly symmetric, so the mirror is a second
    observation of the same face with noise of its own arrangement."""
    if members < 1:
        raise ValueError(f"members={members}; an ensemble needs at least 1.")
    return [(i % 2 == 1, i // 2) for i in range(members)]


def member_start(generator: Generator, images: torch.Tensor, k: int, settings=None, *,
                 encoder=None, operator: Operator | None = None, seed: int = 0,
                 device: str | torch.device = "auto") -> torch.Tensor:
    """LVR's start number ``k`` of an ensemble member (``ensemble_plan``) for ``images``:
    ``recover`` with ``settings`` (default: recover()'s) and seed ``seed + k``, from the
    settings' own start for k = 0 and from a random start for k >= 1. (N, nz) latents."""
    from .settings import LVRSettings
    settings = LVRSettings() if settings is None else settings
    if k:
        settings = settings.replace(init="random")
    return recover(generator, images, settings, operator=operator, seed=seed + k,
                   device=device, encoder=encoder).z


def ensemble_member(generator: Generator, y: torch.Tensor, sigma, mirrored: bool,
                    z_init: torch.Tensor, **kw) -> AdaptiveResult:
    """One member of an IA-LVR ensemble: ``ia_lvr`` on y or on its left-right mirror
    (``mirrored``) from ``z_init`` (LVR's latents for those images: ``member_start``), its
    images mirrored back, so that they are estimates of y. ``kw`` as ``ia_lvr``."""
    r = ia_lvr(generator, y.flip(-1) if mirrored else y, sigma, z_init=z_init, **kw)
    if mirrored:
        r.images = r.images.flip(-1)
    return r


def ensemble_mean(members, y: torch.Tensor, operator: Operator, plan=None,
                  seconds: float | None = None) -> AdaptiveResult:
    """The ensemble of member results (``ensemble_member``, in ``plan`` order): images the
    members' mean (generator space), z, history and target those of member 0,
    steps_taken summed over the members, stopped when every member stopped, residual
    that of the mean against y through ``operator``, seconds (default: the members'
    sum) and ``settings["members"]`` the plan."""
    members = list(members)
    if not members:
        raise ValueError("an ensemble needs at least 1 member.")
    first = members[0]
    images = torch.stack([r.images for r in members]).mean(0)
    with torch.no_grad():
        y = y.to(images.device, torch.float32)
        residual = (operator(images) - y).pow(2).flatten(1).mean(1)
    return AdaptiveResult(
        images=images, z=first.z, steps_taken=sum(r.steps_taken for r in members),
        residual=residual.cpu(), target=first.target, sigma=first.sigma,
        stopped=torch.stack([r.stopped for r in members]).all(0), history=first.history,
        seconds=sum(r.seconds for r in members) if seconds is None else seconds,
        settings={**first.settings, "method": "ia-lvr-ensemble",
                  "members": plan if plan is not None else ensemble_plan(len(members))})


def ia_lvr_ensemble(generator: Generator, y: torch.Tensor, sigma=None, *,
                    members: int = ENSEMBLE_MEMBERS, z_init: torch.Tensor | None = None,
                    start=None, operator: Operator | None = None, seed: int = 0,
                    device: str | torch.device = "auto", **kw) -> AdaptiveResult:
    """The mean, in image space, of ``members`` IA-LVR runs on symmetries of y and on
    other starts (``ensemble_plan``); a mirrored member's output is mirrored back first
    (``ensemble_member``, averaged by ``ensemble_mean``).

    z_init: member 0's start (LVR's latents for y; default: ``start(y, 0)``). start:
    ``start(images, k) -> (N, nz)`` latents, LVR's start number k for those images
    (default: ``member_start`` with recover()'s default settings and ``seed``; its time
    counts in ``seconds``). Other arguments as ``ia_lvr`` (``kw``: steps, lr, lr_z, tau,
    batch_size). With members=1 this is ``ia_lvr(generator, y, sigma, z_init=...)``.

    Returns an ``AdaptiveResult`` (``ensemble_mean``), seconds those of the whole call.
    """
    t0 = time.perf_counter()
    dev = device_for(generator, device)
    sigma, op = _prepare(y, sigma, operator, dev, generator.config.nc)
    if start is None:
        def start(images, k):
            return member_start(generator, images, k, operator=op, seed=seed, device=dev)
    plan = ensemble_plan(members)
    runs = []
    for i, (mirrored, k) in enumerate(plan):
        zi = z_init if (i == 0 and z_init is not None) else start(
            y.flip(-1) if mirrored else y, k)
        runs.append(ensemble_member(generator, y, sigma, mirrored, zi, operator=op,
                                    seed=seed, device=dev, **kw))
    return ensemble_mean(runs, y.to(dev), op, plan, seconds=time.perf_counter() - t0)
