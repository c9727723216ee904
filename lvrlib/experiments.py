"""The paper's experiments as cached functions: the notebooks are thin calls into these.

An experiment cell is (image set, noise sigma, method). Its inputs are fixed by a seed:

- generated sets: z_i drawn from the prior with ``torch.Generator().manual_seed(seed)``
  ("generated") or ``seed + 1000`` ("generated-fresh"), x_i = G(z_i);
- real sets: the first n images of CelebA-sample test, Olivetti, LFW-subset (or, in the
  ``paper`` profile, full CelebA test and LFW folders from ``$LVRLIB_CELEBA_ROOT`` and
  ``$LVRLIB_LFW_ROOT``);
- noise: ``add_noise(x, sigma, Generator(seed + 1))`` (the same standard normal draws,
  scaled, at every sigma);
- LVR: ``recover(..., seed=seed + 2)``.

Methods: "noisy" (the input), "lvr-none", "lvr-project", "lvr-stochastic" (the paper's
three box treatments, with lvrlib's optimiser), "lvr" (lvrlib's default LVR: projected;
the same cell as "lvr-project"), "lvr-sa" (LVR plus the sharpness vector at the true sigma),
"lvr-sa-blind" (sigma estimated per image), "ia-lvr" (image-adaptive projection started
from the "lvr" cell's latents, stopped by the discrepancy principle at the true sigma;
``lvrlib.adaptive``), "dip" (its control: the same network from random weights),
"bm3d", "bm3d-blind", "nlm", "tv".
Gray sets are denoised through the observation operator (RGB -> gray, resize), and
their outputs are compared in that gray observation space.

Every expensive result is cached on disk (``lvrlib.cache``) under a key made of its
parameters and lvrlib's code, so an unchanged rebuild of the book is fast and a changed
library recomputes.
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import baselines
from .cache import cached
from .checkpoints import load_generator, read_metadata
from .data import add_noise, celeba, celeba_sample, lfw, lfw_subset, olivetti
from .dcgan import resolve_device, sample_latent
from .metrics import mean_ci, paired_diff, psnr, ssim
from .profiles import Profile
from .recovery import operator_for, recover
from .sharpness import SharpnessBank, lvr_sa, sharpness_bank

__all__ = [
    "SETS", "METHODS", "SET_LABELS", "METHOD_LABELS",
    "clean_set", "noisy_set", "evaluate", "bank_for", "Scores",
    "summary_table", "paired_table", "compute_curve", "lvr_description",
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
# Method -> box treatment. "lvr", the LVR of Tables 2 and 3 and of LVR-SA, is recover()'s
# default: projected. (The paper's LVR uses stochastic clipping; with a converging
# optimiser every component pushed past the box is redrawn at random, which Table 1
# measures as far worse.)
LVR_STRATEGIES = {"lvr-none": "none", "lvr-project": "project",
                  "lvr-stochastic": "stochastic", "lvr": "project"}
CLASSICAL = ("bm3d", "bm3d-blind", "nlm", "tv")
ADAPTIVE = ("ia-lvr", "dip")
METHODS = ("noisy", *LVR_STRATEGIES, "lvr-sa", "lvr-sa-blind", *ADAPTIVE, *CLASSICAL)
METHOD_LABELS = {
    "noisy": "noisy input", "lvr-none": "LVR, no clipping",
    "lvr-project": "LVR, projected gradient", "lvr-stochastic": "LVR, stochastic clipping",
    "lvr": "LVR",
    "lvr-sa": "LVR-SA (true sigma)", "lvr-sa-blind": "LVR-SA (blind)",
    "ia-lvr": "IA-LVR (true sigma)", "dip": "DIP (true sigma)",
    "bm3d": "BM3D (true sigma)", "bm3d-blind": "BM3D (blind)",
    "nlm": "non-local means", "tv": "total variation",
}


def _checkpoint_sha256(checkpoint: str | None) -> str:
    # Part of every cell's key: a generator retrained in place must not hit old results.
    return read_metadata(checkpoint)["weights_sha256"]


@functools.lru_cache(maxsize=4)
def _load_generator(checkpoint: str | None, device: str, sha256: str):
    return load_generator(checkpoint, device=device)


def _generator(checkpoint: str | None, device: str):
    return _load_generator(checkpoint, device, _checkpoint_sha256(checkpoint))


def clean_set(name: str, n: int, seed: int = 0, *, celeba_source: str = "sample",
              checkpoint: str | None = None, device: str = "cpu"):
    """The clean images of a set, (n, C, H, W) in [-1, 1], and their true latents (or None)."""
    if name in ("generated", "generated-fresh"):
        G = _generator(checkpoint, device)
        g = torch.Generator().manual_seed(seed + (1000 if name == "generated-fresh" else 0))
        z = sample_latent(n, G.config.nz, g, device)
        with torch.no_grad():
            return G(z).cpu(), z.cpu()
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
    """(clean, noisy, true z or None) for a set at noise ``sigma`` (0..255 pixel units)."""
    x, z = clean_set(name, n, seed, **kw)
    return x, add_noise(x, sigma, torch.Generator().manual_seed(seed + 1)), z


def _scores(out: torch.Tensor, x: torch.Tensor, seconds: float, **extra) -> dict:
    return {"psnr": psnr(out, x), "ssim": ssim(out, x), "seconds": float(seconds), **extra}


@cached("lvr")
def _lvr_cell(*, set_name, sigma, strategy, n, seed, steps, lr, restarts, tol,
              celeba_source, checkpoint, checkpoint_sha256, device, keep):
    G = _generator(checkpoint, device)
    x, y, z_true = noisy_set(set_name, sigma, n, seed, celeba_source=celeba_source,
                             checkpoint=checkpoint, device=device)
    op = operator_for(y, G.config.nc)
    res = recover(G, y, strategy=strategy, steps=steps, lr=lr, restarts=restarts, tol=tol,
                  operator=op, seed=seed + 2, device=device)
    out = op(res.images)
    extra = {}
    if z_true is not None:
        extra["z_mse"] = ((res.z - z_true) ** 2).mean(1).numpy()
    return {**_scores(out, x, res.seconds, **extra), "z": res.z, "loss": res.loss,
            "steps_taken": res.steps_taken, "images": out[:keep]}


@cached("adaptive")
def _adaptive_cell(*, set_name, sigma, method, n, seed, steps, lr, lvr, celeba_source,
                   checkpoint, checkpoint_sha256, device, keep):
    from .adaptive import dip, ia_lvr

    G = _generator(checkpoint, device)
    x, y, _ = noisy_set(set_name, sigma, n, seed, celeba_source=celeba_source,
                        checkpoint=checkpoint, device=device)
    op = operator_for(y, G.config.nc)
    kw = {k: v for k, v in dict(steps=steps, lr=lr).items() if v is not None}
    if method == "ia-lvr":
        # Started from the LVR cell's latents; its seconds count in the total.
        r0 = _lvr_cell(set_name=set_name, sigma=sigma, strategy=LVR_STRATEGIES["lvr"], n=n,
                       seed=seed, celeba_source=celeba_source, checkpoint=checkpoint,
                       checkpoint_sha256=checkpoint_sha256, device=device, keep=keep, **lvr)
        res = ia_lvr(G, y, float(sigma), z_init=r0["z"], operator=op, seed=seed + 2,
                     device=device, **kw)
        seconds = r0["seconds"] + res.seconds
    else:
        res = dip(y, float(sigma), config=G.config, operator=op, seed=seed + 2,
                  device=device, **kw)
        seconds = res.seconds
    out = op(res.images)
    return {**_scores(out, x, seconds), "steps_taken": res.steps_taken,
            "stopped": res.stopped, "residual": res.residual, "images": out[:keep]}


@cached("classical")
def _classical_cell(*, set_name, sigma, method, n, seed, celeba_source, checkpoint,
                    checkpoint_sha256, device, keep):
    x, y, _ = noisy_set(set_name, sigma, n, seed, celeba_source=celeba_source,
                        checkpoint=checkpoint, device=device)
    name, blind = method.replace("-blind", ""), method.endswith("-blind")
    t0 = time.perf_counter()
    sig_used = baselines.estimate_sigma(y) if blind else np.full(len(y), float(sigma))
    out = baselines.CLASSICAL[name](y, sig_used)
    return {**_scores(out, x, time.perf_counter() - t0), "sigma_used": sig_used,
            "images": out[:keep]}


@cached("sharpness")
def _bank_cell(*, sigmas, n, seed, steps, lr, restarts, tol, checkpoint, checkpoint_sha256,
               device):
    G = _generator(checkpoint, device)
    bank = sharpness_bank(G, sigmas, n, seed=seed, strategy=LVR_STRATEGIES["lvr"], steps=steps,
                          lr=lr, restarts=restarts, tol=tol)
    return {"vectors": bank.vectors, "sigmas": list(bank.sigmas)}


@cached("lvr-curve")
def _curve_cell(*, set_name, sigma, strategy, optimizer, init, steps, lr, schedule, budgets,
                n, seed, celeba_source, checkpoint, checkpoint_sha256, device):
    G = _generator(checkpoint, device)
    x, y, z_true = noisy_set(set_name, sigma, n, seed, celeba_source=celeba_source,
                             checkpoint=checkpoint, device=device)
    res = recover(G, y, strategy=strategy, optimizer=optimizer, init=init, steps=steps,
                  lr=lr, schedule=schedule, snapshots=budgets, seed=seed + 2, device=device)
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


def compute_curve(set_name: str, sigma: float, profile: Profile, *, strategy: str,
                  optimizer: str = "adam", init: str = "auto", steps: int | None = None,
                  lr: float | None = None, schedule: str | None = None, budgets=None,
                  n: int | None = None, seed: int = 0, device: str = "auto") -> pd.DataFrame:
    """PSNR (and latent error, for generated sets) against compute for one way of running
    LVR: one run of ``steps`` steps, scored after each step count in ``budgets``.

    Returns one row per budget: steps, seconds per image (from the start of the run),
    mean PSNR with its 95% CI (psnr, psnr_low, psnr_high) and the mean squared latent
    error (z_mse, NaN for real images); attrs hold the start and step size used.
    """
    dev = str(resolve_device(device))
    n = n or profile.n_generated
    budgets = sorted({int(b) for b in (budgets or [steps])})
    r = _curve_cell(set_name=set_name, sigma=float(sigma), strategy=strategy,
                    optimizer=optimizer, init=init, steps=steps or budgets[-1], lr=lr,
                    schedule=schedule, budgets=budgets, n=n, seed=seed,
                    celeba_source=profile.celeba, checkpoint=profile.checkpoint,
                    checkpoint_sha256=_checkpoint_sha256(profile.checkpoint), device=dev)
    rows = []
    for i, k in enumerate(r["steps"]):
        ci = mean_ci(r["psnr"][i])
        rows.append({"steps": int(k), "seconds_per_image": float(r["seconds"][i]),
                     "psnr": ci.mean, "psnr_low": ci.low, "psnr_high": ci.high,
                     "z_mse": float(np.mean(r["z_mse"][i]))})
    df = pd.DataFrame(rows)
    df.attrs.update(init=r["init"], lr=r["lr"], strategy=strategy, optimizer=optimizer)
    return df


def bank_for(profile: Profile, seed: int = 0, device: str = "auto") -> SharpnessBank:
    """The sharpness vectors at the profile's Table 3 sigmas, estimated on the profile's
    generated set ("generated", ``seed``) with the profile's LVR settings."""
    dev = str(resolve_device(device))
    sig = sorted({float(s) for s in profile.table3_sigmas if float(s) > 0})
    r = _bank_cell(sigmas=sig, n=profile.sharpness_n, seed=seed, steps=profile.steps,
                   lr=profile.lr, restarts=profile.restarts, tol=profile.tol,
                   checkpoint=profile.checkpoint,
                   checkpoint_sha256=_checkpoint_sha256(profile.checkpoint), device=dev)
    return SharpnessBank(r["sigmas"], r["vectors"])


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


def evaluate(set_name: str, sigma: float, methods, profile: Profile, *, n: int | None = None,
             seed: int = 0, device: str = "auto", keep: int = 8) -> dict[str, Scores]:
    """Run (or read from the cache) every method on one set at one sigma.

    n defaults to the profile's size for the set. Returns {method: Scores}; "clean" and
    "noisy" image samples are included under the method names "clean" and "noisy".
    """
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; expected some of {METHODS}.")
    dev = str(resolve_device(device))
    if n is None:
        n = (profile.n_generated if set_name.startswith("generated") else
             profile.n_celeba if set_name == "celeba-test" else profile.n_unseen)
    common = dict(set_name=set_name, sigma=float(sigma), n=n, seed=seed,
                  celeba_source=profile.celeba, checkpoint=profile.checkpoint,
                  checkpoint_sha256=_checkpoint_sha256(profile.checkpoint), device=dev)
    x, y, _ = noisy_set(set_name, sigma, n, seed, celeba_source=profile.celeba,
                        checkpoint=profile.checkpoint, device=dev)
    out: dict[str, Scores] = {"clean": Scores("clean", set_name, sigma, np.full(n, np.inf),
                                              np.ones(n), 0.0, x[:keep])}
    lvr_kw = dict(steps=profile.steps, lr=profile.lr, restarts=profile.restarts,
                  tol=profile.tol, keep=keep)
    for m in methods:
        if m == "noisy":
            out[m] = Scores(m, set_name, sigma, psnr(y, x), ssim(y, x), 0.0, y[:keep])
        elif m in LVR_STRATEGIES:
            r = _lvr_cell(strategy=LVR_STRATEGIES[m], **common, **lvr_kw)
            out[m] = Scores(m, set_name, sigma, r["psnr"], r["ssim"], r["seconds"],
                            r["images"], r.get("z_mse"))
        elif m in ("lvr-sa", "lvr-sa-blind"):
            r = _lvr_cell(strategy=LVR_STRATEGIES["lvr"], **common, **lvr_kw)
            G = _generator(profile.checkpoint, dev)
            bank = bank_for(profile, seed, dev)
            if m == "lvr-sa":
                sig_used = np.full(n, float(sigma))
                s = bank.at(sigma).expand(n, -1)
            else:
                sig_used = baselines.estimate_sigma(y)
                s = torch.stack([bank.at(v) for v in sig_used])
            t0 = time.perf_counter()
            o = lvr_sa(G, r["z"], s, operator_for(y, G.config.nc))
            out[m] = Scores(m, set_name, sigma, psnr(o, x), ssim(o, x),
                            r["seconds"] + time.perf_counter() - t0, o[:keep],
                            sigma_used=sig_used)
        elif m in ADAPTIVE:
            r = _adaptive_cell(method=m, **common, keep=keep,
                               steps=profile.ia_steps if m == "ia-lvr" else profile.dip_steps,
                               lr=None, lvr={k: v for k, v in lvr_kw.items() if k != "keep"})
            out[m] = Scores(m, set_name, sigma, r["psnr"], r["ssim"], r["seconds"],
                            r["images"], sigma_used=np.full(n, float(sigma)))
        else:
            r = _classical_cell(method=m, **common, keep=keep)
            out[m] = Scores(m, set_name, sigma, r["psnr"], r["ssim"], r["seconds"],
                            r["images"], sigma_used=r["sigma_used"])
    return out


def lvr_description(profile: Profile, device: str = "auto") -> str:
    """How the profile runs LVR, in words: the start, the steps and the step size."""
    from .recovery import start_and_defaults

    G = _generator(profile.checkpoint, str(resolve_device(device)))
    start, _, d = start_and_defaults(G)
    enc = start == "encoder"
    steps, lr, schedule = profile.steps or d["steps"], profile.lr or d["lr"], d["schedule"]
    where = "the encoder's latent" if enc else "a random latent"
    more = f", best of {profile.restarts} starts" if profile.restarts > 1 else ""
    decay = "constant step size" if schedule == "constant" else f"{schedule} decay"
    kind = "whitened Adam steps" if enc else "Adam steps"
    return f"from {where}, {steps} {kind} at lr {lr:g} ({decay}){more}"


def summary_table(results: list[dict[str, Scores]], methods, metric: str = "psnr") -> pd.DataFrame:
    """Rows (set, sigma), columns method: 'mean [low, high]' of ``metric`` per image
    (95% CI); the MeanCI objects per row are in ``.attrs['cis']``."""
    rows, means = [], []
    for res in results:
        any_s = next(iter(res.values()))
        row = {"set": SET_LABELS.get(any_s.set_name, any_s.set_name), "sigma": any_s.sigma}
        mrow = dict(row)
        for m in methods:
            v = getattr(res[m], metric)
            if not np.all(np.isfinite(v)):  # a perfect match (noisy input at sigma 0)
                row[METHOD_LABELS.get(m, m)] = "inf" if np.all(np.isinf(v)) else "n/a"
                continue
            ci = mean_ci(v)
            row[METHOD_LABELS.get(m, m)] = f"{ci.mean:.2f} [{ci.low:.2f}, {ci.high:.2f}]"
            mrow[m] = ci
        rows.append(row)
        means.append(mrow)
    df = pd.DataFrame(rows).set_index(["set", "sigma"])
    df.attrs["cis"] = means
    return df


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
