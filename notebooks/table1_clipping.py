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
# # Table 1: how to keep the latent in the box
#
# The paper's first experiment: generated faces $x = G(z)$ with Gaussian noise are
# projected back with LVR, keeping $z$ in $[-1, 1]^{100}$ in three ways (no clipping,
# projected gradient, stochastic clipping). Because the true $z$ is known, both the image
# (PSNR against the clean $G(z)$) and the latent (mean squared error) can be scored. BM3D
# with the true sigma is a reference row.

# %% tags=["parameters"]
profile = None   # "smoke", "sample" (default, or $LVRLIB_PROFILE) or "paper"
seed = 0
device = "auto"  # "auto", "cpu" or "cuda"
sigma = None     # a number or a list (0..255 pixel units); default: the profile's (0, 25, 50)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from lvrlib.experiments import METHOD_LABELS, summary_table
from lvrlib.metrics import mean_ci, paired_diff
from lvrlib.paper import TABLE1_METHODS, table1
from lvrlib.plots import image_rows
from lvrlib.profiles import get_profile

P = get_profile(profile)
results = table1(P, sigma, seed=seed, device=device)
print(f"profile {P.name}: {P.n_generated} generated images per sigma, LVR {P.steps} steps, "
      f"lr {P.lr}, {P.restarts} restart(s)")

# %% [markdown]
# ## PSNR (dB), mean and 95% CI over images

# %%
summary_table(results, TABLE1_METHODS).droplevel("set")

# %% [markdown]
# ## Latent error: mean squared error of the recovered $z$ (mean and 95% CI)

# %%
zrows = []
for r in results:
    row = {"sigma": r["lvr"].sigma}
    for m in ("lvr-none", "lvr-project", "lvr"):
        ci = mean_ci(r[m].z_mse)
        row[METHOD_LABELS[m]] = f"{ci.mean:.3f} [{ci.low:.3f}, {ci.high:.3f}]"
    zrows.append(row)
pd.DataFrame(zrows).set_index("sigma")

# %% [markdown]
# ## Paired differences (dB): stochastic - projected and projected - none

# %%
rows = []
for r in results:
    for a, b in (("lvr", "lvr-project"), ("lvr-project", "lvr-none"), ("lvr", "bm3d")):
        if not (np.isfinite(r[a].psnr).all() and np.isfinite(r[b].psnr).all()):
            continue  # sigma 0: BM3D may return its input exactly (infinite PSNR)
        d = paired_diff(r[a].psnr, r[b].psnr)
        rows.append({"sigma": r[a].sigma, "comparison": f"{METHOD_LABELS[a]} - {METHOD_LABELS[b]}",
                     "mean": round(d.mean, 2), "95% CI": f"[{d.low:.2f}, {d.high:.2f}]"})
diffs = pd.DataFrame(rows)
diffs

# %%
top = max(results, key=lambda r: r["lvr"].sigma)
d_sp = paired_diff(top["lvr"].psnr, top["lvr-project"].psnr)
d_pn = paired_diff(top["lvr-project"].psnr, top["lvr-none"].psnr)
glue("t1_sigma", top["lvr"].sigma, display=False)
glue("t1_sp", d_sp.mean, display=False)
glue("t1_sp_lo", d_sp.low, display=False)
glue("t1_sp_hi", d_sp.high, display=False)
glue("t1_pn", d_pn.mean, display=False)
glue("t1_pn_lo", d_pn.low, display=False)
glue("t1_pn_hi", d_pn.high, display=False)
glue("t1_lvr", mean_ci(top["lvr"].psnr).mean, display=False)
glue("t1_bm3d", mean_ci(top["bm3d"].psnr).mean, display=False)

# %% [markdown]
# At sigma = {glue:text}`t1_sigma:.0f`, stochastic clipping minus projected gradient is
# {glue:text}`t1_sp:+.2f` dB (95% CI {glue:text}`t1_sp_lo:.2f` to {glue:text}`t1_sp_hi:.2f`), and
# projected gradient minus no clipping {glue:text}`t1_pn:+.2f` dB ({glue:text}`t1_pn_lo:.2f` to
# {glue:text}`t1_pn_hi:.2f`). An interval that contains zero means this experiment cannot tell
# the two strategies apart. On these generated images, which lie exactly in the range of
# the generator, LVR reaches {glue:text}`t1_lvr:.2f` dB against BM3D's {glue:text}`t1_bm3d:.2f` dB.
#
# ## Figure (as the paper's Fig. 4): clean, noisy and the three recoveries

# %%
image_rows({"clean": top["clean"].images, "noisy": top["noisy"].images,
            **{METHOD_LABELS[m]: top[m].images for m in ("lvr-none", "lvr-project", "lvr", "bm3d")}})
plt.show()
