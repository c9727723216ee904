"""Matplotlib figures for the book: rows of images, and mean PSNR against sigma with
confidence bands. Each function returns the figure and saves nothing; PNG files of images
come from :mod:`lvrlib.figures`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .figures import to_uint8
from .metrics import mean_ci

__all__ = ["image_rows", "psnr_vs_sigma", "psnr_vs_sigma_by_set"]


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


def _psnr_lines(ax, results, methods, labels, set_name=None):
    """Draw one line with its 95% CI band per method on ``ax``: the method's mean PSNR at
    each sigma of ``results`` (of ``set_name`` when given). Points with an infinite PSNR
    (the noisy input at sigma 0) are left out; two results for one (method, set, sigma)
    raise ValueError. Returns the number of lines drawn."""
    drawn = 0
    for k, m in enumerate(methods):
        pts = {}
        for r in results:
            if m not in r or (set_name is not None and r[m].set_name != set_name):
                continue
            if not np.all(np.isfinite(r[m].psnr)):
                continue
            key = r[m].sigma
            if key in pts:
                raise ValueError(f"two results for {m} at sigma {key:g}"
                                 + (f" on {set_name}" if set_name else "") + ".")
            pts[key] = mean_ci(r[m].psnr)
        if not pts:
            continue
        s = np.array(sorted(pts))
        ci = [pts[x] for x in s]
        colour = f"C{k}"
        ax.plot(s, [c.mean for c in ci], marker="o", color=colour, label=labels.get(m, m))
        ax.fill_between(s, [c.low for c in ci], [c.high for c in ci], color=colour, alpha=0.2)
        drawn += 1
    ax.set_xlabel("noise sigma (0..255 pixel units)")
    ax.grid(alpha=0.3)
    return drawn


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
    _psnr_lines(ax, results, methods, labels)
    if crossover is not None:
        ax.axvline(crossover, color="k", ls="--", lw=1)
        ax.annotate(f"LVR = BM3D at sigma ~ {crossover:.0f}", (crossover, ax.get_ylim()[1]),
                    xytext=(4, -14), textcoords="offset points", fontsize=8)
    ax.set_ylabel("PSNR (dB), mean and 95% CI")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def psnr_vs_sigma_by_set(results, methods, labels=None, set_labels=None):
    """One panel per set, side by side with a shared PSNR axis: each method's mean PSNR
    (dB) with its 95% CI band against sigma (0..255 pixel units).

    ``results``: {method: Scores} dicts from any number of ``evaluate`` calls (for example
    Table 3's cells, and IA-LVR's from the Beyond chapter as ``{"ia-lvr": scores}``); each
    method's point at a (set, sigma) comes from the one result that holds it (two raise
    ValueError). Sets appear in the order first met. Returns the matplotlib Figure."""
    from .experiments import SHORT_SET_LABELS
    from .methods import label

    labels = labels or {m: label(m) for m in methods}
    set_labels = set_labels or SHORT_SET_LABELS
    sets = list(dict.fromkeys(v.set_name for r in results for m, v in r.items()
                              if m in methods))
    if not sets:
        raise ValueError(f"no result holds any of the methods {list(methods)}.")
    fig, axes = plt.subplots(1, len(sets), figsize=(3.2 * len(sets) + 0.6, 3.6),
                             sharey=True, squeeze=False)
    for ax, name in zip(axes[0], sets):
        _psnr_lines(ax, results, methods, labels, set_name=name)
        ax.set_title(set_labels.get(name, name), fontsize=10)
    axes[0][0].set_ylabel("PSNR (dB), mean and 95% CI")
    legend = {}
    for ax in axes[0]:
        for h, n in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(n, h)
    names = list(legend)
    fig.legend([legend[n] for n in names], names, loc="lower center", ncol=len(names), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
