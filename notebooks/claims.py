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
# # The paper's claims, checked
#
# Does each claim of the paper hold where the paper made it, and does it survive a
# recovery that reaches the projection the method stands for?
#
# ```{glue:md} claims_counts
# :format: myst
# ```
#
# Each claim is judged twice. **In the paper's regime**: LVR as the paper ran it, plain
# gradient descent from a random start until the loss stops falling, with stochastic
# clipping for the paper's LVR (and the sharpness vectors estimated from those
# recoveries). **At convergence**: lvrlib's default, which reaches the projection (its
# measured gap to the projection is given per verdict below). A claim that holds in the
# first and not in the second is a statement about the optimiser, not about projecting
# onto a GAN's range. Each cell of the table: the verdict, and the measured effect (the
# paired PSNR difference between the method the paper says is better and the other,
# pooled over every image of every set and noise level the claim covers) with its 95%
# confidence interval, in dB.

# %% tags=["parameters"]
profile = None      # "smoke", "sample" (default, or $LVRLIB_PROFILE) or "paper"
seed = 0
device = "auto"     # "auto", "cpu" or "cuda"
high_sigma = 50.0   # "high noise" for the Table 3 claims (0..255 pixel units)

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import HTML, Markdown
from myst_nb import glue

from lvrlib.paper import (claim_lines, claims, glue_abstract, shown_claims, verdict_counts,
                          verdicts_html)
from lvrlib.profiles import get_profile

P = get_profile(profile)
table = claims(P, seed=seed, device=device, high_sigma=high_sigma)
glue_abstract(table, P, device)    # the intro's abstract pastes these
glue("n_claims", table["claim"].nunique(), display=False)
glue("claims_counts", Markdown(verdict_counts(table)), display=False)
glue("claims_list", Markdown(claim_lines(table)), display=False)
HTML(verdicts_html(table))

# %% [markdown]
# **The verdict rule.** A verdict comes from the per-cell intervals (a cell is one set at
# one noise level): **holds** when every cell's interval lies above zero, **does not
# hold** when no cell's does (the claimed improvement is not shown anywhere: the
# difference is either negative or too small to tell from zero), **mixed** otherwise;
# "cells holding" below counts them. A claim about high noise is **not measured** when the
# profile has no noise level that high, and a regime that did not measure a table says
# so. The numbers are read from the cached results of the table chapters (computed here
# if absent) and, for the paper's regime at the sample profile, from its recorded run.
# The same table with the cells holding:

# %% tags=["hide-input"]
pd.set_option("display.max_colwidth", None)   # claims are sentences: never cut them
shown_claims(table)

# %% [markdown]
# Each of the {glue:text}`n_claims` claims, with how LVR ran in each regime and the measured
# gap of its cells to the projection:
#
# ```{glue:md} claims_list
# :format: myst
# ```
#
# Effects per cell (set @ sigma: mean paired difference in dB):

# %%
table.loc[table["per cell (dB)"] != "", ["claim", "regime", "per cell (dB)"]].set_index(
    ["claim", "regime"])

# %% [markdown]
# ## At a larger scale: a recorded GPU run
# The book's default profile is sized for a 2-core CPU: {glue:text}`sample_n` CelebA test
# images, LVR {glue:text}`sample_how`. Before lvrlib had its encoder start and whitened
# steps, the Table 1 and 2 comparisons were also run on one GPU with 128 generated images,
# 100 CelebA test images, 50 per unseen set and LVR from random starts (1000 Adam steps, 2
# restarts; `book/data/scale_h200/README.md` has the command; the run's time limit stopped
# it before Table 3). Whether that regime reached the projection was not measured on that
# run; the Performance chapter measures random starts against the projection on this CPU. These numbers were
# measured by lvrlib, recorded in the repository, and are read here, not recomputed. Each
# cell is the mean ± the half-width of its 95% interval (dB); the run recorded these per
# method, not the paired differences.

# %% tags=["hide-input"]
from lvrlib.experiments import lvr_description
from lvrlib.methods import label
from lvrlib.paper import compact_table, read_summary_csv
from lvrlib.records import recorded_run

scale = recorded_run("scale_h200", ["table1.csv", "table2.csv"], own=False)
t1s = read_summary_csv(scale / "table1.csv")
t2s = read_summary_csv(scale / "table2.csv")
mean = lambda cell: cell.mean
row50 = t1s.xs(50.0, level="sigma").iloc[0]
sample = get_profile("sample")
glue("sample_n", sample.n_celeba, display=False)
glue("sample_how", lvr_description(sample, device), display=False)
glue("s_sto50", mean(row50["LVR (stochastic clipping)"]), display=False)
# The run's columns: today's method labels, and its stochastic LVR under an older label.
glue("s_pro50", mean(row50[label("lvr-project")]), display=False)
glue("s_non50", mean(row50[label("lvr-none")]), display=False)
glue("s_bm3d50", mean(row50[label("bm3d")]), display=False)
compact_table(t1s, digits=2)

# %%
compact_table(t2s, digits=2)

# %%
# What the recorded run shows, computed from its tables: the order of the three clipping
# strategies by mean PSNR at each noise level, and the sign of LVR-SA minus LVR.
STRATEGIES = {"stochastic clipping": "LVR (stochastic clipping)",
              "projected gradient": label("lvr-project"),
              "no clipping": label("lvr-none")}
orders = [(sigma, sorted(STRATEGIES, key=lambda k: -mean(r[STRATEGIES[k]])))
          for (_, sigma), r in t1s.iterrows() if sigma > 0]
as_paper = sum(order == list(STRATEGIES) for _, order in orders)
gain = t2s[label("lvr-sa")].map(mean) - t2s["LVR (stochastic clipping)"].map(mean)
conclusion = (
    "Ranked by mean PSNR on noisy generated images: "
    + "; ".join(f"sigma {s:g}: " + " > ".join(order) for s, order in orders)
    + f". The paper's order (stochastic clipping > projected gradient > no clipping) holds "
    f"at {as_paper} of {len(orders)} noise levels. LVR-SA's mean is above LVR's in "
    f"{int((gain > 0).sum())} of {len(gain)} cells of Table 2 (LVR-SA minus LVR from "
    f"{gain.min():+.2f} to {gain.max():+.2f} dB).")
glue("scale_conclusion", Markdown(conclusion), display=False)

# %% [markdown]
# At this scale, on noisy generated images at sigma 50, stochastic clipping reaches
# {glue:text}`s_sto50:.2f` dB, projected gradient {glue:text}`s_pro50:.2f` dB and no clipping
# {glue:text}`s_non50:.2f` dB (BM3D {glue:text}`s_bm3d50:.2f` dB).
#
# ```{glue:md} scale_conclusion
# :format: myst
# ```
