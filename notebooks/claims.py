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
