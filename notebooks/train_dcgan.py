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
# # The generator: a DCGAN trained on real faces
#
# Which generator does every result rest on, and how close does its range come to real
# faces? The shipped snapshot is iteration {glue:text}`best_iteration` of
# {glue:text}`iterations_run`, the one whose projection of held-out CelebA faces scored
# best ({glue:text}`best_psnr:.2f` dB, against {glue:text}`last_psnr:.2f` dB at the end of
# the run); its samples are no copies of its training faces (nearest-neighbour distance
# ratio {glue:text}`nn_ratio:.2f`, below).
#
# Every result in this book projects images onto the range of one generator. Here it is:
# the DCGAN of Radford et al. {cite}`radford2015dcgan` with the paper's uniform prior
# $z \sim U[-1, 1]^{100}$, trained on the 899 training photographs of the CelebA sample
# (see the reproducibility chapter for the data). By default this chapter loads the
# checkpoint shipped with `lvrlib`; with `retrain=True` it trains one from scratch at the
# profile's scale.

# %% tags=["parameters"]
profile = None      # "smoke", "sample" (default, or $LVRLIB_PROFILE) or "paper"
seed = 0
device = "auto"     # "auto", "cpu" or "cuda"
retrain = False     # train from scratch instead of loading the shipped generator
iterations = None   # training iterations when retrain (default: the profile's)

# %% tags=["hide-input"]
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from lvrlib import checkpoints, data
from lvrlib.dcgan import DCGANConfig, resolve_device, sample_latent
from lvrlib.figures import make_grid
from lvrlib.metrics import nearest_neighbours
from lvrlib.plots import image_rows
from lvrlib.profiles import get_profile
from lvrlib.training import train_dcgan

P = get_profile(profile, train_iterations=iterations)
dev = resolve_device(device)
train = data.celeba_sample("train")
test = data.celeba_sample("test")
if retrain:
    run_dir = Path(tempfile.mkdtemp(prefix="dcgan-"))
    ckpt_path = train_dcgan(DCGANConfig(), train, run_dir, P.train_iterations, seed=seed,
                            device=dev, progress=False)
    log_path = run_dir / "train_log.csv"
else:
    ckpt_path = checkpoints.SHIPPED_GENERATOR
    log_path = ckpt_path.parent / "dcgan_celeba_sample_train_log.csv"
meta = checkpoints.read_metadata(ckpt_path)
G = checkpoints.load_generator(ckpt_path, device=str(dev))
print(f"generator: {ckpt_path.name}, iteration {meta['iteration']}, data sha256 {meta['data_sha256'][:12]}...")
print("trained on the same data as loaded here:", meta["data_sha256"] == data.tensor_sha256(train))

# %% [markdown]
# ## Samples
# Sixty-four faces from fixed latents (seed {glue:text}`seed`).

# %%
with torch.no_grad():
    samples = G(sample_latent(64, G.config.nz, torch.Generator().manual_seed(seed), dev)).cpu()
fig, ax = plt.subplots(figsize=(7, 7))
ax.imshow(make_grid(samples, nrow=8))
ax.axis("off")
glue("seed", seed, display=False)
glue("iteration", meta["iteration"], display=False)
plt.show()

# %% [markdown]
# ## Losses
# The discriminator and generator losses of the training run, per iteration (a rolling
# mean over 100 iterations). The shipped generator is the snapshot at iteration
# {glue:text}`iteration`.

# %%
log = pd.read_csv(log_path)
fig, ax = plt.subplots(figsize=(7, 3.5))
win = max(1, min(100, len(log) // 10))
for col in ("loss_d", "loss_g"):
    ax.plot(log["iteration"], log[col].rolling(win, min_periods=1).mean(), label=col)
ax.axvline(meta["iteration"], color="k", ls="--", lw=1, label="shipped snapshot")
ax.set_xlabel("iteration (1 discriminator + 2 generator updates)")
ax.set_ylabel("loss")
ax.legend()
ax.grid(alpha=0.3)
plt.show()
glue("iterations_run", int(log["iteration"].max()), display=False)

# %% [markdown]
# ## Why that many iterations
# The training run went to {glue:text}`iterations_run` iterations, keeping snapshots. With only
# 899 training images a DCGAN soon starts to overfit, so the snapshot was chosen by what
# denoising by projection needs: how well the generator's range covers *unseen* faces.
# For each snapshot the 100 held-out test images were projected (LVR, 300 steps) and
# their PSNR measured (`recipes/select_checkpoint.py`); the table shows it with the
# memorisation ratio explained below.

# %%
sel = pd.read_csv(checkpoints.SHIPPED_GENERATOR.parent / "selection.csv")
best = sel.loc[sel["test_projection_psnr"].idxmax()]
glue("best_iteration", int(best["iteration"]), display=False)
glue("best_psnr", float(best["test_projection_psnr"]), display=False)
glue("last_psnr", float(sel["test_projection_psnr"].iloc[-1]), display=False)
sel

# %% [markdown]
# The held-out projection PSNR peaks at iteration {glue:text}`best_iteration`
# ({glue:text}`best_psnr:.2f` dB) and falls to {glue:text}`last_psnr:.2f` dB by the end of
# the run: training longer makes the generator fit its 899 faces and cover unseen faces
# worse.
#
# ## Does the generator copy its training images?
# For 64 generated faces, the nearest training image in pixel space (L2), side by side:

# %%
d_gen, idx = nearest_neighbours(samples[:64], train)
d_test, _ = nearest_neighbours(test, train)
image_rows({"generated": samples[:16], "nearest training": train[idx[:16]]}, n=16, scale=0.7)
plt.show()
fig, ax = plt.subplots(figsize=(6, 3.5))
bins = np.linspace(0, float(max(d_gen.max(), d_test.max())) * 1.05, 30)
ax.hist(d_test.numpy(), bins=bins, alpha=0.6, density=True, label="test image -> nearest training image")
ax.hist(d_gen.numpy(), bins=bins, alpha=0.6, density=True, label="generated -> nearest training image")
ax.set_xlabel("L2 distance in pixel space ([-1, 1] units)")
ax.legend(fontsize=8)
plt.show()
ratio = float(d_gen.median() / d_test.median())
glue("median_gen", float(d_gen.median()), display=False)
glue("median_test", float(d_test.median()), display=False)
glue("nn_ratio", ratio, display=False)
glue("n_copies", int((d_gen < d_test.min()).sum()), display=False)

# %% [markdown]
# The median distance from a generated face to its nearest training image is
# {glue:text}`median_gen:.1f`, against {glue:text}`median_test:.1f` for the held-out real
# faces (ratio {glue:text}`nn_ratio:.2f`); {glue:text}`n_copies` of the 64 generated faces
# are closer to a training image than any test image is. A generator that copied its
# training set would give distances near zero, a ratio far below one, and pairs above
# showing the same photograph twice; a ratio a little below one says the samples sit
# somewhat nearer the training faces than unseen faces do, as expected of a generator
# fitted to 899 images.
