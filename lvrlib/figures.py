"""Image grids and side-by-side sheets for the book and the command line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["to_uint8", "make_grid", "save_grid", "save_png"]


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) or (N, C, H, W) in [-1, 1] -> uint8 (.., H, W, C) on 0..255 (clipped)."""
    x = ((x.detach().cpu().float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return x.movedim(-3, -1).numpy()


def make_grid(x: torch.Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile images (N, C, H, W) in [-1, 1] into one uint8 (H', W', 3) array, white gaps.

    Gray images are shown as RGB; images of different sizes are not supported here
    (resize them first).
    """
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    n, _, h, w = x.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    ncol = int(np.ceil(n / nrow))
    out = np.full((ncol * (h + pad) + pad, nrow * (w + pad) + pad, 3), 255, np.uint8)
    imgs = to_uint8(x)
    for i in range(n):
        r, c = divmod(i, nrow)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = imgs[i]
    return out


def save_png(arr: np.ndarray, path: str | Path) -> Path:
    """Write a uint8 (H, W[, C]) array as PNG, through a temporary name."""
    from PIL import Image
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(arr).save(tmp, format="PNG")
    os.replace(tmp, path)
    return path


def save_grid(x: torch.Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Save images (N, C, H, W) in [-1, 1] as one PNG grid."""
    return save_png(make_grid(x, nrow), path)
