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
sigma = None     # this chapter's noise levels, a number or a list (0..255 pixel units); default: the profile's (25, 50, 75, 100)

# %%
import matplotlib.pyplot as plt
from myst_nb import glue

from lvrlib.experiments import evaluate, lvr_description, paired_table, summary_table
from lvrlib.metrics import mean_ci
from lvrlib.paper import TABLE3_METHODS, as_list, compact_paired, compact_table, table3
from lvrlib.plots import image_rows
from lvrlib.profiles import get_profile

P = get_profile(profile)
sigmas = as_list(sigma) if sigma is not None else P.table3_sigmas
results = table3(P, sigmas, seed=seed, device=device)
print(f"profile {P.name}: {P.n_celeba} CelebA test images, {P.n_unseen} per unseen set; "
      f"sigma {', '.join(f'{s:g}' for s in sigmas)}; LVR {lvr_description(P, device)}")

# %% [markdown]
# ## PSNR (dB)
# Each cell is the mean over the images of a set, ± the half-width of its 95% confidence
# interval. LVR is lvrlib's default (projected gradient from the encoder's start, see the
# method chapter; Table 1 shows why not stochastic clipping); LVR-SA and BM3D are given the true sigma, their
# blind variants an estimated one; NLM is non-local means, TV total variation. Olivetti
# and the LFW subset are gray (the LFW subset 25x25), compared in that gray space.

# %%
compact_table(summary_table(results, TABLE3_METHODS), digits=2)

# %% [markdown]
# ## SSIM

# %%
compact_table(summary_table(results, TABLE3_METHODS, metric="ssim"), digits=2)

# %% [markdown]
# ## Paired differences with BM3D (dB)
# The same images denoised both ways: mean difference ± the half-width of its 95%
# interval. The interval lies above zero, the projection method measurably ahead, when
# the difference exceeds its ±. LVR needs no sigma, so it is compared with blind BM3D
# too.

# %%
PAIRS = [("lvr", "bm3d"), ("lvr", "bm3d-blind"), ("lvr-sa", "bm3d"),
         ("lvr-sa-blind", "bm3d-blind")]
paired = paired_table(results, PAIRS)
top_sigma = max(r["lvr"].sigma for r in results if r["lvr"].set_name == "celeba-test")
top = next(r for r in results if r["lvr"].set_name == "celeba-test" and r["lvr"].sigma == top_sigma)
at_top = paired[(paired["set"] == "celeba-test") & (paired["sigma"] == top_sigma)
                & (paired["b"] == "bm3d")].set_index("a")
clean = evaluate("celeba-test", 0, ["lvr"], P, seed=seed, device=device)
glue("t3_sigma", top_sigma, display=False)
glue("t3_bm3d", mean_ci(top["bm3d"].psnr).mean, display=False)
glue("t3_lvr", mean_ci(top["lvr"].psnr).mean, display=False)
glue("t3_sa", mean_ci(top["lvr-sa"].psnr).mean, display=False)
glue("t3_d_lvr", float(at_top.loc["lvr", "diff"]), display=False)
glue("t3_d_lvr_lo", float(at_top.loc["lvr", "low"]), display=False)
glue("t3_d_lvr_hi", float(at_top.loc["lvr", "high"]), display=False)
glue("t3_d_sa", float(at_top.loc["lvr-sa", "diff"]), display=False)
glue("t3_better", int((paired["low"] > 0).sum()), display=False)
glue("t3_rows", len(paired), display=False)
glue("t3_ceiling", mean_ci(clean["lvr"].psnr).mean, display=False)
compact_paired(paired)

# %% [markdown]
# On CelebA test images at sigma = {glue:text}`t3_sigma:.0f`, BM3D reaches
# {glue:text}`t3_bm3d:.2f` dB, LVR {glue:text}`t3_lvr:.2f` dB and LVR-SA {glue:text}`t3_sa:.2f` dB:
# LVR minus BM3D is {glue:text}`t3_d_lvr:+.2f` dB (95% CI {glue:text}`t3_d_lvr_lo:.2f` to
# {glue:text}`t3_d_lvr_hi:.2f`), LVR-SA minus BM3D {glue:text}`t3_d_sa:+.2f` dB. Over all sets,
# noise levels and the four comparisons above, the projection method is ahead with an
# interval above zero in {glue:text}`t3_better` of {glue:text}`t3_rows`. Projection can only
# return a face in the generator's range: the same LVR run on the clean CelebA test
# images, with no noise at all, reaches {glue:text}`t3_ceiling:.2f` dB, how close the
# generator comes to these faces (the figures chapter shows them).
#
# ## Figure (as the paper's Fig. 6)

# %%
image_rows({"original": top["clean"].images, "noisy": top["noisy"].images,
            "BM3D": top["bm3d"].images, "LVR": top["lvr"].images, "LVR-SA": top["lvr-sa"].images})
plt.show()
