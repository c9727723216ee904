"""What the book's reproducibility chapter shows about the profiles and their run times."""
from __future__ import annotations

import pandas as pd

__all__ = ["PROFILE_ROWS", "profiles_table"]

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
