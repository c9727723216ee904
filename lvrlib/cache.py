"""A disk cache for expensive results, keyed by their parameters and lvrlib's own code.

A cached result is a dict of arrays (numpy or torch) and JSON values. It is stored as
``<results>/<namespace>/<key>.safetensors`` (arrays) + ``<key>.json`` (the parameters,
the JSON values and the array names), each written atomically, the JSON last. The key is
the first 24 hex digits of a sha256 over the namespace, the parameters and
:func:`code_hash`: the source of the computing modules (``COMPUTE_MODULES``) and the JSON
descriptions of the shipped weights (which hold their sha256). So a change to those
modules, their defaults or the shipped weights never returns a stale result; a change of
an installed package (torch, bm3d, ...) is not in the key. No pickle is involved.

The results folder is ``$LVRLIB_RESULTS`` when set, else ``cache_dir()/results``;
``$LVRLIB_NO_CACHE=1`` turns the cache off (always compute).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ._io import atomic_path, atomic_write_text

__all__ = ["results_dir", "code_hash", "cached", "cache_key"]


def results_dir() -> Path:
    env = os.environ.get("LVRLIB_RESULTS")
    if env:
        return Path(env).expanduser()
    from .data import cache_dir
    return cache_dir() / "results"


#: The modules whose code can change a cached number. Presentation code (plots, figures,
#: the command line, the claims logic in paper.py, which is never cached) and the
#: file-writing helpers (_io) are left out, so that changing a plot does not throw away
#: hours of computation; the book's own freshness check (book/_ext) re-executes the
#: notebooks when any module changes.
COMPUTE_MODULES = ("adaptive", "baselines", "cache", "checkpoints", "data", "dcgan", "encoder",
                   "experiments", "external", "methods", "metrics", "physics", "profiles",
                   "recovery", "settings", "sharpness", "training", "updates", "workers")


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """sha256 over the source of lvrlib's computing modules (``COMPUTE_MODULES``) and the
    shipped weights' metadata: part of every cache key."""
    pkg = Path(__file__).parent
    h = hashlib.sha256()
    for p in [pkg / f"{m}.py" for m in COMPUTE_MODULES] + sorted((pkg / "weights").glob("*.json")):
        h.update(p.relative_to(pkg).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _jsonable(v):
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in sorted(v.items())}
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, Path):
        return str(v)
    return repr(v)


def cache_key(namespace: str, params: dict) -> str:
    blob = json.dumps({"ns": namespace, "params": _jsonable(params), "code": code_hash()},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _save(path: Path, params: dict, result: dict) -> None:
    from safetensors.torch import save_file

    arrays, values = {}, {}
    for k, v in result.items():
        if isinstance(v, np.ndarray):
            arrays[k] = torch.from_numpy(np.ascontiguousarray(v))
        elif isinstance(v, torch.Tensor):
            arrays[k] = v.detach().cpu().contiguous()
        else:
            values[k] = _jsonable(v)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(arrays or {"_empty": torch.zeros(0)}, str(tmp))
    meta = {"params": _jsonable(params), "values": values,
            "numpy": [k for k, v in result.items() if isinstance(v, np.ndarray)]}
    # The JSON last: it marks the entry complete.
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=1, sort_keys=True))


def _load(path: Path) -> dict | None:
    from safetensors.torch import load_file

    meta_path = path.with_suffix(".json")
    if not (path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        arrays = load_file(str(path))
        out = dict(meta["values"])
        for k, v in arrays.items():
            if k != "_empty":
                out[k] = v.numpy() if k in meta["numpy"] else v
    except Exception:
        return None  # a damaged entry is recomputed
    return out


def cached(namespace: str) -> Callable:
    """Decorator: cache a function of keyword arguments that returns a dict.

    Every argument must be passed by keyword and be JSON-representable; the arguments
    form the key together with ``code_hash()``.
    """
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(**params):
            if os.environ.get("LVRLIB_NO_CACHE") == "1":
                return fn(**params)
            path = results_dir() / namespace / (cache_key(namespace, params) + ".safetensors")
            hit = _load(path)
            if hit is not None:
                return hit
            result = fn(**params)
            _save(path, params, result)
            return result
        return wrapper
    return deco
