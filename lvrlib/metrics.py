"""Image quality metrics and confidence intervals.

PSNR and SSIM are computed per image on the 0..255 scale (data_range 255) after mapping
lvrlib images from [-1, 1] and clipping to [0, 255], as DESIGN.md fixes. Tables report
the mean over images with a 95% confidence interval (Student t), and paired differences
between two methods on the same images with their own interval.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["to_255", "psnr", "ssim", "mse_255", "MeanCI", "mean_ci", "paired_diff",
           "nearest_neighbours"]


def to_255(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Images in [-1, 1] -> float64 on 0..255, clipped; (N, C, H, W) kept as is."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.clip((np.asarray(x, dtype=np.float64) + 1.0) * 127.5, 0.0, 255.0)


def _check_pair(x, ref):
    if tuple(x.shape) != tuple(ref.shape):
        raise ValueError(f"shapes differ: {tuple(x.shape)} and {tuple(ref.shape)}.")
    if x.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) images, got shape {tuple(x.shape)}.")


def mse_255(x, ref) -> np.ndarray:
    """Per-image mean squared error on the 0..255 scale, (N,)."""
    _check_pair(x, ref)
    a, b = to_255(x), to_255(ref)
    return ((a - b) ** 2).reshape(a.shape[0], -1).mean(1)


def psnr(x, ref) -> np.ndarray:
    """Per-image PSNR in dB of ``x`` against the clean ``ref`` (both (N, C, H, W) in
    [-1, 1]); data_range 255. A perfect match gives +inf."""
    mse = mse_255(x, ref)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(255.0 ** 2 / mse)


def ssim(x, ref) -> np.ndarray:
    """Per-image SSIM (scikit-image, data_range 255, Gaussian-free 7x7 windows, colour
    channels averaged) of ``x`` against ``ref``, (N,). Images smaller than 7 pixels use
    the largest odd window that fits."""
    from skimage.metrics import structural_similarity

    _check_pair(x, ref)
    a, b = to_255(x), to_255(ref)
    win = min(7, a.shape[-1] - (1 - a.shape[-1] % 2), a.shape[-2] - (1 - a.shape[-2] % 2))
    return np.array([
        structural_similarity(a[i], b[i], data_range=255.0, channel_axis=0, win_size=win)
        for i in range(a.shape[0])
    ])


@dataclass(frozen=True)
class MeanCI:
    """A mean with its 95% confidence interval [low, high] over n values."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0

    def __str__(self) -> str:
        return f"{self.mean:.2f} [{self.low:.2f}, {self.high:.2f}]"


def mean_ci(values, level: float = 0.95) -> MeanCI:
    """Mean of ``values`` with a Student-t confidence interval (``level``, default 95%)."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("mean_ci of no values.")
    if not np.all(np.isfinite(v)):
        raise ValueError("mean_ci got non-finite values (a PSNR of a perfect match is +inf).")
    m = float(v.mean())
    if v.size == 1:
        return MeanCI(m, float("nan"), float("nan"), 1)
    half = float(stats.t.ppf(0.5 + level / 2.0, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return MeanCI(m, m - half, m + half, int(v.size))


def paired_diff(a, b, level: float = 0.95) -> MeanCI:
    """Mean of a - b over the same images with its confidence interval (paired t)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired_diff needs the same images: {a.size} and {b.size} values.")
    return mean_ci(a - b, level)


def nearest_neighbours(x: torch.Tensor, ref: torch.Tensor, chunk: int = 256):
    """For each image of x, the L2 distance (pixel space, [-1, 1] units) to its nearest
    image in ref and that image's index: (distances (N,), indices (N,)) as tensors."""
    if x.shape[1:] != ref.shape[1:]:
        raise ValueError(f"image shapes differ: {tuple(x.shape[1:])} and {tuple(ref.shape[1:])}.")
    r = ref.flatten(1).to(x.device)
    d, i = [], []
    for part in x.flatten(1).split(chunk):
        dist = torch.cdist(part, r)
        v, k = dist.min(1)
        d.append(v)
        i.append(k)
    return torch.cat(d).cpu(), torch.cat(i).cpu()
