"""The paper's tables and claims, computed from cached experiment cells.

Each ``tableN`` function returns a list of ``evaluate`` results (one per set and sigma)
and the notebooks turn them into tables and figures; ``claims`` reads the same cached
results and gives each of the paper's claims a measured effect, a 95% CI and a verdict.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .experiments import Scores, evaluate
from .metrics import paired_diff
from .profiles import Profile

__all__ = ["TABLE1_METHODS", "TABLE2_METHODS", "TABLE3_METHODS", "table1", "table2", "table3",
           "psnr_curve", "crossover_sigma", "verdict", "claims", "as_list"]

TABLE1_METHODS = ("noisy", "lvr-none", "lvr-project", "lvr", "bm3d")
TABLE2_METHODS = ("noisy", "lvr", "lvr-sa")
TABLE3_METHODS = ("noisy", "bm3d", "bm3d-blind", "lvr", "lvr-sa", "lvr-sa-blind", "nlm", "tv")
CURVE_METHODS = ("noisy", "bm3d", "lvr", "lvr-sa")


def as_list(sigma) -> list[float]:
    """A number or a list of numbers (a notebook parameter) as a list of floats."""
    if isinstance(sigma, (int, float, np.floating, np.integer)):
        return [float(sigma)]
    if isinstance(sigma, str):  # papermill -r sigma "25,50": not one float per character
        sigma = sigma.strip("[]() ").replace(",", " ").split()
    out = [float(s) for s in sigma]
    if not out:
        raise ValueError("an empty list of sigmas.")
    return out


def table1(profile: Profile, sigmas=None, *, seed: int = 0, device: str = "auto"):
    """Noisy generated images: three clipping strategies and BM3D at each sigma."""
    sig = as_list(sigmas if sigmas is not None else profile.table1_sigmas)
    return [evaluate("generated", s, TABLE1_METHODS, profile, seed=seed, device=device)
            for s in sig]


def table2_sets(profile: Profile) -> list[str]:
    return ["generated", "generated-fresh", "celeba-test", *profile.unseen]


def table2(profile: Profile, sigmas=None, *, seed: int = 0, device: str = "auto"):
    """LVR against LVR-SA on the set s was estimated on, a fresh generated set, CelebA
    test images and the unseen faces, at each sigma."""
    sig = as_list(sigmas if sigmas is not None else profile.table3_sigmas)
    return [evaluate(name, s, TABLE2_METHODS, profile, seed=seed, device=device,
                     n=profile.sharpness_n if name == "generated" else None)
            for name in table2_sets(profile) for s in sig]


def table3(profile: Profile, sigmas=None, *, seed: int = 0, device: str = "auto"):
    """BM3D against LVR and LVR-SA on real images (CelebA test and unseen faces)."""
    sig = as_list(sigmas if sigmas is not None else profile.table3_sigmas)
    return [evaluate(name, s, TABLE3_METHODS, profile, seed=seed, device=device)
            for name in ["celeba-test", *profile.unseen] for s in sig]


def psnr_curve(profile: Profile, sigmas=None, *, seed: int = 0, device: str = "auto"):
    """PSNR against sigma on CelebA test images for BM3D, LVR and LVR-SA."""
    sig = as_list(sigmas if sigmas is not None else profile.curve_sigmas)
    return [evaluate("celeba-test", s, CURVE_METHODS, profile, seed=seed, device=device,
                     n=profile.n_curve) for s in sig]


def crossover_sigma(results, a: str = "lvr", b: str = "bm3d") -> float | None:
    """The smallest sigma at which method a's mean PSNR exceeds b's, linearly
    interpolated between measured sigmas; None if a never exceeds b."""
    pts = sorted((r[a].sigma, float(np.mean(r[a].psnr) - np.mean(r[b].psnr))) for r in results)
    if pts and pts[0][1] > 0:
        return pts[0][0]
    for (s0, d0), (s1, d1) in zip(pts, pts[1:]):
        if d0 <= 0 < d1:
            return s0 + (s1 - s0) * (-d0) / (d1 - d0)
    return None


def verdict(cis) -> str:
    """'holds' when every cell's CI of (claimed better - other) lies above 0, 'does not
    hold' when no cell's does (the improvement is never shown), else 'mixed'."""
    above = [c.low > 0 for c in cis]
    if not above:
        raise ValueError("verdict of no cells: a claim needs at least one measured cell.")
    if all(above):
        return "holds"
    if not any(above):
        return "does not hold"
    return "mixed"


def _claim_row(text: str, better: str, worse: str, cells: list[dict[str, Scores]]) -> dict:
    cis = [paired_diff(r[better].psnr, r[worse].psnr) for r in cells]
    pooled = paired_diff(np.concatenate([r[better].psnr for r in cells]),
                         np.concatenate([r[worse].psnr for r in cells]))
    where = ", ".join(sorted({r[better].set_name for r in cells}))
    sig = ", ".join(f"{s:g}" for s in sorted({r[better].sigma for r in cells}))
    per_cell = "; ".join(f"{r[better].set_name}@{r[better].sigma:g}: {c.mean:+.2f}"
                         for r, c in zip(cells, cis))
    return {"claim": text, "sets": where, "sigmas": sig,
            "effect (dB)": round(pooled.mean, 2), "95% CI low": round(pooled.low, 2),
            "95% CI high": round(pooled.high, 2), "verdict": verdict(cis),
            "cells holding": f"{sum(c.low > 0 for c in cis)}/{len(cis)}",
            "per cell (dB)": per_cell}


def claims(profile: Profile, *, seed: int = 0, device: str = "auto",
           high_sigma: float = 50.0) -> pd.DataFrame:
    """One row per claim of the paper: measured PSNR effect (pooled paired difference over
    all images of all cells, dB), its 95% CI, and a verdict from the per-cell CIs."""
    t1 = [r for r in table1(profile, seed=seed, device=device) if r["lvr"].sigma > 0]
    t2 = table2(profile, seed=seed, device=device)
    t3 = table3(profile, seed=seed, device=device)
    high = [r for r in t3 if r["lvr"].sigma >= high_sigma] or t3
    by = lambda rs, names: [r for r in rs if r["lvr"].set_name in names]
    rows = [
        _claim_row("Table 1: stochastic clipping beats projected gradient (noisy generated images)",
                   "lvr", "lvr-project", t1),
        _claim_row("Table 1: projected gradient beats no clipping (noisy generated images)",
                   "lvr-project", "lvr-none", t1),
        _claim_row("Table 2: LVR-SA beats LVR on the generated set s was estimated on",
                   "lvr-sa", "lvr", by(t2, {"generated"})),
        _claim_row("Table 2: LVR-SA beats LVR on fresh generated images",
                   "lvr-sa", "lvr", by(t2, {"generated-fresh"})),
        _claim_row("Table 2: LVR-SA beats LVR on real CelebA test images",
                   "lvr-sa", "lvr", by(t2, {"celeba-test"})),
        _claim_row("Table 2: LVR-SA beats LVR on unseen real faces",
                   "lvr-sa", "lvr", by(t2, set(profile.unseen))),
        _claim_row(f"Table 3: LVR beats BM3D on real images at high noise (sigma >= {high_sigma:g})",
                   "lvr", "bm3d", high),
        _claim_row(f"Table 3: LVR-SA beats BM3D on real images at high noise (sigma >= {high_sigma:g})",
                   "lvr-sa", "bm3d", high),
        _claim_row(f"Abstract: blind LVR-SA beats blind BM3D at high noise (sigma >= {high_sigma:g})",
                   "lvr-sa-blind", "bm3d-blind", high),
    ]
    return pd.DataFrame(rows)
