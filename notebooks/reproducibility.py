# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reproducibility
#
# ## Profiles
# One parameter, `profile`, sets the scale of every chapter; the environment variable
# `LVRLIB_PROFILE` sets its default (`smoke` in CI) and any notebook parameter overrides
# it (`papermill notebooks/table3.ipynb out.ipynb -p profile paper -p sigma 50`).

# %% tags=["parameters"]
profile = None   # the profile whose run times are shown
seed = 0
device = "auto"

# %%
import pandas as pd
from myst_nb import glue

from lvrlib.experiments import evaluate
from lvrlib.paper import table1, table2, table3, psnr_curve
from lvrlib.profiles import PROFILES, get_profile

cols = ["n_generated", "n_celeba", "n_unseen", "sharpness_n", "steps", "lr", "restarts",
        "tol", "table1_sigmas", "table3_sigmas", "curve_sigmas", "n_curve", "curve_n",
        "curve_gd_steps", "curve_steps", "celeba", "unseen"]
# steps and lr None: recover()'s defaults for its start (lvrlib.recovery).
pd.DataFrame([{k: ("recover() default" if getattr(p, k) is None and k in ("steps", "lr")
                   else getattr(p, k)) for k in cols} for p in PROFILES.values()],
             index=list(PROFILES)).T

# %% [markdown]
# ## Measured compute time
# The seconds each method spent, summed over every cell of the tables at this profile,
# as recorded when the cached results were computed (on the machine that built this book;
# a cached result keeps the time of its first computation).

# %%
P = get_profile(profile)
cells = (table1(P, seed=seed, device=device) + table2(P, seed=seed, device=device)
         + table3(P, seed=seed, device=device) + psnr_curve(P, seed=seed, device=device))
rows = {}
for cell in cells:
    for m, s in cell.items():
        if m in ("clean", "noisy"):
            continue
        key = (m, s.set_name, s.sigma)
        rows[key] = (s.seconds, len(s.psnr))
t = pd.DataFrame([{"method": m, "set": st, "sigma": sg, "seconds": sec, "images": n}
                  for (m, st, sg), (sec, n) in rows.items()])
per_method = t.groupby("method").agg(seconds=("seconds", "sum"), images=("images", "sum"))
per_method["seconds per image"] = per_method["seconds"] / per_method["images"]
# LVR-SA's seconds include the LVR run it starts from: counted once, under LVR.
own = t[~t["method"].str.startswith("lvr-sa")]
glue("total_minutes", float(own["seconds"].sum()) / 60, display=False)
glue("profile_name", P.name, display=False)
per_method.round(3)

# %% [markdown]
# In all, the experiments of this profile took {glue:text}`total_minutes:.1f` minutes of
# compute when first run (LVR-SA's time in the table includes the LVR it starts from, so
# the total counts it once). The README lists the measured wall-clock times of
# `make book` and `make test` on the project's 2-core machine.
#
# ## Running at paper scale
# The `paper` profile reads full CelebA and LFW from disk and optimises longer, with
# restarts; a GPU is recommended (`device="cuda"`).
#
# 1. Point the library at the data: `export LVRLIB_CELEBA_ROOT=/data/celeba` (holding
#    `img_align_celeba/` and `list_eval_partition.txt`) and
#    `export LVRLIB_LFW_ROOT=/data/lfw` (`lfw/` or `lfw-deepfunneled/`).
# 2. Train a generator on full CelebA:
#    `lvrlib train /data/celeba -o runs/celeba --iterations 30000 --device cuda`
#    (resumable: run the same command again after an interruption).
# 3. Build the book with it:
#    `LVRLIB_PROFILE=paper LVRLIB_CHECKPOINT=runs/celeba/generator.safetensors jupyter-book build book/`
#    (`LVRLIB_CHECKPOINT` replaces the shipped generator in every chapter).
#
# Results are cached under `~/.cache/lvrlib/results` (`LVRLIB_RESULTS` overrides) with
# keys that include every parameter and lvrlib's source code; delete the folder to
# recompute everything.
