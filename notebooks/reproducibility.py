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
# What does it take to rebuild this book, at which scale, and how long does it compute?
# The experiments of the {glue:text}`profile_name` profile took
# {glue:text}`total_minutes:.1f` minutes of compute when first run on the machine that
# built this book; every result is cached, so a rebuild with unchanged code recomputes
# nothing.
#
# ## Profiles
# One parameter, `profile`, sets the scale of every chapter; the environment variable
# `LVRLIB_PROFILE` sets its default (`smoke` in CI) and any notebook parameter overrides
# it (`papermill notebooks/table3.ipynb out.ipynb -p profile paper -p sigma 50`).

# %% tags=["parameters"]
profile = None   # the profile whose run times are shown
seed = 0
device = "auto"

# %% tags=["hide-input"]
import pandas as pd
from myst_nb import glue

from lvrlib.experiments import evaluate
from lvrlib.paper import beyond, psnr_curve, table1, table2, table3
from lvrlib.profiles import PROFILES, get_profile
from lvrlib.reproducibility import profiles_table

profiles_table(PROFILES)

# %% [markdown]
# ## Measured compute time
# The seconds each method spent, summed over every cell of the tables at this profile,
# as recorded when the cached results were computed (on the machine that built this book;
# a cached result keeps the time of its first computation).

# %%
P = get_profile(profile)
cells = (table1(P, seed=seed, device=device) + table2(P, seed=seed, device=device)
         + table3(P, seed=seed, device=device) + psnr_curve(P, seed=seed, device=device)
         + beyond(P, seed=seed, device=device))
rows = {}
for cell in cells:
    for m, s in cell.items():
        if m in ("clean", "noisy"):
            continue
        rows[m, s.set_name, s.sigma, len(s.psnr)] = s.seconds   # one cached cell each
t = pd.DataFrame([{"method": m, "set": st, "sigma": sg, "images": n, "seconds": sec}
                  for (m, st, sg, n), sec in rows.items()])
per_method = t.groupby("method").agg(seconds=("seconds", "sum"), images=("images", "sum"))
per_method["seconds per image"] = per_method["seconds"] / per_method["images"]
# LVR-SA's and IA-LVR's seconds include the LVR run they start from (the "lvr" cell of
# the same set, sigma and images): the total counts that run once, under LVR.
lvr_s = t[t["method"] == "lvr"].set_index(["set", "sigma", "images"])["seconds"]
ia = t[t["method"] == "ia-lvr"]
ia_own = (ia["seconds"] - [lvr_s.get((a, b, c), 0.0) for a, b, c in
                           zip(ia["set"], ia["sigma"], ia["images"])]).sum()
own = t[~t["method"].str.startswith("lvr-sa") & (t["method"] != "ia-lvr")]
glue("total_minutes", (float(own["seconds"].sum()) + float(ia_own)) / 60, display=False)
glue("profile_name", P.name, display=False)
per_method.round(3)

# %% [markdown]
# In all, the experiments of this profile took {glue:text}`total_minutes:.1f` minutes of
# compute when first run (LVR-SA's and IA-LVR's times in the table include the LVR they
# start from; the total counts it once). The README lists the measured wall-clock times of
# `make book` and `make test` on the project's 2-core machine.
#
# ## The machine and the versions
# This build ran on {glue:text}`env_machine`. `make book` installs every package at the
# version that built the book's numbers (`constraints.txt`; `make lock` regenerates it);
# {glue:text}`env_same` of the {glue:text}`env_n` packages below are at that version here.
# The recorded runs (`book/data/*/`) each name their own machine and versions in their
# README and machine files.

# %% tags=["hide-input"]
from lvrlib.reproducibility import environment_table, machine

mach = machine()
env = environment_table()
glue("env_machine", f"{mach['cpu']} ({mach['cores']} cores, {mach['os']}), Python "
     f"{mach['python']}, torch with {mach['torch threads']} threads", display=False)
glue("env_same", int(env["same"].sum()), display=False)
glue("env_n", len(env), display=False)
env

# %% [markdown]
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
