"""The ``lvrlib`` command line: denoise your own face photos, sample faces, train a DCGAN.

    lvrlib train DATA -o OUTDIR [--iterations N] [--seed S] [--device auto|cpu|cuda]
    lvrlib sample -n N -o FILE [--checkpoint PATH] [--seed S]
    lvrlib denoise INPUT... -o OUTDIR [--method lvr|lvr-sa|ia-lvr|ia-lvr-ensemble|bm3d|all] [--sigma N|auto]
                   [--sheet] [--add-noise SIGMA] [--overwrite] [--quiet] ...

Run ``lvrlib COMMAND --help`` for every option.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ._io import atomic_write_bytes
from .methods import CLI_METHODS, METHODS

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
    """The training images named by ``lvrlib train DATA``: (N, 3, 64, 64) in [-1, 1]."""
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
        for p in paths:  # the reader of `lvrlib denoise`, every image made RGB
            try:
                images.append(D.read_image(p, mode="RGB")[0])
            except D.ImageFileError as e:
                raise CLIError(f"{e.reason}; remove it to train on this folder.") from None
        return torch.stack(images)
    raise CLIError(f"{data} is neither 'celeba-sample', a CelebA folder nor a folder of images.")


def cmd_train(args) -> int:
    from .dcgan import DCGANConfig
    from .training import train_dcgan

    snaps = tuple(int(s) for s in args.snapshots.split(",") if s) if args.snapshots else ()
    images = _training_images(args.data)
    _note(args, f"training on {images.shape[0]} images from {args.data}")
    path = train_dcgan(DCGANConfig(), images, args.output, args.iterations, seed=args.seed,
                       device=args.device, checkpoint_every=args.checkpoint_every,
                       snapshots=snaps, progress=not args.quiet)
    print(path)
    return 0


# --------------------------------------------------------------------------- encoder
def _generator_from(spec: str, device: str) -> "torch.nn.Module":
    """The generator ``lvrlib train-encoder`` names: 'shipped', 'gan-face', a checkpoint
    path or 'module:function'."""
    import importlib

    import torch

    if spec == "gan-face":
        from .external import gan_face_generator

        return gan_face_generator(device=device)
    if spec == "shipped" or spec.endswith(".safetensors"):
        from .checkpoints import load_generator

        return load_generator(None if spec == "shipped" else spec, device=device)
    module, _, name = spec.partition(":")
    if not name:
        raise CLIError(f"{spec}: expected 'shipped', 'gan-face', a .safetensors checkpoint "
                       "or 'module:function'.")
    try:
        G = getattr(importlib.import_module(module), name)()
    except (ImportError, AttributeError) as e:
        raise CLIError(f"{spec}: cannot load the generator ({e}).") from None
    if not isinstance(G, torch.nn.Module):
        raise CLIError(f"{spec} returned a {type(G).__name__}, not a torch module.")
    return G.to(device)


def cmd_train_encoder(args) -> int:
    import time

    from .encoder import save_encoder, train_encoder
    from .settings import prior_of

    out = Path(args.output).expanduser()
    if out.suffix != ".safetensors":
        raise CLIError(f"-o {out}: an encoder file must end in .safetensors.")
    if out.exists() and not args.overwrite:
        raise CLIError(f"{out} already exists; pass --overwrite to replace it.")
    dev = _resolve_device_cli(args.device)
    G = _generator_from(args.generator, str(dev))
    prior = args.prior or ("normal" if args.generator == "gan-face" else prior_of(G))
    _note(args, f"training an encoder for {args.generator} ({prior} prior)")
    t0 = time.perf_counter()
    enc = train_encoder(G, iterations=args.iterations, image_iterations=args.image_iterations,
                        pool=args.pool, prior=prior, seed=args.seed, progress=not args.quiet)
    seconds = round(time.perf_counter() - t0, 1)
    save_encoder(out, enc, G, extra={"prior": prior, "seconds": seconds,
                                     "generator": args.generator,
                                     "command": f"lvrlib train-encoder {args.generator} "
                                     f"--prior {prior} --iterations {args.iterations} "
                                     f"--image-iterations {args.image_iterations} "
                                     f"--pool {args.pool} --seed {args.seed}"})
    _note(args, f"trained in {seconds:.0f} s")
    print(out)
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
ALL_METHODS = ("lvr", "lvr-sa", "bm3d")   # --method all: the paper's methods
#: File endings taken from a folder given as input (files named directly are always tried).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SUMMARY_FIELDS = ("input", "method", "output", "sigma", "sigma_source", "residual", "seconds")


# lvrlib.data.MIN_IMAGE_SIZE, written out: importing lvrlib.data (and torch) would make
# `lvrlib --help` take seconds (a test checks that the two agree).
DENOISE_HELP = """\
Denoise face photos with latent vector recovery (LVR): find the generator's latent z whose
image G(z) is closest to the photo, and output G(z). LVR-SA adds the sharpness vector of
the noise level; IA-LVR then adapts the generator's weights to each photo and stops when
the fit leaves only noise of the given sigma (slower: seconds per image); BM3D is the
classical baseline.

Every input (PNG, JPEG or any image Pillow reads; RGB, RGBA, gray, palette; 8 or 16 bit;
any size from 16 pixels on the shorter side) is turned upright from its EXIF
orientation, transparency is composited on white, 16-bit samples are scaled to 8 bit, and
the largest centred square is cropped and resized to 64x64; a line says so for each file.
Gray photos stay gray: LVR then fits the gray version A(G(z)) of a colour face, and writes
that gray image.

Writes into OUTDIR:
  <stem>_<method>.png   64x64, RGB (gray for gray inputs), one per input and method
  summary.csv           per input and method: input, method, output, sigma (given or
                        estimated), sigma_source, residual (mean squared error between
                        A(G(z)) and the input in [-1, 1] units, for the z that the method
                        outputs; empty for bm3d), seconds (LVR methods: the batch's time
                        divided by its images; lvr-sa and ia-lvr include the recovery
                        they start from)
  sheet.png             with --sheet
Existing outputs are refused unless --overwrite; every file is written through a
temporary name. All images of one method are recovered in one batch.

Exit codes: 0 all done; 1 some inputs could not be read (each is named, the others
were denoised); 2 a bad option, checkpoint, sharpness file, device, existing output or
an image smaller than 16 pixels (nothing is written).

example:
  lvrlib sample -n 1 -o face.png --seed 3
  lvrlib denoise face.png -o out/ --method all --sigma 50 --add-noise 50 --sheet
"""


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
    import io

    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(path, text.getvalue().encode())


def _progress(total: int, desc: str, quiet: bool, unit: str = "step"):
    from tqdm.auto import tqdm

    # disable=None: shown in a terminal, silent when stderr is not a TTY (logs, tests).
    return tqdm(total=total, desc=desc, unit=unit, disable=True if quiet else None,
                leave=False, file=sys.stderr)


@dataclass
class _Plan:
    """What one ``lvrlib denoise`` run will do, every option checked."""

    methods: list[str]
    sigma: float | str | None          # given (0..255 pixel units), "auto" or None
    add_noise: float | None
    lvr: "LVRSettings"                 # --steps, --lr, --restarts
    device: "torch.device"
    G: "Generator | None"              # loaded when an LVR method runs
    bank: "SharpnessBank | None"       # loaded for lvr-sa
    encoder: "torch.nn.Module | None"  # --encoder
    files: list[Path]
    problems: list[str]                # one sentence per input that is not there
    outdir: Path

    @property
    def lvr_methods(self) -> list[str]:
        return [m for m in self.methods if METHODS[m].family != "classical"]


@dataclass
class _Inputs:
    """The images that could be read: paths, clean and noisy (C, 64, 64) in [-1, 1]."""

    paths: list[Path]
    clean: list["torch.Tensor"]
    noisy: list["torch.Tensor"]        # the clean ones unless --add-noise
    bad: int                           # inputs that could not be used


@dataclass
class _Denoised:
    """Per (input index, method): the output image, its residual and seconds."""

    outputs: dict = field(default_factory=dict)
    residual: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    sigma: list = field(default_factory=list)   # per input: the sigma used, or None


def _plan_denoise(args) -> _Plan:
    """Check every option, the checkpoint, the sharpness vectors and every output path;
    raise CLIError (exit 2) before any work."""
    from .settings import LVRSettings

    methods = list(ALL_METHODS) if args.method == "all" else [args.method]
    sigma = _parse_sigma(args.sigma, "--sigma", allow_auto=True)
    add_noise = _parse_sigma(args.add_noise, "--add-noise", allow_auto=False)
    needs_sigma = [m for m in methods if METHODS[m].needs_sigma]
    if sigma is None and needs_sigma:
        raise CLIError(f"--method {args.method} needs --sigma (a number in 0..255 pixel units, "
                       f"or auto to estimate it per image): {' and '.join(needs_sigma)} use it.")
    try:   # LVRSettings checks the values; the message names the options given
        lvr = LVRSettings(steps=args.steps, lr=args.lr, restarts=args.restarts, id="cli")
    except ValueError as e:
        given = " ".join(f"--{k} {v}" for k, v in (("steps", args.steps), ("lr", args.lr),
                                                   ("restarts", args.restarts))
                         if v is not None)
        raise CLIError(f"{given}: {e}") from None
    dev = _resolve_device_cli(args.device)
    G = bank = encoder = None
    if any(METHODS[m].family != "classical" for m in methods):
        from .checkpoints import load_generator

        G = load_generator(args.checkpoint, device=str(dev))  # CheckpointError: exit 2
        if args.encoder:
            from .encoder import EncoderError, load_encoder

            try:
                encoder = load_encoder(args.encoder, G, device=dev)
            except EncoderError as e:
                raise CLIError(f"--encoder {args.encoder}: {e}") from None
        if "lvr-sa" in methods:
            from .sharpness import SHIPPED_SHARPNESS

            bank = _load_bank(Path(args.sharpness) if args.sharpness else SHIPPED_SHARPNESS,
                              G.config.nz)

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
    return _Plan(methods, sigma, add_noise, lvr, dev, G, bank, encoder, files, problems, outdir)


def _read_inputs(args, plan: _Plan) -> _Inputs:
    """Read and preprocess every input (:func:`lvrlib.data.read_image`); a file that
    cannot be read is reported and skipped, an image under ``MIN_IMAGE_SIZE`` pixels
    stops the run (ValueError, exit 2). Adds the --add-noise noise."""
    import torch

    from .data import ImageFileError, read_image
    from .physics import add_noise

    # Printed once every file is read, so that a too small image (ValueError, exit 2)
    # stops the run with its one line only.
    messages = [("error", msg) for msg in plan.problems]   # in input order
    paths, clean = [], []
    for f in plan.files:
        try:
            x, note = read_image(f)
        except ImageFileError as e:
            messages.append(("error", f"{e.reason}; skipped."))
            continue
        messages.append(("note", note))
        paths.append(f)
        clean.append(x)
    for kind, text in messages:
        if kind == "error":
            _error("denoise", text)
        else:
            _note(args, text)
    bad = sum(kind == "error" for kind, _ in messages)
    noisy = clean
    if plan.add_noise is not None and clean:
        g = torch.Generator().manual_seed(args.seed)
        noisy = [add_noise(x[None], plan.add_noise, g)[0] for x in clean]
        _note(args, f"added Gaussian noise, sigma {plan.add_noise:g} (seed {args.seed})")
    return _Inputs(paths, clean, noisy, bad)


def _sigmas_for(args, plan: _Plan, inputs: _Inputs, y: "torch.Tensor",
                idx: list[int]) -> list[float | None]:
    """The sigma of each image of one batch: given, estimated (--sigma auto) or None."""
    if plan.sigma == "auto":
        from .baselines import estimate_sigma

        est = estimate_sigma(y)
        for k, i in enumerate(idx):
            _note(args, f"{inputs.paths[i]}: estimated sigma {est[k]:.1f}")
        return [float(e) for e in est]
    return [None if plan.sigma is None else float(plan.sigma)] * len(idx)


class _Bars:
    """The progress bars of one batch, one per method, each made when its method first
    reports: LVR counts one generator pass per step plus the result, IA-LVR one per image
    and step (an image that stops early skips the rest of its bar), BM3D one per image."""

    def __init__(self, args, plan: _Plan, y: "torch.Tensor"):
        self.args, self.plan, self.y = args, plan, y
        self.bars: dict = {}

    def bar(self, key: str):
        if key not in self.bars:
            from .adaptive import IA_STEPS

            n, quiet = len(self.y), self.args.quiet
            kind = f"{n} {'gray' if self.y.shape[1] == 1 else 'colour'}"
            if key == "lvr":
                steps = self.plan.lvr.resolve(self.plan.G)[0].steps
                self.bars[key] = _progress(steps + 1, f"LVR ({kind})", quiet)
            elif key == "ia-lvr":
                self.bars[key] = _progress(n * (IA_STEPS + 1), f"IA-LVR ({kind}, most images "
                                           "stop early)", quiet)
            else:
                self.bars[key] = _progress(n, METHODS[key].name, quiet, unit="image")
        return self.bars[key]

    def callback(self, key: str, y):
        if key == "ia-lvr":
            return lambda t, ids, out: self.bar(key).update(len(ids))
        return lambda: self.bar(key).update(1)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.update(bar.total - bar.n)
            bar.close()


def _bank_range_note(args, plan: _Plan, sig: list[float]) -> None:
    lo, hi = plan.bank.sigmas[0], plan.bank.sigmas[-1]
    outside = [f"{v:.1f}" for v in sig if not lo <= v <= hi]
    if outside:
        _note(args, f"sigma {', '.join(outside)} lies outside the stored sharpness "
                    f"range {lo:g}..{hi:g}: the nearest vector is used (scaled "
                    "towards 0 below the range)")


def _denoise_batch(args, plan: _Plan, y: "torch.Tensor", idx: list[int],
                   sig: list[float | None], out: _Denoised) -> None:
    """Every method on one batch of same-channel images, through the method registry
    (LVR once, for LVR-SA and IA-LVR too); BM3D one image at a time, so that each one's
    seconds are measured."""
    from .methods import Context, run_method, run_methods

    if "lvr-sa" in plan.methods:
        _bank_range_note(args, plan, sig)
    bars = _Bars(args, plan, y)
    ctx = Context(generator=plan.G, lvr=plan.lvr, bank=plan.bank, encoder=plan.encoder,
                  seed=args.seed,
                  device=plan.device, progress=bars.callback)
    try:
        done = run_methods(plan.lvr_methods, y, sig, ctx)
        for k, i in enumerate(idx):
            if "bm3d" in plan.methods:
                done_k = run_method("bm3d", y[k:k + 1], sig[k], ctx)
                bars.bar("bm3d").update(1)
                out.outputs[i, "bm3d"] = done_k.images[0]
                out.seconds[i, "bm3d"] = done_k.seconds
    finally:
        bars.close()
    for m, o in done.items():
        residual = o.extra["residual"]
        for k, i in enumerate(idx):
            out.outputs[i, m] = o.images[k]
            out.residual[i, m] = float(residual[k])
            out.seconds[i, m] = o.seconds / len(idx)


def _denoise(args, plan: _Plan, inputs: _Inputs) -> _Denoised:
    """Every method on every image: one batch per channel count (gray and colour images
    differ)."""
    import torch

    groups: dict[int, list[int]] = {}
    for i, x in enumerate(inputs.noisy):
        groups.setdefault(x.shape[0], []).append(i)
    out = _Denoised(sigma=[None] * len(inputs.paths))
    for idx in groups.values():
        y = torch.stack([inputs.noisy[i] for i in idx])
        sig = _sigmas_for(args, plan, inputs, y, idx)
        for k, i in enumerate(idx):
            out.sigma[i] = sig[k]
        _denoise_batch(args, plan, y, idx, sig, out)
    return out


def _write_outputs(args, plan: _Plan, inputs: _Inputs, done: _Denoised) -> list[Path]:
    """Write the PNGs, then summary.csv, then the sheet; every file through a temporary
    name. Returns the paths written."""
    from .figures import make_sheet, save_png, to_uint8

    outdir = plan.outdir
    outdir.mkdir(parents=True, exist_ok=True)
    written, rows = [], []
    for i, path in enumerate(inputs.paths):
        if plan.add_noise is not None:
            written.append(save_png(to_uint8(inputs.noisy[i]), outdir / f"{path.stem}_noisy.png"))
        sig = done.sigma[i]
        for m in plan.methods:
            out = save_png(to_uint8(done.outputs[i, m]), outdir / f"{path.stem}_{m}.png")
            written.append(out)
            rows.append({
                "input": str(path), "method": m, "output": out.name,
                "sigma": "" if sig is None else f"{sig:.2f}",
                "sigma_source": "" if sig is None else
                                ("estimated" if plan.sigma == "auto" else "given"),
                "residual": f"{done.residual[i, m]:.6f}" if (i, m) in done.residual else "",
                "seconds": f"{done.seconds[i, m]:.3f}",
            })
    summary = outdir / "summary.csv"
    _write_csv(rows, summary)
    written.append(summary)
    if args.sheet:
        noisy_label = [] if plan.add_noise is None else ["clean", f"noisy ({plan.add_noise:g})"]
        labels = (noisy_label or ["input"]) + [METHODS[m].name for m in plan.methods]
        sheet_rows = [([inputs.clean[i]] if plan.add_noise is not None else [])
                      + [inputs.noisy[i]] + [done.outputs[i, m] for m in plan.methods]
                      for i in range(len(inputs.paths))]
        written.append(save_png(make_sheet(sheet_rows, labels, [p.stem for p in inputs.paths]),
                                outdir / "sheet.png"))
    return written


def cmd_denoise(args) -> int:
    plan = _plan_denoise(args)            # refusals (exit 2), before any work
    inputs = _read_inputs(args, plan)     # unreadable files are reported and skipped
    if not inputs.paths:
        _error("denoise", "no input could be read, so nothing was written.")
        return 1
    done = _denoise(args, plan, inputs)
    written = _write_outputs(args, plan, inputs, done)
    if not args.quiet:
        for p in written:
            print(p)
    if inputs.bad:
        n = len(inputs.paths)
        _error("denoise", f"{inputs.bad} input{'s' if inputs.bad > 1 else ''} could not be used "
                          f"(see above); the other {n} {'were' if n > 1 else 'was'} denoised.")
    return 1 if inputs.bad else 0


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

    e = sub.add_parser("train-encoder", help="train the encoder that starts LVR, for any "
                                             "generator")
    e.add_argument("generator", help="'shipped', 'gan-face' (the gan-face-generate wheel's "
                                     "DCGAN), a generator .safetensors (lvrlib train), or "
                                     "'module:function' returning a torch module that maps "
                                     "(N, nz) latents to (N, C, 64, 64) images in [-1, 1]")
    e.add_argument("-o", "--output", required=True, help="encoder .safetensors to write")
    e.add_argument("--prior", choices=["uniform", "normal"], default=None,
                   help="the generator's latent prior (default: its config's, else uniform; "
                        "normal for gan-face)")
    e.add_argument("--iterations", type=int, default=3000, help="latent-space iterations")
    e.add_argument("--image-iterations", type=int, default=0,
                   help="then iterations that add the image-space error of G(E(y))")
    e.add_argument("--pool", type=int, default=16384, help="generated images drawn once")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    e.add_argument("--overwrite", action="store_true")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=cmd_train_encoder)

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
    d.add_argument("--method", default="lvr", choices=[*CLI_METHODS, "all"],
                   help="lvr: latent vector recovery, G(z); lvr-sa: LVR with the sharpness "
                        "vector of sigma, G(z + s_sigma); ia-lvr: LVR, then the generator "
                        "adapted to each image (slower); ia-lvr-ensemble: the mean of IA-LVR "
                        "on the image and its mirror (lvrlib.adaptive.ENSEMBLE_MEMBERS runs; "
                        "slower again); bm3d: BM3D; all: lvr, lvr-sa and "
                        "bm3d, the paper's methods (default: lvr)")
    d.add_argument("--sigma", metavar="N|auto",
                   help="noise standard deviation in 0..255 pixel units, or 'auto' to estimate "
                        "it per image (wavelet estimate, skimage); needed by lvr-sa, ia-lvr(-ensemble) and bm3d, "
                        "only recorded for lvr")
    d.add_argument("--checkpoint", default=None,
                   help="generator .safetensors, with its .json beside it (default: the shipped "
                        "generator, trained on the CelebA sample)")
    d.add_argument("--sharpness", default=None, metavar="PATH",
                   help="sharpness vectors .safetensors for lvr-sa (default: the shipped ones, "
                        "lvrlib/weights/sharpness_celeba_sample.safetensors)")
    d.add_argument("--steps", type=int, default=None,
                   help="most steps of LVR per image; each image stops once its loss "
                        "has stopped falling (default: recover()'s: "
                        "lvrlib.settings.ENCODER_STEPS from the shipped encoder's start, "
                        "DEFAULT_STEPS from a random one)")
    d.add_argument("--restarts", type=int, default=None,
                   help="starts per image, the best is kept (default: recover()'s, 1 from "
                        "an encoder's start, 8 from a random one; the first start is the "
                        "encoder's when the generator has one)")
    d.add_argument("--encoder", default=None, metavar="PATH",
                   help="encoder .safetensors for the generator of --checkpoint (from "
                        "'lvrlib train-encoder'); LVR starts at its latent")
    d.add_argument("--lr", type=float, default=None,
                   help="LVR step size (default: recover()'s, lvrlib.settings)")
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
