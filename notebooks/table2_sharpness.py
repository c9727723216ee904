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
# # Table 2: the sharpness vector (LVR-SA)
#
# Latents recovered from noisy images give smoother faces than the truth. The paper
# estimates the average offset $s_\sigma = \overline{z} - \overline{\hat z}$ on generated
# images at each noise level and adds it to recovered latents (LVR-SA). Here $s_\sigma$ is
# estimated on one generated set and LVR is compared with LVR-SA on (a) that same set,
# (b) a fresh generated set, (c) real CelebA test images and (d) unseen real faces
# (Olivetti, and the LFW subset of scikit-image), the latter two through the gray
# observation operator.

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

from lvrlib.experiments import METHOD_LABELS, SET_LABELS, bank_for, summary_table
from lvrlib.metrics import paired_diff
from lvrlib.paper import TABLE2_METHODS, as_list, table2
from lvrlib.plots import image_rows
from lvrlib.profiles import get_profile

P = get_profile(profile, table3_sigmas=as_list(sigma) if sigma is not None else None)
results = table2(P, seed=seed, device=device)
bank = bank_for(P, seed, device)
print(f"profile {P.name}: s estimated on {P.sharpness_n} generated images per sigma; "
      f"LVR {P.steps} steps, lr {P.lr}")

# %% [markdown]
# ## The sharpness vectors
# Their length grows with the noise level: the noisier the input, the more the recovered
# latents are pulled towards the centre of the prior.

# %%
norms = pd.DataFrame({"sigma": bank.sigmas,
                      "|s_sigma| (L2)": [float(v.norm()) for v in bank.vectors],
                      "mean |component|": [float(v.abs().mean()) for v in bank.vectors]})
glue("s_norm_max", float(norms["|s_sigma| (L2)"].iloc[-1]), display=False)
glue("s_sigma_max", float(norms["sigma"].iloc[-1]), display=False)
norms

# %% [markdown]
# ## PSNR (dB): LVR against LVR-SA, mean and 95% CI

# %%
summary_table(results, TABLE2_METHODS)

# %% [markdown]
# ## Paired gain of LVR-SA over LVR (dB), per set and sigma

# %%
rows = []
for r in results:
    d = paired_diff(r["lvr-sa"].psnr, r["lvr"].psnr)
    rows.append({"set": SET_LABELS[r["lvr"].set_name], "sigma": r["lvr"].sigma,
                 "gain": round(d.mean, 2), "low": round(d.low, 2), "high": round(d.high, 2),
                 "holds (CI > 0)": d.low > 0})
gains = pd.DataFrame(rows)
glue("t2_cells", len(gains), display=False)
glue("t2_hold", int(gains["holds (CI > 0)"].sum()), display=False)
glue("t2_worse", int((gains["high"] < 0).sum()), display=False)
glue("t2_best", float(gains["gain"].max()), display=False)
glue("t2_worst", float(gains["gain"].min()), display=False)
gains.pivot(index="set", columns="sigma", values="gain")

# %% [markdown]
# In {glue:text}`t2_hold` of {glue:text}`t2_cells` (set, sigma) cells LVR-SA is better than LVR
# with a 95% interval above zero, and in {glue:text}`t2_worse` it is worse with an interval
# below zero; the gains range from {glue:text}`t2_worst:+.2f` to {glue:text}`t2_best:+.2f` dB.
# The length of $s_\sigma$ at sigma {glue:text}`s_sigma_max:.0f` is {glue:text}`s_norm_max:.2f`.
#
# ## Figure (as the paper's Fig. 5): original, noisy, LVR, LVR-SA on real CelebA test images

# %%
real = [r for r in results if r["lvr"].set_name == "celeba-test"]
show = max(real, key=lambda r: r["lvr"].sigma)
print(f"sigma = {show['lvr'].sigma:g}")
image_rows({"original": show["clean"].images, "noisy": show["noisy"].images,
            "LVR": show["lvr"].images, "LVR-SA": show["lvr-sa"].images})
plt.show()
