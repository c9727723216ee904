"""The ``lvrlib`` command line: denoise your own face photos, sample faces, train a DCGAN.

    lvrlib train DATA -o OUTDIR [--iterations N] [--seed S] [--device auto|cpu|cuda]
    lvrlib sample -n N -o FILE [--checkpoint PATH] [--seed S]
    lvrlib denoise INPUT... -o OUTDIR [--method lvr|lvr-sa|bm3d|all] [--sigma N|auto]

Run ``lvrlib COMMAND --help`` for every option.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


class CLIError(Exception):
    """A user error: printed as one sentence, exit code 2."""


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
        return torch.stack([D.load_face_image(p, crop=None) for p in paths])
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
    save_grid(x, out)
    print(out)
    return 0


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
