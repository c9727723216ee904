"""The paper's experiments as cached functions: the notebooks are thin calls into these.

An experiment cell is (image set, noise sigma, method). Its inputs are fixed by a seed:

- generated sets: z_i drawn from the prior with ``torch.Generator().manual_seed(seed)``
  ("generated") or ``seed + 1000`` ("generated-fresh"), x_i = G(z_i);
- real sets: the first n images of CelebA-sample test, Olivetti, LFW-subset (or, in the
  ``paper`` profile, full CelebA test and LFW folders from ``$LVRLIB_CELEBA_ROOT`` and
  ``$LVRLIB_LFW_ROOT``);
- noise: ``add_noise(x, sigma, Generator(seed + 1))`` (the same standard normal draws,
  scaled, at every sigma);
- every method's own draws (LVR's starts, IA-LVR, DIP): seed + 2.

Methods are the keys of ``lvrlib.methods.METHODS`` (labels and how each runs live there).
Gray sets are denoised through the observation operator (RGB -> gray, resize), and
their outputs are compared in that gray observation space.

Every expensive result is cached on disk (``lvrlib.cache``) under a key made of its
parameters (the LVR settings as ``LVRSettings.asdict()``) and lvrlib's code, so an
unchanged rebuild of the book is fast and a changed library recomputes.
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .cache import cached
from .checkpoints import load_generator, read_metadata
from .data import celeba, celeba_sample, lfw, lfw_subset, olivetti
from .dcgan import generated_images, resolve_device
from .methods import METHODS, Context, Output, fuse, label, observation_operator, run_method
from .metrics import MeanCI, mean_ci, paired_diff, psnr, ssim
from .physics import noisy_copy
from .profiles import Profile
from .recovery import recover
from .settings import PRIOR_STRATEGY, LVRSettings, prior_of
from .sharpness import SharpnessBank

__all__ = [
    "SETS", "SET_LABELS", "SHORT_SET_LABELS",
    "clean_set", "noisy_set", "evaluate", "bank_for", "Scores", "generator_for",
    "summary_table", "paired_table", "compute_curve", "lvr_description", "first", "set_size",
]

SETS = ("generated", "generated-fresh", "celeba-test", "olivetti", "lfw-subset", "lfw")
SET_LABELS = {
    "generated": "generated (s estimated here)",
    "generated-fresh": "generated, fresh",
    "celeba-test": "CelebA test",
    "olivetti": "Olivetti (unseen, gray)",
    "lfw-subset": "LFW subset (unseen, gray 25x25)",
    "lfw": "LFW (unseen)",
}
# The same sets in the compact tables of the book's text column.
SHORT_SET_LABELS = {
    "generated": "generated (s fitted)", "generated-fresh": "generated, fresh",
    "celeba-test": "CelebA test", "olivetti": "Olivetti", "lfw-subset": "LFW subset",
    "lfw": "LFW",
}


def _checkpoint_sha256(checkpoint: str | None) -> str:
    # Part of every cell's key: a generator retrained in place must not hit old results.
    return read_metadata(checkpoint)["weights_sha256"]


@functools.lru_cache(maxsize=4)
def _load_generator(checkpoint: str | None, device: str, sha256: str):
    return load_generator(checkpoint, device=device)


def generator_for(checkpoint: str | None, device: str = "cpu"):
    """The generator of a checkpoint (None: the shipped one), loaded once per process."""
    return _load_generator(checkpoint, device, _checkpoint_sha256(checkpoint))


def clean_set(name: str, n: int, seed: int = 0, *, celeba_source: str = "sample",
              checkpoint: str | None = None, device: str = "cpu"):
    """The clean images of a set, (n, C, H, W) in [-1, 1], and their true latents (or None)."""
    if name in ("generated", "generated-fresh"):
        return generated_images(generator_for(checkpoint, device), n,
                                seed + (1000 if name == "generated-fresh" else 0), device)
    if name == "celeba-test":
        if celeba_source == "full":
            root = os.environ.get("LVRLIB_CELEBA_ROOT")
            if not root:
                raise ValueError("the paper profile reads full CelebA from $LVRLIB_CELEBA_ROOT "
                                 "(a folder with img_align_celeba/ and list_eval_partition.txt).")
            return celeba(root, "test", limit=n), None
        return celeba_sample("test", limit=n), None
    if name == "olivetti":
        return olivetti(limit=n), None
    if name == "lfw-subset":
        return lfw_subset(limit=n), None
    if name == "lfw":
        root = os.environ.get("LVRLIB_LFW_ROOT")
        if not root:
            raise ValueError("the 'lfw' set reads LFW from $LVRLIB_LFW_ROOT (the lfw/ or "
                             "lfw-deepfunneled/ folder).")
        return lfw(root, limit=n), None
    raise ValueError(f"set={name!r}; expected one of {SETS}.")


def noisy_set(name: str, sigma: float, n: int, seed: int = 0, **kw):
    """(clean, noisy, true z or None) for a set at noise ``sigma`` (0..255 pixel units):
    the one noisy set of the book, the benchmarks and the recipes."""
    x, z = clean_set(name, n, seed, **kw)
    return x, noisy_copy(x, sigma, seed), z


def _context(lvr: dict | None, seed: int, checkpoint, device, **kw) -> Context:
    return Context(generator=generator_for(checkpoint, device),
                   lvr=LVRSettings(**lvr) if lvr is not None else LVRSettings(),
                   seed=seed + 2, device=device, **kw)


def _scores(out: Output, x: torch.Tensor, **extra) -> dict:
    """A cell's results: per-image scores and every output image (``evaluate`` keeps the
    first few in its ``Scores``; a smaller cell and a fusion read them all)."""
    return {"psnr": psnr(out.images, x), "ssim": ssim(out.images, x),
            "seconds": float(out.seconds), "images": out.images, **extra}


def first(r: dict, n: int) -> dict:
    """A cell's results for its first ``n`` images: the same images with the same noise
    as a cell of ``n`` images (``noisy_set`` draws them in order), for a method that
    treats each image on its own (its result on an image does not depend on the rest of
    the batch). Per-image arrays are cut, the seconds prorated."""
    big = len(r["psnr"])
    if n > big:
        raise ValueError(f"first: {n} images asked of a cell of {big}.")
    if n == big:
        return r
    out = {}
    for k, v in r.items():
        if k == "seconds":
            out[k] = float(v) * n / big
        elif getattr(v, "ndim", 0) >= 1 and v.shape[0] == big:
            out[k] = v[:n]
        else:
            out[k] = v
    return out


def _box(lvr: dict, checkpoint, key: str = "lvr") -> str:
    """The box treatment the LVR method ``key`` runs with under the settings ``lvr``
    (asdict): the method's own, else the settings' (else their generator's prior's)."""
    if METHODS[key].strategy is not None:
        return METHODS[key].strategy
    if lvr.get("strategy") is not None:
        return lvr["strategy"]
    prior = lvr.get("prior") or prior_of(generator_for(checkpoint, "cpu"))
    return PRIOR_STRATEGY[prior]


@cached("lvr")
def _lvr_cell(*, set_name, sigma, strategy, n, seed, lvr, celeba_source, checkpoint,
              checkpoint_sha256, device):
    # Keyed by the box treatment: "lvr" and "lvr-project" are one cell.
    x, y, z_true = noisy_set(set_name, sigma, n, seed, celeba_source=celeba_source,
                             checkpoint=checkpoint, device=device)
    out = run_method(f"lvr-{strategy}", y, sigma, _context(lvr, seed, checkpoint, device))
    extra = {}
    if z_true is not None:
        extra["z_mse"] = ((out.z - z_true) ** 2).mean(1).numpy()
    return _scores(out, x, z=out.z, loss=out.loss, steps_taken=out.extra["steps_taken"],
                   **extra)


def _adaptive_scores(out: Output, x) -> dict:
    return _scores(out, x, steps_taken=out.extra["steps_taken"],
                   stopped=out.extra["stopped"], residual=out.extra["residual"])


@cached("adaptive")
def _adaptive_cell(*, set_name, sigma, method, n, seed, steps, lvr, celeba_source,
                   checkpoint, checkpoint_sha256, device, start_n):
    """IA-LVR or DIP on a set's first n images; IA-LVR starts from the first n latents of
    the LVR cell of ``start_n`` images (the one the tables use), whose seconds count."""
    x, y, _ = noisy_set(set_name, sigma, n, seed, celeba_source=celeba_source,
                        checkpoint=checkpoint, device=device)
    ctx = _context(lvr, seed, checkpoint, device, ia_steps=steps, dip_steps=steps)
    start = None
    if METHODS[method].starts_from == "lvr":
        r0 = first(_lvr_cell(set_name=set_name, sigma=sigma,
                             strategy=_box(lvr, checkpoint, "lvr"), n=start_n, seed=seed,
                             lvr=lvr, celeba_source=celeba_source, checkpoint=checkpoint,
                             checkpoint_sha256=checkpoint_sha256, device=device), n)
        start = Output(r0["images"], r0["seconds"], z=r0["z"])
    return _adaptive_scores(run_method(method, y, sigma, ctx, start=start), x)


@cached("adaptive")
def _member_cell(*, set_name, sigma, mirrored, start, n, seed, steps, lvr, celeba_source,
                 checkpoint, checkpoint_sha256, device):
    """One member of the IA-LVR ensemble other than the first (which is the IA-LVR cell):
    ``adaptive.ensemble_member`` from LVR's start number ``start`` of its images
    (``adaptive.member_start``, with the profile's LVR settings), images mirrored back."""
    from .adaptive import ensemble_member, member_start
    x, y, _ = noisy_set(set_name, sigma, n, seed, celeba_source=celeba_source,
                        checkpoint=checkpoint, device=device)
    ctx = _context(lvr, seed, checkpoint, device)
    G = ctx.generator
    op = observation_operator(G, y)
    t0 = time.perf_counter()
    z0 = member_start(G, y.flip(-1) if mirrored else y, start, ctx.lvr, encoder=ctx.encoder,
                      operator=op, seed=ctx.seed, device=device)
    kw = {} if steps is None else {"steps": steps}
    r = ensemble_member(G, y, float(sigma), mirrored, z0, operator=op,
                        seed=ctx.seed, device=device, **kw)
    with torch.no_grad():
        images = op(r.images)
    out = Output(images, time.perf_counter() - t0, z=r.z,
                 extra={"steps_taken": r.steps_taken, "stopped": r.stopped,
                        "residual": r.residual})
    return _adaptive_scores(out, x)


@cached("classical")
def _classical_cell(*, set_name, sigma, method, n, seed, celeba_source, checkpoint,
                    checkpoint_sha256, device):
    x, y, _ = noisy_set(set_name, sigma, n, seed, celeba_source=celeba_source,
                        checkpoint=checkpoint, device=device)
    out = run_method(method, y, sigma, Context(seed=seed + 2, device=device))
    return _scores(out, x, sigma_used=out.sigma_used)


def bank_for(profile: Profile, seed: int = 0, device: str = "auto") -> SharpnessBank:
    """The sharpness vectors at the profile's ``sharpness_sigmas``, estimated on the
    profile's generated set ("generated", ``seed``, ``sharpness_n`` images) with the
    profile's LVR settings and the box treatment of the LVR they correct (the method
    "lvr"): ``sharpness.sharpness_vector``'s mean(z) - mean(z_rec), its recoveries read
    from the LVR cells of that set (the same images, noise and LVR seed), which Table 2
    scores too."""
    dev = str(resolve_device(device))
    sig = sorted({float(s) for s in profile.sharpness_sigmas if float(s) > 0})
    lvr = profile.lvr.asdict()
    n = profile.sharpness_n
    _, z = clean_set("generated", n, seed, checkpoint=profile.checkpoint, device=dev)
    rows = [z.mean(0) - _lvr_cell(set_name="generated", sigma=s, n=n, seed=seed, lvr=lvr,
                                  strategy=_box(lvr, profile.checkpoint, "lvr"),
                                  celeba_source=profile.celeba, checkpoint=profile.checkpoint,
                                  checkpoint_sha256=_checkpoint_sha256(profile.checkpoint),
                                  device=dev)["z"].mean(0)
            for s in sig]
    return SharpnessBank(sig, torch.stack(rows))


@cached("lvr-curve")
def _curve_cell(*, set_name, sigma, lvr, budgets, n, seed, celeba_source, checkpoint,
                checkpoint_sha256, device):
    G = generator_for(checkpoint, device)
    x, y, z_true = noisy_set(set_name, sigma, n, seed, celeba_source=celeba_source,
                             checkpoint=checkpoint, device=device)
    res = recover(G, y, LVRSettings(**lvr), snapshots=budgets, seed=seed + 2, device=device)
    # Top-level arrays only (the cache stores arrays as tensors): one row per budget.
    psnrs, zerr = [], []
    for k in budgets:
        z = res.snapshots[k]
        with torch.no_grad():
            out = G(z.to(device)).cpu()
        psnrs.append(psnr(out, x))
        if z_true is not None:
            zerr.append(((z - z_true) ** 2).mean(1).numpy())
    return {"steps": np.asarray(budgets, dtype=np.int64),
            "seconds": np.asarray([res.snapshot_seconds[k] / n for k in budgets]),
            "psnr": np.stack(psnrs),
            "z_mse": np.stack(zerr) if zerr else np.full((len(budgets), n), np.nan),
            "init": res.settings["init"], "lr": float(res.settings["lr"])}


def compute_curve(set_name: str, sigma: float, profile: Profile, settings: LVRSettings, *,
                  budgets=None, n: int | None = None, seed: int = 0,
                  device: str = "auto") -> pd.DataFrame:
    """PSNR (and latent error, for generated sets) against compute for one way of running
    LVR (``settings``): one run of ``settings.steps`` steps, scored after each step count
    in ``budgets``.

    Returns one row per budget: steps, seconds per image (from the start of the run),
    mean PSNR with its 95% CI (psnr, psnr_low, psnr_high) and the mean squared latent
    error (z_mse, NaN for real images); attrs hold the start and step size used.
    """
    dev = str(resolve_device(device))
    n = n or profile.n_generated
    budgets = sorted({int(b) for b in (budgets or [settings.steps])})
    if settings.steps is None:
        settings = settings.replace(steps=budgets[-1])
    r = _curve_cell(set_name=set_name, sigma=float(sigma), lvr=settings.asdict(),
                    budgets=budgets, n=n, seed=seed, celeba_source=profile.celeba,
                    checkpoint=profile.checkpoint,
                    checkpoint_sha256=_checkpoint_sha256(profile.checkpoint), device=dev)
    rows = []
    for i, k in enumerate(r["steps"]):
        ci = mean_ci(r["psnr"][i])
        rows.append({"steps": int(k), "seconds_per_image": float(r["seconds"][i]),
                     "psnr": ci.mean, "psnr_low": ci.low, "psnr_high": ci.high,
                     "z_mse": float(np.mean(r["z_mse"][i]))})
    df = pd.DataFrame(rows)
    df.attrs.update(init=r["init"], lr=r["lr"], strategy=settings.strategy,
                    optimizer=settings.optimizer)
    return df


@dataclass
class Scores:
    """Per-image scores of one method on one set at one sigma."""

    method: str
    set_name: str
    sigma: float
    psnr: np.ndarray
    ssim: np.ndarray
    seconds: float
    images: torch.Tensor                # the first few outputs
    z_mse: np.ndarray | None = None     # mean squared latent error (generated sets, LVR)
    sigma_used: np.ndarray | None = None


def _lvr_sa_cell(m: str, r: dict, y, x, sigma, profile, seed, dev) -> dict:
    """LVR-SA from the LVR cell's latents and the profile's sharpness vectors."""
    ctx = Context(generator=generator_for(profile.checkpoint, dev),
                  bank=lambda: bank_for(profile, seed, dev), device=dev)
    o = run_method(m, y, sigma, ctx,
                   start=Output(r["images"], r["seconds"], z=r["z"]))
    return {"psnr": psnr(o.images, x), "ssim": ssim(o.images, x), "seconds": o.seconds,
            "images": o.images, "sigma_used": o.sigma_used}


def _fused(parts: list[dict], y, x, **extra) -> dict:
    """The mean image of several cells' outputs (``methods.fuse``: a fusion method's, or
    the ensemble's members'), scored."""
    o = fuse([Output(p["images"], float(p["seconds"])) for p in parts])
    return {"psnr": psnr(o.images, x), "ssim": ssim(o.images, x), "seconds": o.seconds,
            "images": o.images, "residual": (o.images - y).pow(2).flatten(1).mean(1), **extra}


def set_size(profile: Profile, set_name: str) -> int:
    """The profile's number of images of a set: the size of the cells its tables use."""
    return (profile.n_generated if set_name.startswith("generated") else
            profile.n_celeba if set_name == "celeba-test" else profile.n_unseen)


def evaluate(set_name: str, sigma: float, methods, profile: Profile, *, n: int | None = None,
             seed: int = 0, device: str = "auto", keep: int = 8) -> dict[str, Scores]:
    """Run (or read from the cache) every method on one set at one sigma.

    n defaults to the profile's size for the set (``set_size``). A smaller n reads the
    methods that treat each image on its own (LVR, LVR-SA, BM3D and the other classical
    filters) from the profile-size cell's first n images (``first``), and IA-LVR starts
    from those LVR latents, so no result is computed twice. Returns {method: Scores},
    each with its first ``keep`` output images; the clean images are included under the
    method name "clean".
    """
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; expected some of {tuple(METHODS)}.")
    dev = str(resolve_device(device))
    full = set_size(profile, set_name)
    n = full if n is None else n
    base_n = max(n, full)       # the cell size per-image methods are read from
    common = dict(set_name=set_name, sigma=float(sigma), seed=seed,
                  celeba_source=profile.celeba, checkpoint=profile.checkpoint,
                  checkpoint_sha256=_checkpoint_sha256(profile.checkpoint), device=dev)
    x, y, _ = noisy_set(set_name, sigma, n, seed, celeba_source=profile.celeba,
                        checkpoint=profile.checkpoint, device=dev)
    lvr = profile.lvr.asdict()
    done: dict[str, dict] = {}

    def cell(m: str) -> dict:
        if m in done:
            return done[m]
        meth = METHODS[m]
        family = meth.family
        if family == "input":
            r = {"psnr": psnr(y, x), "ssim": ssim(y, x), "seconds": 0.0, "images": y}
        elif family == "lvr":
            r = first(_lvr_cell(strategy=_box(lvr, profile.checkpoint, m), lvr=lvr,
                                n=base_n, **common), n)
        elif family == "lvr-sa":
            r = _lvr_sa_cell(m, cell(meth.starts_from), y, x, sigma, profile, seed, dev)
        elif family == "fusion":
            r = _fused([cell(k) for k in meth.fuses], y, x)
        elif m == "ia-lvr-ensemble":
            r = _ensemble_cells(n, lvr, profile, common, [cell("ia-lvr")], y, x)
        elif family == "adaptive":
            steps = profile.ia_steps if meth.starts_from == "lvr" else profile.dip_steps
            r = _adaptive_cell(method=m, steps=steps, lvr=lvr, n=n,
                               start_n=base_n if meth.starts_from == "lvr" else None,
                               **common)
        else:
            r = first(_classical_cell(method=m, n=base_n, **common), n)
        done[m] = r
        return r

    out: dict[str, Scores] = {"clean": Scores("clean", set_name, sigma, np.full(n, np.inf),
                                              np.ones(n), 0.0, x[:keep])}
    for m in methods:
        r = cell(m)
        family = METHODS[m].family
        used = r.get("sigma_used")
        if used is None and family in ("adaptive", "fusion") and METHODS[m].needs_sigma:
            used = np.full(n, float(sigma))
        out[m] = Scores(m, set_name, sigma, r["psnr"], r["ssim"], r["seconds"],
                        r["images"][:keep], r.get("z_mse"), sigma_used=used)
    return out


def _ensemble_cells(n, lvr, profile, common, head, y, x) -> dict:
    """The IA-LVR ensemble (``adaptive.ENSEMBLE_MEMBERS`` members) from cached members:
    the first is the IA-LVR cell (``head``), the others ``_member_cell``; the same mean
    as ``adaptive.ensemble_mean``."""
    from .adaptive import ENSEMBLE_MEMBERS, ensemble_plan
    members = list(head)
    for mirrored, k in ensemble_plan(ENSEMBLE_MEMBERS)[len(members):]:
        members.append(_member_cell(mirrored=mirrored, start=k, n=n, steps=profile.ia_steps,
                                    lvr=lvr, **common))
    return _fused(members, y, x, steps_taken=sum(r["steps_taken"] for r in members),
                  stopped=torch.stack([torch.as_tensor(r["stopped"]) for r in members]).all(0))


def lvr_description(profile: Profile, device: str = "auto") -> str:
    """How the profile runs LVR, in words: the start, the steps and the step size."""
    G = generator_for(profile.checkpoint, str(resolve_device(device)))
    return profile.lvr.resolve(G)[0].describe()


def summary_table(results: list[dict[str, Scores]], methods, metric: str = "psnr") -> pd.DataFrame:
    """Rows (set, sigma), columns method labels, cells the ``MeanCI`` (mean and 95% CI) of
    ``metric`` per image: numbers, formatted only when shown (``paper.compact_table``; a
    cell's ``str`` is 'mean [low, high]'). A perfect match (the noisy input at sigma 0)
    has mean inf and no interval."""
    rows = []
    for res in results:
        any_s = next(iter(res.values()))
        row = {"set": SET_LABELS.get(any_s.set_name, any_s.set_name), "sigma": any_s.sigma}
        for m in methods:
            v = getattr(res[m], metric)
            if np.all(np.isfinite(v)):
                row[label(m)] = mean_ci(v)
            else:
                inf = float("inf") if np.all(np.isinf(v)) else float("nan")
                row[label(m)] = MeanCI(inf, float("nan"), float("nan"), len(v))
        rows.append(row)
    return pd.DataFrame(rows).set_index(["set", "sigma"])


def paired_table(results: list[dict[str, Scores]], pairs, metric: str = "psnr") -> pd.DataFrame:
    """Paired differences a - b (mean and 95% CI over the same images) for (a, b) pairs."""
    rows = []
    for res in results:
        any_s = next(iter(res.values()))
        for a, b in pairs:
            d = paired_diff(getattr(res[a], metric), getattr(res[b], metric))
            rows.append({"set": any_s.set_name, "sigma": any_s.sigma, "a": a, "b": b,
                         "diff": d.mean, "low": d.low, "high": d.high, "n": d.n})
    return pd.DataFrame(rows)
