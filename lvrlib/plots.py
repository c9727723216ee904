"""Matplotlib figures for the book: rows of images, and mean PSNR against sigma with
confidence bands. Each function returns the figure and saves nothing; PNG files of images
come from :mod:`lvrlib.figures`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .figures import to_uint8
from .metrics import mean_ci

__all__ = ["image_rows", "psnr_vs_sigma"]


def image_rows(rows: dict[str, torch.Tensor], n: int = 8, scale: float = 1.1):
    """A figure with one row per key of ``rows`` (the key is the row's label) and its first
    ``n`` images ((N, C, H, W) in [-1, 1]; C = 1 is drawn in gray) in that row, each
    ``scale`` inches square. Returns the matplotlib Figure."""
    labels = list(rows)
    fig, axes = plt.subplots(len(labels), n, figsize=(n * scale, len(labels) * scale),
                             squeeze=False)
    for i, lab in enumerate(labels):
        imgs = to_uint8(rows[lab][:n])
        for j in range(n):
            ax = axes[i, j]
            ax.set_xticks([]), ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if j < len(imgs):
                im = imgs[j]
                ax.imshow(im[..., 0] if im.shape[-1] == 1 else im,
                          cmap="gray" if im.shape[-1] == 1 else None, vmin=0, vmax=255)
            if j == 0:
                ax.set_ylabel(lab, rotation=0, ha="right", va="center", fontsize=9)
    fig.subplots_adjust(wspace=0.03, hspace=0.03, left=0.2)
    return fig


def psnr_vs_sigma(results, methods, labels=None, crossover: float | None = None):
    """Mean PSNR (dB) with its 95% CI band against sigma (0..255 pixel units), one line
    per method in ``methods``.

    ``results``: one {method: Scores} per sigma (as :func:`lvrlib.experiments.evaluate`
    returns); a sigma where any of a method's PSNRs is infinite (the noisy input at
    sigma 0) is left out of that method's line. ``labels`` maps methods to legend text
    (default: the methods' table labels, ``methods.METHODS``); ``crossover``, when given, draws a dashed vertical line at
    that sigma labelled as the point where LVR meets BM3D. Returns the matplotlib Figure.
    """
    from .methods import label

    labels = labels or {m: label(m) for m in methods}
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in methods:
        # A perfect match has infinite PSNR (the noisy input at sigma 0): no point to draw.
        pts = sorted((r[m].sigma, mean_ci(r[m].psnr)) for r in results
                     if np.all(np.isfinite(r[m].psnr)))
        if not pts:
            continue
        s = np.array([p[0] for p in pts])
        mu = np.array([p[1].mean for p in pts])
        lo = np.array([p[1].low for p in pts])
        hi = np.array([p[1].high for p in pts])
        ax.plot(s, mu, marker="o", label=labels.get(m, m))
        ax.fill_between(s, lo, hi, alpha=0.2)
    if crossover is not None:
        ax.axvline(crossover, color="k", ls="--", lw=1)
        ax.annotate(f"LVR = BM3D at sigma ~ {crossover:.0f}", (crossover, ax.get_ylim()[1]),
                    xytext=(4, -14), textcoords="offset points", fontsize=8)
    ax.set_xlabel("noise sigma (0..255 pixel units)")
    ax.set_ylabel("PSNR (dB), mean and 95% CI")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
