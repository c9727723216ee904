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
# # Table 3: projection against BM3D on real faces
#
# The paper's headline comparison: on real face images at high noise, BM3D
# {cite}`dabov2007bm3d` against LVR and LVR-SA. LVR needs no noise level; LVR-SA and BM3D
# use the true sigma, and their blind variants an estimated one. SSIM is given beside
# PSNR; non-local means and total variation are cheap classical references.

# %% tags=["parameters"]
profile = None   # "smoke", "sample" (default, or $LVRLIB_PROFILE) or "paper"
seed = 0
device = "auto"  # "auto", "cpu" or "cuda"
sigma = None     # a number or a list (0..255 pixel units); default: the profile's (25, 50, 75, 100)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from lvrlib.experiments import METHOD_LABELS, SET_LABELS, summary_table
from lvrlib.metrics import mean_ci, paired_diff
from lvrlib.paper import TABLE3_METHODS, as_list, table3
from lvrlib.plots import image_rows
from lvrlib.profiles import get_profile

P = get_profile(profile, table3_sigmas=as_list(sigma) if sigma is not None else None)
results = table3(P, seed=seed, device=device)
print(f"profile {P.name}: {P.n_celeba} CelebA test images, {P.n_unseen} per unseen set; "
      f"sigma {', '.join(f'{s:g}' for s in P.table3_sigmas)}; LVR {P.steps} steps")

# %% [markdown]
# ## PSNR (dB), mean and 95% CI

# %%
summary_table(results, TABLE3_METHODS)

# %% [markdown]
# ## SSIM, mean and 95% CI

# %%
summary_table(results, TABLE3_METHODS, metric="ssim")

# %% [markdown]
# ## Paired differences (dB) with BM3D (true sigma)

# %%
rows = []
for r in results:
    for a in ("lvr", "lvr-sa", "lvr-sa-blind"):
        d = paired_diff(r[a].psnr, r["bm3d"].psnr)
        rows.append({"set": SET_LABELS[r[a].set_name], "sigma": r[a].sigma,
                     "method": METHOD_LABELS[a], "minus BM3D": round(d.mean, 2),
                     "95% CI": f"[{d.low:.2f}, {d.high:.2f}]", "better": d.low > 0})
vs = pd.DataFrame(rows)
celeba = [r for r in results if r["lvr"].set_name == "celeba-test"]
top = max(celeba, key=lambda r: r["lvr"].sigma)
d_lvr = paired_diff(top["lvr"].psnr, top["bm3d"].psnr)
d_sa = paired_diff(top["lvr-sa"].psnr, top["bm3d"].psnr)
glue("t3_sigma", top["lvr"].sigma, display=False)
glue("t3_bm3d", mean_ci(top["bm3d"].psnr).mean, display=False)
glue("t3_lvr", mean_ci(top["lvr"].psnr).mean, display=False)
glue("t3_sa", mean_ci(top["lvr-sa"].psnr).mean, display=False)
glue("t3_d_lvr", d_lvr.mean, display=False)
glue("t3_d_lvr_lo", d_lvr.low, display=False)
glue("t3_d_lvr_hi", d_lvr.high, display=False)
glue("t3_d_sa", d_sa.mean, display=False)
glue("t3_better", int(vs["better"].sum()), display=False)
glue("t3_rows", len(vs), display=False)
vs

# %% [markdown]
# On CelebA test images at sigma = {glue:text}`t3_sigma:.0f`, BM3D reaches
# {glue:text}`t3_bm3d:.2f` dB, LVR {glue:text}`t3_lvr:.2f` dB and LVR-SA {glue:text}`t3_sa:.2f` dB:
# LVR minus BM3D is {glue:text}`t3_d_lvr:+.2f` dB (95% CI {glue:text}`t3_d_lvr_lo:.2f` to
# {glue:text}`t3_d_lvr_hi:.2f`), LVR-SA minus BM3D {glue:text}`t3_d_sa:+.2f` dB. Over all sets and
# noise levels, a projection method beats BM3D with an interval above zero in
# {glue:text}`t3_better` of {glue:text}`t3_rows` comparisons. The ceiling of projection is the
# generator's range: a real face the generator cannot represent is replaced by the
# nearest face it can, which caps LVR's PSNR whatever the noise (see the generator
# chapter's held-out projection PSNR).
#
# ## Figure (as the paper's Fig. 6)

# %%
image_rows({"original": top["clean"].images, "noisy": top["noisy"].images,
            "BM3D": top["bm3d"].images, "LVR": top["lvr"].images, "LVR-SA": top["lvr-sa"].images})
plt.show()
