"""Images as uint8 arrays and PNG files: grids, labelled side-by-side sheets, and an
atomic PNG writer. The command line's outputs and the training chapter's samples come from
here; the book's matplotlib figures are in :mod:`lvrlib.plots`."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ._io import atomic_path

__all__ = ["to_uint8", "make_grid", "make_sheet", "save_grid", "save_png"]


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) or (N, C, H, W) in [-1, 1] -> uint8 (.., H, W, C) on 0..255 (clipped)."""
    x = ((x.detach().cpu().float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return x.movedim(-3, -1).numpy()


def make_grid(x: torch.Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile images (N, C, H, W) in [-1, 1] into one uint8 (H', W', 3) array: ``nrow``
    images per row (default ceil(sqrt(N))), ``pad`` white pixels between and around them.

    Gray images (C = 1) are shown as RGB; all images must have the same H x W (resize them
    first). ``pad=0`` with one image gives that image alone.
    """
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    n, _, h, w = x.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / nrow))
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, 3), 255, np.uint8)
    imgs = to_uint8(x)
    for i in range(n):
        r, c = divmod(i, nrow)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = imgs[i]
    return out


def save_png(arr: np.ndarray, path: str | Path) -> Path:
    """Write a uint8 (H, W), (H, W, 1) or (H, W, 3) array to ``path`` as PNG, atomically
    (:func:`lvrlib._io.atomic_path`), creating its folder; return the path."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(arr)).save(tmp, format="PNG")
    return path


def _label_font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # scalable; needs FreeType
    except (TypeError, ValueError, OSError, ImportError):
        return ImageFont.load_default()  # Pillow's small bitmap font


def make_sheet(rows: Sequence[Sequence[torch.Tensor]], col_labels: Sequence[str] | None = None,
               row_labels: Sequence[str] | None = None, *, scale: int = 2, pad: int = 4,
               font_size: int = 11) -> np.ndarray:
    """A side-by-side comparison sheet: one row per image, one column per version of it.

    ``rows``: lists of images (C, H, W) in [-1, 1], C = 3 or 1 (gray is shown as RGB), all
    of the same H x W; every row has as many images as there are ``col_labels``.
    ``col_labels`` are written above the columns, ``row_labels`` (cut to 18 characters)
    left of the rows. Each image is enlarged ``scale`` times (nearest neighbour, so pixels
    stay visible). Returns uint8 (H', W', 3) on a white background. Raises ValueError
    when there is no image, the rows or labels differ in length, or the sizes differ.
    """
    from PIL import Image, ImageDraw

    if not rows or not rows[0]:
        raise ValueError("make_sheet needs at least one row with one image.")
    ncol = len(rows[0])
    if any(len(r) != ncol for r in rows) or (col_labels is not None and len(col_labels) != ncol):
        raise ValueError(f"every row and the labels need {ncol} entries.")
    if row_labels is not None and len(row_labels) != len(rows):
        raise ValueError(f"{len(row_labels)} row labels for {len(rows)} rows.")
    h, w = rows[0][0].shape[-2:]
    ch, cw = h * scale, w * scale
    font = _label_font(font_size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def text_size(t: str) -> tuple[int, int]:
        box = probe.textbbox((0, 0), t, font=font)
        return box[2] - box[0], box[3]

    rlabels = [t if len(t) <= 18 else t[:17] + "~" for t in (row_labels or [])]
    left = max((text_size(t)[0] for t in rlabels), default=0)
    left = left + pad if left else 0
    top = max((text_size(t)[1] for t in (col_labels or [])), default=0)
    top = top + pad if top else 0
    sheet = Image.new("RGB", (pad + left + ncol * (cw + pad), pad + top + len(rows) * (ch + pad)),
                      "white")
    draw = ImageDraw.Draw(sheet)
    for j, t in enumerate(col_labels or []):
        tw = text_size(t)[0]
        draw.text((pad + left + j * (cw + pad) + max((cw - tw) // 2, 0), pad), t,
                  fill="black", font=font)
    for i, row in enumerate(rows):
        y0 = pad + top + i * (ch + pad)
        if rlabels:
            draw.text((pad, y0 + (ch - text_size(rlabels[i])[1]) // 2), rlabels[i],
                      fill="black", font=font)
        for j, img in enumerate(row):
            if tuple(img.shape[-2:]) != (h, w):
                raise ValueError(f"image ({i}, {j}) is {tuple(img.shape[-2:])}, not {(h, w)}.")
            arr = to_uint8(img.expand(3, -1, -1) if img.shape[0] == 1 else img)
            tile = Image.fromarray(arr).resize((cw, ch), Image.Resampling.NEAREST)
            sheet.paste(tile, (pad + left + j * (cw + pad), y0))
    return np.asarray(sheet).copy()


def save_grid(x: torch.Tensor, path: str | Path, nrow: int | None = None, pad: int = 2) -> Path:
    """Save images (N, C, H, W) in [-1, 1] as one PNG grid (:func:`make_grid`: ``nrow``
    images per row, ``pad`` white pixels apart) with :func:`save_png`; return the path."""
    return save_png(make_grid(x, nrow, pad), path)
