# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The paper's claims, checked
#
# One row per claim: the measured effect (the paired PSNR difference between the
# method the paper says is better and the other, pooled over every image of every set
# and noise level the claim covers), its 95% confidence interval, and a verdict from the
# per-cell intervals (a cell is one set at one noise level): **holds** when every cell's
# interval lies above zero, **does not hold** when no cell's does (the claimed
# improvement is not shown anywhere: the difference is either negative or too small to
# tell from zero), **mixed** otherwise; the "cells holding" column counts them. The numbers are read from the
# cached results of the table chapters (computed here if absent).

# %% tags=["parameters"]
profile = None      # "smoke", "sample" (default, or $LVRLIB_PROFILE) or "paper"
seed = 0
device = "auto"     # "auto", "cpu" or "cuda"
high_sigma = 50.0   # "high noise" for the Table 3 claims (0..255 pixel units)

# %%
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from lvrlib.paper import claims
from lvrlib.profiles import get_profile

P = get_profile(profile)
table = claims(P, seed=seed, device=device, high_sigma=high_sigma)
pd.set_option("display.max_colwidth", 200)
table.drop(columns=["per cell (dB)"])

# %%
counts = table["verdict"].value_counts()
for v in ("holds", "does not hold", "mixed"):
    glue(f"n_{v.replace(' ', '_')}", int(counts.get(v, 0)), display=False)
glue("n_claims", len(table), display=False)
lines = [f"- {r.claim}: **{r.verdict}** ({r._4:+.2f} dB, 95% CI {r._5:.2f} to {r._6:.2f})"
         for r in table.itertuples()]
glue("claims_list", Markdown("\n".join(lines)), display=False)

# %% [markdown]
# Of {glue:text}`n_claims` claims, {glue:text}`n_holds` hold, {glue:text}`n_does_not_hold` do not
# hold and {glue:text}`n_mixed` are mixed at this profile:
#
# ```{glue:md} claims_list
# :format: myst
# ```
#
# Effects per cell (set @ sigma: mean paired difference in dB):

# %%
table[["claim", "per cell (dB)"]]

# %% [markdown]
# ## At a larger scale: a recorded GPU run
# The book's default profile is sized for a 2-core CPU (few images, 200 LVR steps, one
# start). To see whether the verdicts above are an artefact of that budget, Tables 1 and
# 2 were also run on one GPU with 128 generated images, 100 CelebA test images, 50 per
# unseen set, 1000 LVR steps and 2 restarts (`book/data/scale_h200/README.md` has the
# command; the run's time limit stopped it before Table 3). These numbers were measured
# by lvrlib, recorded in the repository, and are read here, not recomputed.

# %%
from pathlib import Path

import lvrlib

scale = Path(lvrlib.__file__).resolve().parents[1] / "book" / "data" / "scale_h200"
t1s = pd.read_csv(scale / "table1.csv")
t2s = pd.read_csv(scale / "table2.csv")
mean = lambda cell: float(str(cell).split(" ")[0])
row50 = t1s[t1s["sigma"] == 50.0].iloc[0]
glue("s_sto50", mean(row50["LVR (stochastic clipping)"]), display=False)
glue("s_pro50", mean(row50["LVR, projected gradient"]), display=False)
glue("s_non50", mean(row50["LVR, no clipping"]), display=False)
glue("s_bm3d50", mean(row50["BM3D (true sigma)"]), display=False)
gain = t2s["LVR-SA (true sigma)"].map(mean) - t2s["LVR (stochastic clipping)"].map(mean)
glue("s_sa_max", float(gain.max()), display=False)
glue("s_sa_min", float(gain.min()), display=False)
display_t1 = t1s.set_index(["set", "sigma"])
display_t1

# %%
t2s.set_index(["set", "sigma"])

# %% [markdown]
# At this scale, on noisy generated images at sigma 50, stochastic clipping reaches
# {glue:text}`s_sto50:.2f` dB, projected gradient {glue:text}`s_pro50:.2f` dB and no clipping
# {glue:text}`s_non50:.2f` dB (BM3D {glue:text}`s_bm3d50:.2f` dB). LVR-SA minus LVR ranges from
# {glue:text}`s_sa_min:+.2f` to {glue:text}`s_sa_max:+.2f` dB over the sets and noise levels of
# Table 2. Longer optimisation raises every LVR number, but it does not restore the
# paper's ordering of the clipping strategies nor a gain from the sharpness vector.
