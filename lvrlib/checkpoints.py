"""Checkpoints: safetensors weights with a JSON description beside them, verified on load.

A generator checkpoint is two files: ``NAME.safetensors`` (the weights, no pickle) and
``NAME.json`` (the ``DCGANConfig``, the iteration count, the sha256 of the training
data and the sha256 of the weights file). Loading checks the weights file against its
recorded sha256 and refuses a mismatch. Nothing here ever unpickles a file.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ._io import atomic_path, atomic_write_text
from .data import sha256_file
from .dcgan import DCGANConfig, Discriminator, Generator, resolve_device

__all__ = [
    "CheckpointError",
    "SHIPPED_GENERATOR",
    "save_generator",
    "export_generator",
    "load_generator",
    "read_metadata",
    "save_training_state",
    "load_training_state",
]

#: The generator shipped with lvrlib, trained on the CelebA-sample train split.
SHIPPED_GENERATOR = Path(__file__).parent / "weights" / "dcgan_celeba_sample.safetensors"
_FORMAT = "lvrlib-dcgan-1"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, tampered with or does not match what it is loaded for."""


def _sha256(path: Path) -> str:
    return sha256_file(path)


def _json_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _atomic_write_json(path: Path, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _atomic_save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(tmp))


def save_generator(path: str | os.PathLike, netG: Generator, *, iteration: int,
                   data_sha256: str, dtype: torch.dtype = torch.float32,
                   extra: dict | None = None) -> Path:
    """Write ``netG``'s weights to ``path`` (.safetensors) and its description beside it.

    ``dtype=torch.float16`` halves the file (weights are cast back to float32 on load).
    ``extra`` adds free-form fields (e.g. the command that produced the checkpoint).
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: a generator checkpoint must end in .safetensors.")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.to(dtype) if v.is_floating_point() else v)
             for k, v in netG.state_dict().items()}
    _atomic_save_tensors(state, path)
    meta = {
        "format": _FORMAT,
        "config": asdict(netG.config),
        "iteration": int(iteration),
        "data_sha256": data_sha256,
        "weights_sha256": _sha256(path),
        "dtype": str(dtype).replace("torch.", ""),
    }
    if extra:
        meta.update(extra)
    _atomic_write_json(_json_path(path), meta)
    return path


def read_metadata(path: str | os.PathLike | None = None) -> dict:
    """The JSON description of a generator checkpoint (the shipped one by default)."""
    path = Path(path) if path is not None else SHIPPED_GENERATOR
    meta_path = _json_path(path)
    if not path.is_file():
        raise CheckpointError(f"The checkpoint {path} does not exist.")
    if not meta_path.is_file():
        raise CheckpointError(f"The checkpoint {path} has no description {meta_path} beside it.")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"The description {meta_path} is not valid JSON ({e}).") from e
    if meta.get("format") != _FORMAT or not all(
            k in meta for k in ("config", "iteration", "data_sha256", "weights_sha256")):
        raise CheckpointError(f"{meta_path} is not an lvrlib DCGAN checkpoint description (or is incomplete).")
    return meta


def load_generator(path: str | os.PathLike | None = None, device: str = "cpu", *,
                   data_sha256: str | None = None) -> Generator:
    """Load a generator (the shipped one when ``path`` is None) in eval mode, float32.

    Verifies the weights file against the sha256 recorded beside it and, when
    ``data_sha256`` is given, that it was trained on that data; raises CheckpointError
    on any mismatch.
    """
    path = Path(path) if path is not None else SHIPPED_GENERATOR
    meta = read_metadata(path)
    digest = _sha256(path)
    if digest != meta["weights_sha256"]:
        raise CheckpointError(
            f"The weights file {path} has sha256 {digest[:12]}..., not the "
            f"{meta['weights_sha256'][:12]}... recorded in {_json_path(path).name}: it was "
            "modified or corrupted, so it is refused."
        )
    if data_sha256 is not None and data_sha256 != meta["data_sha256"]:
        raise CheckpointError(
            f"The checkpoint {path} was trained on data with sha256 "
            f"{meta['data_sha256'][:12]}..., not the data given ({data_sha256[:12]}...)."
        )
    try:
        netG = Generator(DCGANConfig(**meta["config"]))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"The config recorded for {path} is not valid ({e}).") from e
    try:
        state = load_file(str(path))
        netG.load_state_dict({k: v.float() if v.is_floating_point() else v
                              for k, v in state.items()})
    except Exception as e:  # safetensors header errors, missing keys, wrong shapes
        raise CheckpointError(f"The weights in {path} do not fit the recorded config ({e}).") from e
    return netG.to(resolve_device(device)).eval()


def export_generator(src: str | os.PathLike, dst: str | os.PathLike,
                     dtype: torch.dtype = torch.float16, **extra) -> Path:
    """Re-save a verified generator checkpoint as ``dst`` in ``dtype`` (float16 halves
    the file; this is how the shipped checkpoint is made), keeping its description."""
    meta = read_metadata(src)
    netG = load_generator(src)
    keep = {k: v for k, v in meta.items() if k not in
            ("format", "config", "iteration", "data_sha256", "weights_sha256", "dtype")}
    keep.update(extra)
    return save_generator(dst, netG, iteration=meta["iteration"],
                          data_sha256=meta["data_sha256"], dtype=dtype, extra=keep)


# --------------------------------------------------------------------------- training state
def _opt_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for idx, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"{prefix}.{idx}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return out


def _load_opt(prefix: str, opt: torch.optim.Optimizer, tensors: dict, groups: list) -> None:
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        if key.startswith(prefix + "."):
            _, idx, k = key.split(".", 2)
            state.setdefault(int(idx), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": groups})


def save_training_state(out_dir: Path, config: DCGANConfig, data_sha256: str, seed: int,
                        iteration: int, netG, netD, optG, optD) -> None:
    """Write everything needed to resume training into ``out_dir/state.*``."""
    tensors = {f"G.{k}": v for k, v in netG.state_dict().items()}
    tensors.update({f"D.{k}": v for k, v in netD.state_dict().items()})
    tensors.update(_opt_tensors("optG", optG))
    tensors.update(_opt_tensors("optD", optD))
    path = out_dir / "state.safetensors"
    _atomic_save_tensors(tensors, path)
    _atomic_write_json(out_dir / "state.json", {
        "format": _FORMAT + "-state",
        "config": asdict(config),
        "data_sha256": data_sha256,
        "seed": seed,
        "iteration": iteration,
        "state_sha256": _sha256(path),
        "optG_groups": optG.state_dict()["param_groups"],
        "optD_groups": optD.state_dict()["param_groups"],
    })


def load_training_state(out_dir: Path, config: DCGANConfig, data_sha256: str, seed: int,
                        netG, netD, optG, optD) -> int:
    """Restore a run from ``out_dir/state.*``; return the iteration it had reached.

    Refuses to resume a run with another config, other training data or another seed.
    """
    try:
        meta = json.loads((out_dir / "state.json").read_text())
        meta["config"], meta["data_sha256"], meta["seed"], meta["state_sha256"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{out_dir / 'state.json'} is damaged ({e!r}); delete the "
                              "folder to start afresh.") from e
    path = out_dir / "state.safetensors"
    if asdict(config) != meta["config"]:
        raise CheckpointError(f"{out_dir} holds a run with another config {meta['config']}; "
                              "use a new output folder or the same config.")
    if data_sha256 != meta["data_sha256"]:
        raise CheckpointError(f"{out_dir} holds a run trained on other data; use a new "
                              "output folder to train on these images.")
    if seed != meta["seed"]:
        raise CheckpointError(f"{out_dir} holds a run with seed {meta['seed']}, not {seed}.")
    if not path.is_file() or _sha256(path) != meta["state_sha256"]:
        raise CheckpointError(f"The training state {path} is missing or does not match "
                              "its recorded sha256; delete the folder to start afresh.")
    tensors = load_file(str(path))
    dev = next(netG.parameters()).device
    netG.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
    netD.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("D.")})
    _load_opt("optG", optG, {k: v.to(dev) if k.split(".")[-1] != "step" else v
                             for k, v in tensors.items()}, meta["optG_groups"])
    _load_opt("optD", optD, {k: v.to(dev) if k.split(".")[-1] != "step" else v
                             for k, v in tensors.items()}, meta["optD_groups"])
    return int(meta["iteration"])
