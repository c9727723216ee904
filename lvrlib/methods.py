"""The denoising methods by name: one registry that ``experiments.evaluate``, the command
line and the book all read, for labels and for how each method runs.

A method runs from noisy images y ((N, C, H, W) in [-1, 1]) and the noise sigma (0..255
pixel units, one number or one per image) in a ``Context`` (generator, LVR settings,
sharpness vectors, seed, device). Methods that start from another's result say so
(``starts_from``): LVR-SA and IA-LVR start from the latents of "lvr", so
``run_methods`` runs LVR once for all of them, and ``evaluate`` can hand in its cached
LVR result instead. Outputs are in observation space: gray (and 25x25) inputs are
compared with the gray (resized) projection A(G(z)).
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .settings import LVRSettings

# The runners import torch and the method modules when they run, so that the registry
# (labels, keys) is cheap to read: ``lvrlib --help`` lists the methods without torch.

__all__ = ["Method", "METHODS", "Context", "Output", "run_method", "run_methods", "fuse", "observation_operator", "label",
           "short_label", "LVR_METHODS", "CLI_METHODS"]


@dataclass(frozen=True)
class Method:
    """One denoising method: its key, its labels and how it runs.

    label: in tables ("LVR-SA (true sigma)"); short: in the compact tables of the book's
    text column (non-breaking hyphens); name: the plain name (the CLI's sheet, "LVR-SA").
    family: "input", "lvr", "lvr-sa", "adaptive", "classical" or "fusion" (the mean image of
    the methods in ``fuses``). strategy: the box treatment of an LVR method (None: that of
    the LVR settings it runs with). blind: sigma estimated from y rather than given.
    """

    key: str
    label: str
    short: str
    name: str
    family: str
    needs_sigma: bool = True
    starts_from: str | None = None
    strategy: str | None = None
    blind: bool = False
    in_cli: bool = False
    fuses: tuple = ()


def _m(key, label, short, name, family, **kw) -> tuple[str, Method]:
    return key, Method(key, label, short, name, family, **kw)


# "LVR\u2011SA" has a non-breaking hyphen (U+2011): a narrow column wraps its header at
# spaces, never inside "LVR-SA". "lvr", the LVR of Tables 2 and 3 and of LVR-SA, runs
# with the box treatment of the LVR settings in use (strategy None): recover()'s default,
# projected, at convergence; stochastic clipping in the paper's regime
# (lvrlib.paper.paper_profile).
METHODS: dict[str, Method] = dict([
    _m("noisy", "noisy input", "noisy", "noisy", "input", needs_sigma=False),
    _m("lvr-none", "LVR, no clipping", "LVR no clip", "LVR", "lvr", needs_sigma=False,
       strategy="none"),
    _m("lvr-project", "LVR, projected gradient", "LVR projected", "LVR", "lvr",
       needs_sigma=False, strategy="project"),
    _m("lvr-stochastic", "LVR, stochastic clipping", "LVR stochastic", "LVR", "lvr",
       needs_sigma=False, strategy="stochastic"),
    _m("lvr", "LVR", "LVR", "LVR", "lvr", needs_sigma=False, in_cli=True),
    _m("lvr-sa", "LVR-SA (true sigma)", "LVR\u2011SA", "LVR-SA", "lvr-sa", starts_from="lvr",
       in_cli=True),
    _m("lvr-sa-blind", "LVR-SA (blind)", "LVR\u2011SA blind", "LVR-SA", "lvr-sa",
       starts_from="lvr", blind=True),
    _m("ia-lvr", "IA-LVR (true sigma)", "IA\u2011LVR", "IA-LVR", "adaptive",
       starts_from="lvr", in_cli=True),
    _m("ia-lvr-ensemble", "IA-LVR ensemble (true sigma)", "IA\u2011LVR ens.", "IA-LVR ensemble",
       "adaptive", starts_from="lvr", in_cli=True),
    _m("dip", "DIP (true sigma)", "DIP", "DIP", "adaptive"),
    _m("bm3d", "BM3D (true sigma)", "BM3D", "BM3D", "classical", in_cli=True),
    # Not a GAN prior alone: the mean of the ensemble's image and BM3D's.
    _m("ensemble+bm3d", "IA-LVR ensemble + BM3D, fused (true sigma)", "ens.+BM3D",
       "IA-LVR ensemble + BM3D", "fusion", fuses=("ia-lvr-ensemble", "bm3d")),
    _m("bm3d-blind", "BM3D (blind)", "BM3D blind", "BM3D", "classical", blind=True),
    _m("nlm", "non-local means", "NLM", "NLM", "classical"),
    _m("tv", "total variation", "TV", "TV", "classical"),
])
LVR_METHODS = tuple(k for k, m in METHODS.items() if m.family == "lvr")
CLI_METHODS = tuple(k for k, m in METHODS.items() if m.in_cli)


def label(key: str) -> str:
    """The table label of a method (the key itself for a name that is not a method)."""
    return METHODS[key].label if key in METHODS else key


def short_label(key_or_label: str) -> str:
    """The compact-table label of a method, from its key or its table label."""
    for m in METHODS.values():
        if key_or_label in (m.key, m.label):
            return m.short
    return key_or_label


@dataclass
class Context:
    """What methods run with: the generator (LVR family), the LVR settings, the sharpness
    vectors (LVR-SA; a ``SharpnessBank`` or a function returning one, called when first
    needed), the seed of every random draw, the device, the adaptive step budgets (None:
    lvrlib.adaptive's defaults), and ``progress(key, y)``: a function returning the
    callback a method's generator passes call (LVR: once per step; IA-LVR: per batch
    step, with the images' indices), or None."""

    generator: "torch.nn.Module | None" = None
    lvr: LVRSettings = field(default_factory=LVRSettings)
    encoder: "torch.nn.Module | None" = None   # LVR's start (None: the shipped one, if any)
    bank: object = None
    seed: int = 0
    device: str = "auto"
    ia_steps: int | None = None
    dip_steps: int | None = None
    progress: Callable | None = None

    def sharpness(self):
        if callable(self.bank) and not hasattr(self.bank, "at"):
            self.bank = self.bank()
        if self.bank is None:
            raise ValueError("LVR-SA needs sharpness vectors: give the context a bank.")
        return self.bank

    def callback(self, key: str, y: "torch.Tensor"):
        return self.progress(key, y) if self.progress is not None else None


@dataclass
class Output:
    """A method's output on a batch: images (observation space, CPU), seconds for the
    batch (including the run it started from), and what the method knows besides: z and
    loss (LVR), the sigma it used, and extras (residual: the mean squared error between
    the output and y in [-1, 1] units, for the GAN methods; steps_taken, stopped, ...)."""

    images: "torch.Tensor"
    seconds: float
    z: "torch.Tensor | None" = None
    loss: "torch.Tensor | None" = None
    sigma_used: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


def _sigmas(y: "torch.Tensor", sigma, blind: bool) -> np.ndarray:
    """One sigma per image: estimated (blind), else the given number or sequence."""
    if blind:
        from .baselines import estimate_sigma
        return estimate_sigma(y)
    if sigma is None or (not np.isscalar(sigma) and any(v is None for v in sigma)):
        raise ValueError("this method needs the noise sigma (0..255 pixel units).")
    s = np.asarray(sigma, dtype=np.float64).reshape(-1)
    if s.size not in (1, len(y)) or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"sigma={sigma!r}; expected one finite sigma >= 0 (0..255 pixel "
                         f"units) or one per image ({len(y)}).")
    return np.full(len(y), float(s[0])) if s.size == 1 else s


def observation_operator(G, y):
    """The operator from a generator's images to observations shaped like y (gray,
    resized: ``physics.operator_for``); outputs are compared in that space."""
    from .dcgan import latent_shape
    from .physics import operator_for
    return operator_for(y, latent_shape(G)[1])


def _run_lvr(m: Method, y, sigma, ctx: Context, start) -> Output:
    import torch

    from .recovery import recover

    G = ctx.generator
    op = observation_operator(G, y)
    box = {} if m.strategy is None else {"strategy": m.strategy}   # None: ctx.lvr's own
    res = recover(G, y, ctx.lvr, **box, operator=op, seed=ctx.seed,
                  device=ctx.device, encoder=ctx.encoder, callback=ctx.callback(m.key, y))
    with torch.no_grad():
        out = op(res.images)
    return Output(out, res.seconds, z=res.z, loss=res.loss,
                  extra={"steps_taken": res.steps_taken, "settings": res.settings,
                         "residual": res.loss})


def _run_lvr_sa(m: Method, y, sigma, ctx: Context, start: Output) -> Output:
    import torch

    from .sharpness import lvr_sa

    G, bank = ctx.generator, ctx.sharpness()
    sig = _sigmas(y, sigma, m.blind)
    t0 = time.perf_counter()
    s = torch.stack([bank.at(float(v)) for v in sig])
    out = lvr_sa(G, start.z, s, observation_operator(G, y))
    seconds = start.seconds + time.perf_counter() - t0
    residual = (out - y.to(out.device, out.dtype)).pow(2).flatten(1).mean(1)
    return Output(out, seconds, z=start.z, sigma_used=sig, extra={"residual": residual})


def _run_adaptive(m: Method, y, sigma, ctx: Context, start: Output | None) -> Output:
    import torch

    from .adaptive import dip, ia_lvr, ia_lvr_ensemble, member_start

    G = ctx.generator
    op = observation_operator(G, y)
    sig = _sigmas(y, sigma, m.blind)
    s = sig.tolist()
    kw = dict(operator=op, seed=ctx.seed, device=ctx.device, callback=ctx.callback(m.key, y))
    if m.key == "ia-lvr":
        steps = {} if ctx.ia_steps is None else {"steps": ctx.ia_steps}
        res = ia_lvr(G, y, s, z_init=start.z, **steps, **kw)
        seconds = start.seconds + res.seconds
    elif m.key == "ia-lvr-ensemble":
        steps = {} if ctx.ia_steps is None else {"steps": ctx.ia_steps}
        lvr_start = functools.partial(member_start, G, settings=ctx.lvr, encoder=ctx.encoder,
                                      operator=op, seed=ctx.seed, device=ctx.device)
        kw.pop("callback")
        res = ia_lvr_ensemble(G, y, s, z_init=start.z, start=lvr_start, **steps, **kw)
        seconds = start.seconds + res.seconds
    else:
        steps = {} if ctx.dip_steps is None else {"steps": ctx.dip_steps}
        res = dip(y, s, config=G.config, **steps, **kw)
        seconds = res.seconds
    with torch.no_grad():
        out = op(res.images)
    return Output(out, seconds, z=res.z, sigma_used=sig,
                  extra={"steps_taken": res.steps_taken, "stopped": res.stopped,
                         "residual": res.residual})


def _run_classical(m: Method, y, sigma, ctx: Context, start) -> Output:
    from . import baselines

    t0 = time.perf_counter()
    sig = _sigmas(y, sigma, m.blind)
    out = baselines.CLASSICAL[m.key.replace("-blind", "")](y, sig)
    return Output(out, time.perf_counter() - t0, sigma_used=sig)


def _run_input(m: Method, y, sigma, ctx: Context, start) -> Output:
    return Output(y, 0.0)


def fuse(parts: Sequence[Output]) -> Output:
    """The mean image of several methods' outputs on the same images (a fusion method);
    its seconds are theirs summed."""
    import torch
    return Output(torch.stack([p.images for p in parts]).mean(0),
                  sum(p.seconds for p in parts))


def _run_fusion(m: Method, y, sigma, ctx: Context, start) -> Output:
    return fuse(list(run_methods(m.fuses, y, sigma, ctx).values()))


_RUNNERS = {"input": _run_input, "lvr": _run_lvr, "lvr-sa": _run_lvr_sa,
            "adaptive": _run_adaptive, "classical": _run_classical, "fusion": _run_fusion}


def run_method(key: str, y: "torch.Tensor", sigma, ctx: Context, *,
               start: Output | None = None) -> Output:
    """Run one method on images y at noise ``sigma`` (0..255 pixel units; a number or one
    per image; ignored by methods that need none). A method that ``starts_from`` another
    needs that method's Output as ``start``."""
    if key not in METHODS:
        raise ValueError(f"method={key!r}; expected one of {tuple(METHODS)}.")
    m = METHODS[key]
    if m.starts_from is not None and start is None:
        raise ValueError(f"{key} starts from the result of {m.starts_from}: pass start=.")
    return _RUNNERS[m.family](m, y, sigma, ctx, start)


def run_methods(keys: Sequence[str], y: "torch.Tensor", sigma, ctx: Context,
                done: dict | None = None) -> dict[str, Output]:
    """Run several methods on the same images, each method that others start from once
    (LVR for LVR-SA and IA-LVR). ``done``: outputs already computed, by key."""
    out: dict[str, Output] = dict(done or {})
    for key in keys:
        if key in out:
            continue
        if key in METHODS and METHODS[key].family == "fusion":   # its parts run once too
            parts = run_methods(METHODS[key].fuses, y, sigma, ctx, done=out)
            out.update(parts)
            out[key] = fuse(list(parts.values()))
            continue
        src = METHODS[key].starts_from if key in METHODS else None
        if src is not None and src not in out:
            out[src] = run_method(src, y, sigma, ctx)
        out[key] = run_method(key, y, sigma, ctx, start=out.get(src))
    return {k: out[k] for k in keys}
