"""Recorded runs: measurements too long for a build of the book, made once by a script of
``benchmarks/`` or ``recipes/`` and kept with the repository under ``book/data/<name>/``
(each with a README: the command, the machine, the time). A run of your own, written to
``benchmarks/results/``, is preferred when it is complete and not a quick one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

__all__ = ["REPOSITORY", "OWN_RESULTS", "RECORDED", "recorded_run", "is_quick"]

REPOSITORY = Path(__file__).resolve().parents[1]
OWN_RESULTS = REPOSITORY / "benchmarks" / "results"
RECORDED = REPOSITORY / "book" / "data"


def is_quick(folder: Path, files: Sequence[str] = ()) -> bool:
    """Whether a results folder holds a quick (smaller, faster) run: one of the
    ``*machine.csv`` files (key, value) among ``files`` says quick = True (any in the
    folder when ``files`` names none: several benchmarks write into one folder)."""
    named = [Path(folder) / f for f in files if f.endswith("machine.csv")]
    for f in [f for f in named if f.exists()] if named else Path(folder).glob("*machine.csv"):
        meta = pd.read_csv(f)
        if str(dict(zip(meta["key"], meta["value"])).get("quick")) == "True":
            return True
    return False


def recorded_run(name: str, files: Sequence[str], *, folder: str | Path | None = None,
                 own: bool = True, allow_quick: bool = False,
                 machine: str | None = None) -> Path | None:
    """The folder that holds every file of ``files`` for the recorded run ``name``:
    ``folder`` when given (it must hold them); else your own run in benchmarks/results
    (``own``; a quick run there is passed over unless ``allow_quick``), else the run
    recorded in book/data/<name>. None when neither holds them (an installed package
    without the repository). ``machine``: the run's machine file, which says whether it
    is quick (default: the ``*machine.csv`` among ``files``)."""
    if folder is not None:
        folder = Path(folder)
        missing = [f for f in files if not (folder / f).exists()]
        if missing:
            raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}.")
        return folder
    candidates = ([OWN_RESULTS] if own else []) + [RECORDED / name]
    for c in candidates:
        machines = [machine] if machine else files
        if all((c / f).exists() for f in files) and (
                allow_quick or c == RECORDED / name or not is_quick(c, machines)):
            return c
    return None
