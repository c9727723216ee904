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
# # Figures: what projection does to real faces
#
# What does projection do to a real face, and from which noise level on, if any, does it
# overtake BM3D?
#
# ```{glue:md} crossing_text
# :format: myst
# ```
#
# The paper's Figs. 1-3 and a curve it implies: PSNR against the noise level for BM3D,
# LVR and LVR-SA on real CelebA test images, with the noise level where projection
# overtakes BM3D marked, if there is one. Projection can only return a face of the
# generator's range: on clean CelebA test faces LVR reaches {glue:text}`ceiling:.2f` dB
# (95% CI {glue:text}`ceiling_lo:.2f` to {glue:text}`ceiling_hi:.2f`), the ceiling of every
# denoised result below.

# %% tags=["parameters"]
profile = None   # "smoke", "sample" (default, or $LVRLIB_PROFILE) or "paper"
seed = 0
device = "auto"  # "auto", "cpu" or "cuda"
sigma = None     # this chapter's noise levels (the PSNR-against-sigma curve), a number or a list (0..255 pixel units); default: the profile's (0 to 100)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown
from myst_nb import glue

from lvrlib.experiments import SHORT_SET_LABELS, evaluate
from lvrlib.metrics import mean_ci
from lvrlib.paper import CURVE_METHODS, crossover_sigma, psnr_curve
from lvrlib.plots import image_rows, psnr_vs_sigma
from lvrlib.profiles import get_profile

P = get_profile(profile)
curve = psnr_curve(P, sigma, seed=seed, device=device)
teaser_sigma = max(P.table3_sigmas)
teaser = evaluate("celeba-test", teaser_sigma, ["noisy", "bm3d", "lvr", "lvr-sa"], P,
                  seed=seed, device=device)
clean_celeba = evaluate("celeba-test", 0, ["lvr"], P, seed=seed, device=device)
clean_unseen = {name: evaluate(name, 0, ["lvr"], P, seed=seed, device=device)
                for name in P.unseen}

# %% [markdown]
# ## Fig. 1: noisy CelebA test faces (sigma = {glue:text}`teaser_sigma:.0f`) and their recoveries

# %%
glue("teaser_sigma", teaser_sigma, display=False)
image_rows({"original": teaser["clean"].images, "noisy": teaser["noisy"].images,
            "BM3D": teaser["bm3d"].images, "LVR": teaser["lvr"].images,
            "LVR-SA": teaser["lvr-sa"].images}, n=6)
plt.show()

# %% [markdown]
# ## Fig. 2: clean CelebA test images and their projections
# With no noise at all, LVR shows what the generator can represent: the projection of a
# held-out face is the nearest face LVR finds in the generator's range.

# %%
ceiling = mean_ci(clean_celeba["lvr"].psnr)
glue("ceiling", ceiling.mean, display=False)
glue("ceiling_lo", ceiling.low, display=False)
glue("ceiling_hi", ceiling.high, display=False)
image_rows({"CelebA test": clean_celeba["clean"].images, "projection": clean_celeba["lvr"].images})
plt.show()

# %% [markdown]
# The projections of clean held-out faces reach {glue:text}`ceiling:.2f` dB (95% CI
# {glue:text}`ceiling_lo:.2f` to {glue:text}`ceiling_hi:.2f`). This is how close the
# generator's range comes to these faces as LVR finds it: denoising by projection returns
# a face from the same range, so it is not expected to do better on these images.
#
# ## Fig. 3: unseen faces and their projections
# Olivetti and the LFW subset were never seen in training and are grayscale (the LFW
# subset also 25x25); the colour generator reaches them through the gray (and resize)
# observation operator.

# %%
rows = {}
for name, res in clean_unseen.items():
    rows[f"{name}"] = res["clean"].images
    rows[f"{name} projection"] = res["lvr"].images
unseen_text = ("Clean faces of the unseen sets project at "
               + ", ".join(f"{mean_ci(res['lvr'].psnr).mean:.2f} dB ({SHORT_SET_LABELS.get(name, name)}, "
                           f"{len(res['lvr'].psnr)} images)" for name, res in clean_unseen.items())
               + ".") if clean_unseen else "This profile has no unseen sets."
glue("unseen_text", Markdown(unseen_text), display=False)
# Rows of different sizes are drawn separately.
for name in clean_unseen:
    image_rows({name: rows[name], "projection": rows[f"{name} projection"]})
    plt.show()

# %% [markdown]
# ```{glue:md} unseen_text
# :format: myst
# ```
#
# ## PSNR against noise level
# Mean PSNR with 95% confidence bands on CelebA test images.

# %% tags=["hide-input"]
cross = crossover_sigma(curve, "lvr", "bm3d")
cross_sa = crossover_sigma(curve, "lvr-sa", "bm3d")
psnr_vs_sigma(curve, CURVE_METHODS, crossover=cross)
plt.show()
top = max(curve, key=lambda r: r["lvr"].sigma)
gap = mean_ci(top["lvr"].psnr).mean - mean_ci(top["bm3d"].psnr).mean


def crossing(name: str, c: float | None) -> str:
    if c is not None and c == min(r["lvr"].sigma for r in curve):
        return f"{name}'s mean PSNR is above BM3D's already at the smallest measured sigma, {c:g}"
    if c is None:
        return (f"{name}'s mean PSNR stays at or below BM3D's at every measured sigma up to "
                f"{top['lvr'].sigma:g}")
    return (f"{name}'s mean PSNR first exceeds BM3D's at sigma = {c:.1f} (interpolated "
            "between measured levels)")


if cross is None and cross_sa is None:
    crossings = ("Neither LVR's nor LVR-SA's mean PSNR exceeds BM3D's at any measured sigma up "
                 f"to {top['lvr'].sigma:g}")
else:
    crossings = f"{crossing('LVR', cross)}; {crossing('LVR-SA', cross_sa)}"
glue("crossing_text", Markdown(
    f"{crossings}. At the largest sigma measured, {top['lvr'].sigma:g}, LVR minus BM3D is "
    f"{gap:+.2f} dB (means over {len(top['lvr'].psnr)} images)."), display=False)

# %% [markdown]
# ```{glue:md} crossing_text
# :format: myst
# ```
