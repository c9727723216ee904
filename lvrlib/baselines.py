"""Classical denoisers as baselines for latent vector recovery: BM3D, non-local means, TV.

Every denoiser takes lvrlib images y, float32 tensors (N, C, H, W) in [-1, 1] with C = 3
(colour) or 1 (gray), and a noise standard deviation ``sigma`` in 0..255 pixel units (a
number for the whole batch, or one per image; no default). ``sigma=None`` or ``"auto"`` is
the blind variant: each image's sigma is first estimated with :func:`estimate_sigma`. Each
returns a float32 tensor of y's shape, on y's device, clipped to [-1, 1].

Internally images are handled one at a time, as H x W x C arrays on the 0..1 scale
(x01 = (y + 1) / 2), so a sigma of s pixel units is s / 255 there. The noisy input is not
clipped before denoising: clipping would bias the noise the denoisers model.

``CLASSICAL`` maps a short name to each denoiser, so notebooks and the command line can
loop over them: ``{name: f(y, sigma) for name, f in CLASSICAL.items()}``.
"""
from __future__ import annotations

import sys
from typing import Callable, Sequence

import numpy as np
import torch

from .workers import bm3d_image, default_workers, map_images

__all__ = [
    "bm3d_denoise",
    "nlm_denoise",
    "tv_denoise",
    "estimate_sigma",
    "CLASSICAL",
    "NLM_H_PER_SIGMA",
    "TV_WEIGHT_PER_SIGMA",
]

# Non-local means: h = 0.6 sigma with sigma also passed (the noise variance is then
# subtracted from patch distances), fast mode, 5x5 patches searched within 6 pixels: the
# "fast, sigma provided" setting of scikit-image's gallery example (plot_nonlocal_means).
# On 16 CelebA-sample training faces (64x64) it was within 0.2 dB of the best h/sigma in
# {0.4, 0.6, 0.8, 1.0} at each sigma in {15, 25, 50, 75}.
NLM_H_PER_SIGMA = 0.6
NLM_PATCH_SIZE = 5
NLM_PATCH_DISTANCE = 6

# TV (Chambolle): weight = 0.75 x sigma on the 0..1 scale. scikit-image gives no rule; the
# ROF weight that balances fidelity against total variation grows linearly with the noise
# std, and on 16 CelebA-sample training faces (64x64) the factor 0.75 was within 0.25 dB of
# the best of {0.4, 0.5, 0.6, 0.75, 1.0, 1.25} at each sigma in {15, 25, 50, 75}.
# The iterations run to convergence (eps 1e-6): with scikit-image's default eps (2e-4) the
# solver stops early at points that jump by up to 3 dB when sigma changes by 4%.
TV_WEIGHT_PER_SIGMA = 0.75
TV_EPS = 1e-6
TV_MAX_ITER = 2000


# --------------------------------------------------------------------------- helpers
def _check_images(y) -> None:
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y is a {type(y).__name__}; expected a torch.Tensor (N, C, H, W) in [-1, 1].")
    if y.ndim != 4 or y.shape[1] not in (1, 3):
        raise ValueError(
            f"y has shape {tuple(y.shape)}; expected (N, C, H, W) with C = 3 (colour) or 1 (gray)."
        )
    if y.shape[0] == 0:
        raise ValueError("y holds no images (N = 0).")
    if not torch.isfinite(y).all():
        raise ValueError("y has NaN or infinite pixels; expected finite values around [-1, 1].")


def _is_blind(sigma) -> bool:
    return sigma is None or (isinstance(sigma, str) and sigma == "auto")


def _sigmas(y: torch.Tensor, sigma) -> np.ndarray:
    """Per-image sigma in 0..255 pixel units, (N,): the given one(s), or estimated when blind."""
    n = y.shape[0]
    if _is_blind(sigma):
        return estimate_sigma(y)
    if isinstance(sigma, str):
        raise ValueError(f"sigma={sigma!r}; expected a number in 0..255 pixel units, None or 'auto'.")
    s = np.asarray(sigma.detach().cpu() if isinstance(sigma, torch.Tensor) else sigma,
                   dtype=np.float64).ravel()
    if s.size == 1:
        s = np.full(n, float(s[0]))
    if s.size != n:
        raise ValueError(f"sigma has {s.size} values for {n} images; expected one, or one per image.")
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(
            f"sigma={sigma}; expected non-negative standard deviations in 0..255 pixel units."
        )
    return s


def _to_hwc01(y: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> float64 (N, H, W, C) on the 0..1 scale, not clipped."""
    return (y.detach().cpu().double().numpy().transpose(0, 2, 3, 1) + 1.0) / 2.0


def _from_hwc01(x: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """float (N, H, W, C) on the 0..1 scale -> float32 (N, C, H, W) in [-1, 1], clipped."""
    out = np.clip(x.transpose(0, 3, 1, 2) * 2.0 - 1.0, -1.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)).to(like.device)


def _per_image(y, sigma, denoise_one: Callable[[np.ndarray, float], np.ndarray],
               progress: bool, desc: str) -> torch.Tensor:
    _check_images(y)
    sig = _sigmas(y, sigma)  # validated (or estimated) before any denoising starts
    x = _to_hwc01(y)
    out = np.empty_like(x)
    with _bar(x.shape[0], desc, progress) as bar:
        for i in range(x.shape[0]):
            out[i] = np.asarray(denoise_one(x[i], sig[i] / 255.0)).reshape(x[i].shape)
            bar.update(1)
    return _from_hwc01(out, y)


class _NoBar:
    """Stands in for a tqdm bar when no progress is shown."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, n: int = 1) -> None:
        pass


def _bar(total: int, desc: str, progress: bool):
    """A tqdm bar over ``total`` images, or a silent stand-in: without ``progress``
    tqdm.auto is not even imported (in a notebook without ipywidgets its import prints
    a warning into the cell's output)."""
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img")


# --------------------------------------------------------------------------- sigma
def estimate_sigma(y: torch.Tensor) -> np.ndarray:
    """Estimate each image's Gaussian noise std, in 0..255 pixel units.

    ``y``: (N, C, H, W) in [-1, 1], C = 3 or 1. Uses ``skimage.restoration.estimate_sigma``
    (wavelet median absolute deviation), averaged over colour channels. Returns a float64
    numpy array (N,).
    """
    from skimage.restoration import estimate_sigma as _sk_estimate_sigma

    _check_images(y)
    x = _to_hwc01(y)
    colour = x.shape[-1] == 3
    return np.array([
        255.0 * float(_sk_estimate_sigma(im, average_sigmas=True, channel_axis=-1) if colour
                      else _sk_estimate_sigma(im[..., 0]))
        for im in x
    ])


# --------------------------------------------------------------------------- denoisers
def bm3d_denoise(y: torch.Tensor, sigma: float | Sequence[float] | str | None, *,
                 progress: bool = False, workers: int | None = None) -> torch.Tensor:
    """Denoise with BM3D (the ``bm3d`` package: ``bm3d_rgb`` for colour, ``bm3d`` for gray).

    ``y``: (N, C, H, W) in [-1, 1], C = 3 or 1. ``sigma``: noise std in 0..255 pixel units,
    one number or one per image; ``None`` or ``"auto"`` estimates it per image
    (:func:`estimate_sigma`), the blind variant. ``progress`` shows a tqdm bar (about 1.6 s
    per 64x64 colour image on a CPU core). ``workers``: processes to spread the images
    over (default: one per CPU core when there are 4 images or more, else none); BM3D
    runs on one thread (``lvrlib.workers.BM3D_PROFILE``), so the result is the same to
    the bit whatever ``workers`` is. The workers are fresh interpreters that import only
    lvrlib's :mod:`lvrlib.workers`, never the caller's code, so this works from a plain
    script (no ``if __name__ == "__main__"`` guard needed), a script piped to
    ``python -``, a notebook and a REPL. Returns float32 (N, C, H, W) in [-1, 1].
    """
    _check_images(y)
    n = y.shape[0]
    if workers is None:
        workers = default_workers(n)
    if workers <= 1 or n == 1 or not sys.executable:  # no interpreter to start: run here
        return _per_image(y, sigma, bm3d_image, progress, "BM3D")
    sig = _sigmas(y, sigma)  # validated (or estimated) before any worker starts
    x = _to_hwc01(y)
    with _bar(n, "BM3D", progress) as bar:
        outs = map_images("bm3d", list(x), list(sig / 255.0), workers,
                          progress=lambda: bar.update(1))
    return _from_hwc01(np.stack(outs), y)


def nlm_denoise(y: torch.Tensor, sigma: float | Sequence[float] | str | None, *,
                progress: bool = False) -> torch.Tensor:
    """Denoise with non-local means (``skimage.restoration.denoise_nl_means``, fast mode).

    ``y``: (N, C, H, W) in [-1, 1], C = 3 or 1. ``sigma``: noise std in 0..255 pixel units,
    one number or one per image, ``None``/``"auto"`` to estimate it; the filter uses
    h = 0.6 sigma with sigma passed, 5x5 patches, search distance 6 (``NLM_H_PER_SIGMA``).
    Returns float32 (N, C, H, W) in [-1, 1].
    """
    from skimage.restoration import denoise_nl_means

    def one(im: np.ndarray, s01: float) -> np.ndarray:
        if s01 == 0.0:
            return im  # h = 0 would divide by zero; no noise, nothing to average
        colour = im.shape[-1] == 3
        return denoise_nl_means(
            im if colour else im[..., 0], h=NLM_H_PER_SIGMA * s01, sigma=s01, fast_mode=True,
            patch_size=NLM_PATCH_SIZE, patch_distance=NLM_PATCH_DISTANCE,
            preserve_range=True, channel_axis=-1 if colour else None,
        )

    return _per_image(y, sigma, one, progress, "NLM")


def tv_denoise(y: torch.Tensor, sigma: float | Sequence[float] | str | None, *,
               progress: bool = False) -> torch.Tensor:
    """Denoise by total variation (``skimage.restoration.denoise_tv_chambolle``).

    ``y``: (N, C, H, W) in [-1, 1], C = 3 or 1. ``sigma``: noise std in 0..255 pixel units,
    one number or one per image, ``None``/``"auto"`` to estimate it. The TV weight is
    ``TV_WEIGHT_PER_SIGMA * sigma / 255`` = 0.75 x the noise std on the 0..1 scale, solved
    to convergence, colour channels denoised separately. Returns float32 (N, C, H, W) in [-1, 1].
    """
    from skimage.restoration import denoise_tv_chambolle

    def one(im: np.ndarray, s01: float) -> np.ndarray:
        if s01 == 0.0:
            return im  # weight 0 is no regularisation
        colour = im.shape[-1] == 3
        return denoise_tv_chambolle(im if colour else im[..., 0], weight=TV_WEIGHT_PER_SIGMA * s01,
                                    eps=TV_EPS, max_num_iter=TV_MAX_ITER,
                                    channel_axis=-1 if colour else None)

    return _per_image(y, sigma, one, progress, "TV")


CLASSICAL: dict[str, Callable[..., torch.Tensor]] = {
    "bm3d": bm3d_denoise,
    "nlm": nlm_denoise,
    "tv": tv_denoise,
}
