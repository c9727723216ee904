"""The ``lvrlib`` command line: denoise your own face photos, sample faces, train a DCGAN.

    lvrlib train DATA -o OUTDIR [--iterations N] [--seed S] [--device auto|cpu|cuda]
    lvrlib sample -n N -o FILE [--checkpoint PATH] [--seed S]
    lvrlib denoise INPUT... -o OUTDIR [--method lvr|lvr-sa|bm3d|all] [--sigma N|auto]
                   [--sheet] [--add-noise SIGMA] [--overwrite] [--quiet] ...

Run ``lvrlib COMMAND --help`` for every option.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser"]


class CLIError(Exception):
    """A user error: printed as one sentence, exit code 2."""


def _note(args, message: str) -> None:
    """An informational line on stderr, silenced by --quiet."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def _error(command: str, message: str) -> None:
    print(f"lvrlib {command}: error: {message}", file=sys.stderr)


# --------------------------------------------------------------------------- train
def _training_images(data: str) -> "torch.Tensor":
    from . import data as D

    if data == "celeba-sample":
        return D.celeba_sample("train")
    root = Path(data)
    if (root / "img_align_celeba").is_dir():
        return D.celeba(root, "train")
    if root.is_dir():
        paths = sorted(p for p in root.rglob("*")
                       if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not paths:
            raise CLIError(f"{root} holds no .jpg or .png images.")
        import torch
        images = []
        for p in paths:  # read like denoise inputs: 16 bit scaled, alpha on white, EXIF
            try:
                x, _ = read_input_image(p)
            except BadInput as e:
                raise CLIError(str(e).replace("; skipped.", "; remove it to train on this folder.")) from None
            images.append(x.expand(3, -1, -1) if x.shape[0] == 1 else x)
        return torch.stack(images)
    raise CLIError(f"{data} is neither 'celeba-sample', a CelebA folder nor a folder of images.")


def cmd_train(args) -> int:
    from .dcgan import DCGANConfig, train_dcgan

    images = _training_images(args.data)
    if not args.quiet:
        print(f"training on {images.shape[0]} images from {args.data}", file=sys.stderr)
    snaps = tuple(int(s) for s in args.snapshots.split(",") if s) if args.snapshots else ()
    path = train_dcgan(DCGANConfig(), images, args.output, args.iterations, seed=args.seed,
                       device=args.device, checkpoint_every=args.checkpoint_every,
                       snapshots=snaps, progress=not args.quiet)
    print(path)
    return 0


# --------------------------------------------------------------------------- sample
def cmd_sample(args) -> int:
    import torch
    from .checkpoints import load_generator
    from .dcgan import resolve_device, sample_latent
    from .figures import save_grid

    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise CLIError(f"{out} already exists; pass --overwrite to replace it.")
    if args.n < 1:
        raise CLIError(f"-n {args.n}: expected a positive number of faces.")
    dev = resolve_device(args.device)
    G = load_generator(args.checkpoint, device=str(dev))
    z = sample_latent(args.n, G.config.nz, torch.Generator().manual_seed(args.seed), dev)
    with torch.no_grad():
        x = G(z).cpu()
    # One face is written alone (64x64), without the white frame of a grid.
    save_grid(x, out, pad=0 if args.n == 1 else 2)
    print(out)
    return 0


# --------------------------------------------------------------------------- denoise
METHODS = ("lvr", "lvr-sa", "bm3d")
METHOD_LABELS = {"lvr": "LVR", "lvr-sa": "LVR-SA", "bm3d": "BM3D"}
#: File endings taken from a folder given as input (files named directly are always tried).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SUMMARY_FIELDS = ("input", "method", "output", "sigma", "sigma_source", "residual", "seconds")
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


DENOISE_HELP = """\
Denoise face photos with latent vector recovery (LVR): find the generator's latent z whose
image G(z) is closest to the photo, and output G(z). LVR-SA adds the sharpness vector of
the noise level; BM3D is the classical baseline.

Every input (PNG, JPEG or any image Pillow reads; RGB, RGBA, gray, palette; 8 or 16 bit;
any size) is turned upright from its EXIF orientation, transparency is composited on
white, 16-bit samples are scaled to 8 bit, and the largest centred square is cropped and
resized to 64x64; a line says so for each file. Gray photos stay gray: LVR then fits the
gray version A(G(z)) of a colour face, and writes that gray image.

Writes into OUTDIR:
  <stem>_<method>.png   64x64, RGB (gray for gray inputs), one per input and method
  summary.csv           per input and method: input, method, output, sigma (given or
                        estimated), sigma_source, residual (mean squared error between
                        A(G(z)) and the input in [-1, 1] units, for the z that the method
                        outputs; empty for bm3d), seconds (LVR methods: the batch's time
                        divided by its images; lvr-sa includes the recovery it shares)
  sheet.png             with --sheet
Existing outputs are refused unless --overwrite; every file is written through a
temporary name. All images of one method are recovered in one batch.

Exit codes: 0 all done; 1 some inputs could not be read (each is named, the others
were denoised); 2 a bad option, checkpoint, sharpness file, device or existing output
(nothing is written).

example:
  lvrlib sample -n 1 -o face.png --seed 3
  lvrlib denoise face.png -o out/ --method all --sigma 50 --add-noise 50 --sheet
"""


class BadInput(Exception):
    """One input file cannot be used; reported in one sentence, the others go on."""


def _parse_sigma(text: str | None, option: str, allow_auto: bool) -> float | str | None:
    """A noise sigma from the command line: None, 'auto' or a number in 0..255 pixel units."""
    if text is None:
        return None
    if allow_auto and text.strip().lower() == "auto":
        return "auto"
    expected = "a noise standard deviation in 0..255 pixel units" + (" or 'auto'" if allow_auto else "")
    try:
        value = float(text)
    except ValueError:
        raise CLIError(f"{option} {text}: expected {expected}.") from None
    if not (0.0 <= value <= 255.0):  # also refuses NaN
        raise CLIError(f"{option} {text}: expected {expected}.")
    return value


def _resolve_device_cli(name: str) -> "torch.device":
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise CLIError("--device cuda was asked for but no CUDA GPU is available; "
                       "use --device cpu or --device auto.")
    from .dcgan import resolve_device

    return resolve_device(name)


def _check_optional_packages(methods: list[str], sigma) -> None:
    """Refuse, before any work, a method whose package is missing."""
    import importlib.util

    needs = []
    if "bm3d" in methods:
        needs.append(("bm3d", "bm3d", "--method bm3d"))
    if sigma == "auto":  # skimage's estimate_sigma works on wavelets
        needs.append(("pywt", "PyWavelets", "--sigma auto"))
    for module, package, what in needs:
        if importlib.util.find_spec(module) is None:
            raise CLIError(f"{what} needs the {package} package, which is not installed: "
                           f"pip install {package}")


def _load_bank(path: Path, nz: int):
    from .sharpness import SHIPPED_SHARPNESS, SharpnessBank

    meta = path.with_suffix(".json")
    if not path.is_file() or not meta.is_file():
        missing = path if not path.is_file() else meta
        hint = (" (the shipped sharpness vectors are not installed yet)"
                if path == SHIPPED_SHARPNESS else "")
        raise CLIError(f"lvr-sa needs sharpness vectors, but {missing} does not exist{hint}; "
                       "pass --sharpness FILE.safetensors (with its .json beside it) or "
                       "choose --method lvr or bm3d.")
    try:
        bank = SharpnessBank.load(path)
    except Exception as e:  # safetensors header errors, bad JSON, missing keys
        raise CLIError(f"The sharpness vectors {path} cannot be read ({e}).") from e
    if bank.vectors.ndim != 2 or bank.vectors.shape[1] != nz or bank.vectors.shape[0] != len(bank.sigmas):
        raise CLIError(f"The sharpness vectors {path} have shape {tuple(bank.vectors.shape)}; "
                       f"expected one vector of length {nz} (the generator's latent size) per sigma.")
    return bank


def _expand_inputs(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Files to denoise (folders listed non-recursively) and one sentence per bad input."""
    files, problems, seen = [], [], set()
    for raw in inputs:
        p = Path(raw).expanduser()
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith(".")
                           and q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                problems.append(f"the folder {p} holds no image files "
                                f"({', '.join(IMAGE_SUFFIXES)}; subfolders are not searched); skipped.")
        elif p.exists():
            found = [p]
        else:
            problems.append(f"{p} does not exist; skipped.")
            found = []
        for q in found:
            key = q.resolve()
            if key not in seen:
                seen.add(key)
                files.append(q)
    return files, problems


def _composite_on_white(arr: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C+1) with alpha last -> uint8 (H, W, C) composited on white."""
    a = arr[..., -1:].astype(np.float64) / 255.0
    return np.round(arr[..., :-1] * a + 255.0 * (1.0 - a)).astype(np.uint8)


def _to_8bit(im) -> tuple["Image.Image", str]:
    """Any PIL image -> mode 'RGB' or 'L' (8 bit), and what was done to get there."""
    from PIL import Image

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


def read_input_image(path: str | Path, size: int = 64) -> tuple["torch.Tensor", str]:
    """Read one image file the way ``lvrlib denoise`` does; return (x, note).

    Any image Pillow decodes (PNG, JPEG, ...; RGB, RGBA, gray, gray+alpha, palette; 8 or 16
    bit): the EXIF orientation is applied, 16-bit samples are scaled to 8 bit, transparency
    is composited on white, gray stays gray; then the largest centred square is cropped and
    resized to ``size`` x ``size`` (``data.center_crop_resize(img, crop=None)``). ``x`` is
    float32 (3 or 1, size, size) in [-1, 1]; ``note`` is one line saying what was done.
    Raises BadInput (one sentence naming the file) when the file cannot be used.
    """
    import torch
    from PIL import Image, ImageOps, UnidentifiedImageError

    from .data import center_crop_resize

    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            w, h, mode = im.width, im.height, im.mode
            rotated = im.getexif().get(0x0112, 1) not in (1, None)
            im = ImageOps.exif_transpose(im) if rotated else im
            img, how = _to_8bit(im)
            img.load()
    except FileNotFoundError:
        raise BadInput(f"{path} does not exist; skipped.") from None
    except PermissionError:
        raise BadInput(f"{path} cannot be read (permission denied); skipped.") from None
    except IsADirectoryError:
        raise BadInput(f"{path} is a folder, not an image; skipped.") from None
    except UnidentifiedImageError:
        raise BadInput(f"{path} is not an image that Pillow can read (expected PNG, JPEG or "
                       "another common format); skipped.") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as e:
        raise BadInput(f"{path} cannot be decoded ({e}); skipped.") from None
    side = min(img.size)
    img = center_crop_resize(img, crop=None, size=size)
    arr = np.asarray(img)
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    x = torch.from_numpy(np.array(arr.transpose(2, 0, 1))).float() / 127.5 - 1.0
    kind = "gray" if x.shape[0] == 1 else "RGB"
    note = (f"{path}: {w}x{h} {mode}{how}{', rotated upright (EXIF)' if rotated else ''} -> "
            f"centre crop {side}x{side} -> {size}x{size} {kind}")
    return x, note


def _planned_outputs(outdir: Path, stems: list[str], methods: list[str], noisy: bool,
                     sheet: bool) -> list[Path]:
    outs = [outdir / f"{st}_{m}.png" for st in stems for m in methods]
    if noisy:
        outs += [outdir / f"{st}_noisy.png" for st in stems]
    outs.append(outdir / "summary.csv")
    if sheet:
        outs.append(outdir / "sheet.png")
    return outs


def _write_csv(rows: list[dict], path: Path) -> None:
    import csv
    import os

    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _progress(total: int, desc: str, quiet: bool, unit: str = "step"):
    from tqdm.auto import tqdm

    # disable=None: shown in a terminal, silent when stderr is not a TTY (logs, tests).
    return tqdm(total=total, desc=desc, unit=unit, disable=True if quiet else None,
                leave=False, file=sys.stderr)


def cmd_denoise(args) -> int:
    import inspect
    import time

    import torch

    from .figures import make_sheet, save_png, to_uint8
    from .recovery import Grayscale, recover

    # 1. Arguments, device, sharpness vectors, checkpoint: refused before any work.
    methods = list(METHODS) if args.method == "all" else [args.method]
    sigma = _parse_sigma(args.sigma, "--sigma", allow_auto=True)
    add_noise = _parse_sigma(args.add_noise, "--add-noise", allow_auto=False)
    needs_sigma = [m for m in methods if m != "lvr"]
    if sigma is None and needs_sigma:
        raise CLIError(f"--method {args.method} needs --sigma (a number in 0..255 pixel units, "
                       f"or auto to estimate it per image): {' and '.join(needs_sigma)} use it.")
    if args.steps < 1 or args.restarts < 1:
        raise CLIError(f"--steps {args.steps} --restarts {args.restarts}: both must be at least 1.")
    lr = args.lr if args.lr is not None else inspect.signature(recover).parameters["lr"].default
    if not (lr > 0 and np.isfinite(lr)):
        raise CLIError(f"--lr {args.lr}: expected a positive step size.")
    lvr_methods = [m for m in methods if m in ("lvr", "lvr-sa")]
    _check_optional_packages(methods, sigma)
    dev = _resolve_device_cli(args.device)
    G = bank = None
    if lvr_methods:
        from .checkpoints import load_generator

        G = load_generator(args.checkpoint, device=str(dev))  # CheckpointError: exit 2
        if "lvr-sa" in methods:
            from .sharpness import SHIPPED_SHARPNESS

            bank = _load_bank(Path(args.sharpness) if args.sharpness else SHIPPED_SHARPNESS,
                              G.config.nz)

    # 2. Inputs and outputs: every output is checked before anything is computed.
    files, problems = _expand_inputs(args.inputs)
    stems: dict[str, Path] = {}
    for f in files:
        if f.stem in stems:
            raise CLIError(f"{stems[f.stem]} and {f} would both write {f.stem}_<method>.png; "
                           "rename one of them or denoise them into separate folders.")
        stems[f.stem] = f
    outdir = Path(args.output).expanduser()
    if outdir.exists() and not outdir.is_dir():
        raise CLIError(f"-o {outdir} is a file; expected a folder (it is created if missing).")
    planned = _planned_outputs(outdir, list(stems), methods, add_noise is not None, args.sheet)
    existing = [p for p in planned if p.exists()]
    if existing and not args.overwrite:
        more = f" (and {len(existing) - 1} more outputs)" if len(existing) > 1 else ""
        raise CLIError(f"{existing[0]}{more} already exists; pass --overwrite to replace it.")

    # 3. Read and preprocess; a bad file is reported and the others go on.
    for msg in problems:
        _error("denoise", msg)
    bad = len(problems)
    items = []  # (path, x)
    for f in files:
        try:
            x, note = read_input_image(f)
        except BadInput as e:
            _error("denoise", str(e))
            bad += 1
            continue
        _note(args, note)
        items.append((f, x))
    if not items:
        _error("denoise", "no input could be read, so nothing was written.")
        return 1

    from .data import add_noise as _add_noise

    clean = [x for _, x in items]
    if add_noise is not None:
        g = torch.Generator().manual_seed(args.seed)
        noisy = [_add_noise(x[None], add_noise, g)[0] for x in clean]
        _note(args, f"added Gaussian noise, sigma {add_noise:g} (seed {args.seed})")
    else:
        noisy = clean

    # 4. Denoise: one batch per method and channel count (gray and colour images differ).
    groups: dict[int, list[int]] = {}
    for i, x in enumerate(noisy):
        groups.setdefault(x.shape[0], []).append(i)
    n = len(items)
    sig_used: list[float | None] = [None] * n
    outputs: dict[tuple[int, str], torch.Tensor] = {}
    residual: dict[tuple[int, str], float] = {}
    seconds: dict[tuple[int, str], float] = {}
    for c, idx in groups.items():
        y = torch.stack([noisy[i] for i in idx])
        if sigma == "auto":
            from .baselines import estimate_sigma

            est = estimate_sigma(y)
            for k, i in enumerate(idx):
                sig_used[i] = float(est[k])
                _note(args, f"{items[i][0]}: estimated sigma {est[k]:.1f}")
        elif sigma is not None:
            for i in idx:
                sig_used[i] = float(sigma)
        op = Grayscale() if c == 1 else None
        if lvr_methods:
            bar = _progress(args.steps + 2, f"LVR ({len(idx)} {'gray' if c == 1 else 'colour'})",
                            args.quiet)
            # recover() reports no progress; each of its steps is one generator forward pass.
            def tick(*_) -> None:  # a forward hook that returned a value would replace G's output
                bar.update(1)

            hook = G.register_forward_hook(tick)
            t0 = time.perf_counter()
            try:
                res = recover(G, y, steps=args.steps, restarts=args.restarts, lr=lr,
                              seed=args.seed, device=dev)
            finally:
                hook.remove()
                bar.close()
            t_lvr = time.perf_counter() - t0
            with torch.no_grad():
                proj = op(res.images) if op is not None else res.images
            if "lvr" in methods:
                for k, i in enumerate(idx):
                    outputs[i, "lvr"] = proj[k]
                    residual[i, "lvr"] = float(res.loss[k])
                    seconds[i, "lvr"] = t_lvr / len(idx)
            if "lvr-sa" in methods:
                from .sharpness import lvr_sa

                sig = np.array([sig_used[i] for i in idx])
                lo, hi = bank.sigmas[0], bank.sigmas[-1]
                outside = [f"{v:.1f}" for v in sig if not lo <= v <= hi]
                if outside:
                    _note(args, f"sigma {', '.join(outside)} lies outside the stored sharpness "
                                f"range {lo:g}..{hi:g}: the nearest vector is used (scaled "
                                "towards 0 below the range)")
                t0 = time.perf_counter()
                s = torch.stack([bank.at(v) for v in sig])
                sa = lvr_sa(G, res.z, s, operator=op)
                t_sa = time.perf_counter() - t0
                r = (sa - y).pow(2).flatten(1).mean(1)
                for k, i in enumerate(idx):
                    outputs[i, "lvr-sa"] = sa[k]
                    residual[i, "lvr-sa"] = float(r[k])
                    seconds[i, "lvr-sa"] = (t_lvr + t_sa) / len(idx)
        if "bm3d" in methods:
            from .baselines import bm3d_denoise

            bar = _progress(len(idx), "BM3D", args.quiet, unit="image")
            for k, i in enumerate(idx):
                t0 = time.perf_counter()
                outputs[i, "bm3d"] = bm3d_denoise(y[k:k + 1], sig_used[i])[0]
                seconds[i, "bm3d"] = time.perf_counter() - t0
                bar.update(1)
            bar.close()

    # 5. Write: every file through a temporary name, the summary after the images.
    outdir.mkdir(parents=True, exist_ok=True)
    written, rows = [], []
    for i, (path, _) in enumerate(items):
        if add_noise is not None:
            written.append(save_png(to_uint8(noisy[i]), outdir / f"{path.stem}_noisy.png"))
        for m in methods:
            out = save_png(to_uint8(outputs[i, m]), outdir / f"{path.stem}_{m}.png")
            written.append(out)
            rows.append({
                "input": str(path), "method": m, "output": out.name,
                "sigma": "" if sig_used[i] is None else f"{sig_used[i]:.2f}",
                "sigma_source": "" if sig_used[i] is None else
                                ("estimated" if sigma == "auto" else "given"),
                "residual": f"{residual[i, m]:.6f}" if (i, m) in residual else "",
                "seconds": f"{seconds[i, m]:.3f}",
            })
    summary = outdir / "summary.csv"
    _write_csv(rows, summary)
    written.append(summary)
    if args.sheet:
        labels = (["clean", f"noisy ({add_noise:g})"] if add_noise is not None else ["input"])
        labels += [METHOD_LABELS[m] for m in methods]
        sheet_rows = [([clean[i]] if add_noise is not None else []) + [noisy[i]]
                      + [outputs[i, m] for m in methods] for i in range(n)]
        written.append(save_png(make_sheet(sheet_rows, labels, [p.stem for p, _ in items]),
                                outdir / "sheet.png"))
    if not args.quiet:
        for p in written:
            print(p)
    if bad:
        _error("denoise", f"{bad} input{'s' if bad > 1 else ''} could not be used (see above); "
                          f"the other {n} {'were' if n > 1 else 'was'} denoised.")
    return 1 if bad else 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lvrlib", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a DCGAN on face images (resumable)")
    t.add_argument("data", help="'celeba-sample', a CelebA folder (img_align_celeba/ + "
                                "list_eval_partition.txt) or a folder of face images")
    t.add_argument("-o", "--output", required=True, help="output folder (resumes if it holds a run)")
    t.add_argument("--iterations", type=int, default=3000)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    t.add_argument("--checkpoint-every", type=int, default=100)
    t.add_argument("--snapshots", default="", help="comma-separated iterations at which to "
                                                   "keep a copy of the generator")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="write a grid of generated faces")
    s.add_argument("-n", type=int, default=64)
    s.add_argument("-o", "--output", required=True, help="PNG file to write")
    s.add_argument("--checkpoint", default=None, help="generator .safetensors (default: shipped)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    s.add_argument("--overwrite", action="store_true")
    s.set_defaults(func=cmd_sample)

    d = sub.add_parser(
        "denoise", help="denoise face photos by projecting them onto the generator's range",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=DENOISE_HELP)
    d.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files, or folders whose image files (" + " ".join(IMAGE_SUFFIXES)
                        + ") are all taken; subfolders are not searched")
    d.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help="output folder (created if missing)")
    d.add_argument("--method", default="lvr", choices=["lvr", "lvr-sa", "bm3d", "all"],
                   help="lvr: latent vector recovery, G(z); lvr-sa: LVR with the sharpness "
                        "vector of sigma, G(z + s_sigma); bm3d: BM3D; all: the three (default: lvr)")
    d.add_argument("--sigma", metavar="N|auto",
                   help="noise standard deviation in 0..255 pixel units, or 'auto' to estimate "
                        "it per image (wavelet estimate, skimage); needed by lvr-sa and bm3d, "
                        "only recorded for lvr")
    d.add_argument("--checkpoint", default=None,
                   help="generator .safetensors, with its .json beside it (default: the shipped "
                        "generator, trained on the CelebA sample)")
    d.add_argument("--sharpness", default=None, metavar="PATH",
                   help="sharpness vectors .safetensors for lvr-sa (default: the shipped ones, "
                        "lvrlib/weights/sharpness_celeba_sample.safetensors)")
    d.add_argument("--steps", type=int, default=200, help="gradient steps of LVR (default: 200)")
    d.add_argument("--restarts", type=int, default=1,
                   help="random starts per image, the best is kept (default: 1)")
    d.add_argument("--lr", type=float, default=None,
                   help="LVR step size (default: lvrlib.recovery.recover's default)")
    d.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    d.add_argument("--seed", type=int, default=0,
                   help="seeds LVR's starting latents and --add-noise (default: 0)")
    d.add_argument("--sheet", action="store_true",
                   help="also write OUTDIR/sheet.png: per input a row, the input as "
                        "preprocessed next to each method's output")
    d.add_argument("--add-noise", metavar="SIGMA", default=None,
                   help="for demonstrations: add Gaussian noise of this sigma (0..255 pixel "
                        "units), seeded by --seed, before denoising; writes <stem>_noisy.png and "
                        "the sheet then also shows the clean input")
    d.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    d.add_argument("--quiet", action="store_true",
                   help="no progress bar and no notes; errors are still printed")
    d.set_defaults(func=cmd_denoise)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .checkpoints import CheckpointError
    from .data import DataError

    try:
        return args.func(args)
    except (CLIError, CheckpointError, DataError, ValueError) as e:
        print(f"lvrlib {args.command}: error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        if "CUDA" in str(e) or "cuda" in str(e):
            print(f"lvrlib {args.command}: error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
