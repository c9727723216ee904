"""What the book's reproducibility chapter shows about the profiles and their run times."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["PROFILE_ROWS", "profiles_table", "KEY_PACKAGES", "CONSTRAINTS", "machine",
           "environment_table"]

#: The rows of the profiles table: profile fields, and "lvr.<field>" for the LVR settings.
PROFILE_ROWS = ("n_generated", "n_celeba", "n_unseen", "sharpness_n", "lvr.steps", "lvr.lr",
                "lvr.restarts", "lvr.tol", "table1_sigmas", "table3_sigmas",
                "sharpness_sigmas", "sigma_curve_sigmas", "n_sigma_curve", "n_compute_curve",
                "compute_steps_paper", "compute_steps_lvrlib", "celeba", "unseen",
                "n_adaptive", "adaptive_sigmas", "ia_steps", "dip_steps", "paper_steps",
                "paper_n", "paper_run")
# None means the library's default: recover()'s for its start (lvrlib.settings), and
# lvrlib.adaptive's step budgets.
_DEFAULTED = ("lvr.steps", "lvr.lr", "ia_steps", "dip_steps")


def profiles_table(profiles: dict) -> pd.DataFrame:
    """One column per profile, one row per field of ``PROFILE_ROWS``."""
    def value(p, k):
        v = getattr(p.lvr, k[4:]) if k.startswith("lvr.") else getattr(p, k)
        if v is None and k == "paper_n":
            return "n_generated"
        if v is None and k == "paper_run":
            return "computed"
        return "library default" if v is None and k in _DEFAULTED else v

    return pd.DataFrame([{k: value(p, k) for k in PROFILE_ROWS} for p in profiles.values()],
                        index=list(profiles)).T


#: The packages whose versions can change the book's numbers or its build.
KEY_PACKAGES = ("torch", "numpy", "scipy", "scikit-image", "scikit-learn", "bm3d", "pandas",
                "matplotlib", "pillow", "safetensors", "jupyter-book", "myst-nb", "sphinx",
                "papermill")
#: The versions that built the book (a clone's constraints.txt; absent from an installed
#: wheel).
CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"


def machine() -> dict:
    """The machine this process runs on: CPU model and cores, the widest vector
    instructions torch's CPU kernels use on it ("AVX512", "AVX2", "DEFAULT" elsewhere:
    recover()'s seconds per image-step depend on them, BM3D's do not), OS, Python, torch
    threads."""
    import os
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    if info.exists():
        names = [l.split(":", 1)[1].strip() for l in info.read_text().splitlines()
                 if l.startswith("model name")]
        cpu = names[0] if names else cpu
    return {"cpu": cpu, "cores": os.cpu_count(),
            "vector": torch.backends.cpu.get_cpu_capability(),
            "os": f"{platform.system()} {platform.machine()}",
            "python": platform.python_version(), "torch threads": torch.get_num_threads()}


def pinned_versions(path: Path = CONSTRAINTS) -> dict[str, str]:
    """{package (lower case, - for _): version} of a constraints file; {} when absent."""
    if not path.exists():
        return {}
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def environment_table(packages=KEY_PACKAGES, path: Path = CONSTRAINTS) -> pd.DataFrame:
    """One row per package: the version installed here, the one in constraints.txt (the
    versions that built the book), and whether they agree (a local build label such as
    torch's +cpu is not a difference)."""
    from importlib.metadata import PackageNotFoundError, version

    pins = pinned_versions(path)
    rows = []
    for name in packages:
        try:
            here = version(name)
        except PackageNotFoundError:
            here = "not installed"
        pinned = pins.get(name, "not pinned")
        rows.append({"package": name, "installed": here, "constraints.txt": pinned,
                     "same": here.split("+")[0] == pinned})
    return pd.DataFrame(rows).set_index("package")
