"""DCGAN networks, prior and training loop (lvrlib.dcgan), on a tiny config and 8 images."""
from __future__ import annotations

import csv
import json

import pytest
import torch
from safetensors.torch import load_file
from scipy import stats

import lvrlib.dcgan as dcgan
from lvrlib.dcgan import DCGANConfig, Discriminator, Generator, sample_latent, train_dcgan

TINY = DCGANConfig(ngf=8, ndf=8, batch_size=4)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(8, 3, 64, 64, generator=g) * 2 - 1


def weights(path):
    return load_file(str(path))


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def log_rows(folder):
    with open(folder / "train_log.csv", newline="") as f:
        return list(csv.DictReader(f))


def train(folder, images, iterations, **kw):
    kw.setdefault("seed", 0)
    return train_dcgan(TINY, images, folder, iterations, device="cpu", progress=False, **kw)


@pytest.fixture(scope="module")
def run4(tmp_path_factory, images):
    """An uninterrupted run to iteration 4: the reference for the resume tests."""
    folder = tmp_path_factory.mktemp("run4")
    return folder, weights(train(folder, images, 4))


# --------------------------------------------------------------------------- networks
def test_default_config_is_the_papers():
    c = DCGANConfig()
    assert (c.nz, c.ngf, c.ndf, c.nc, c.image_size) == (100, 64, 64, 3, 64)
    assert (c.lr, c.beta1, c.batch_size, c.g_steps, c.flip) == (2e-4, 0.5, 64, 2, True)
    # Parameter counts of pytorch/examples dcgan with nz=100, ngf=ndf=64, nc=3.
    assert sum(p.numel() for p in Generator(c).parameters()) == 3_576_704
    assert sum(p.numel() for p in Discriminator(c).parameters()) == 2_765_568


@pytest.mark.parametrize("bad", [dict(image_size=32), dict(ngf=0), dict(batch_size=0)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        DCGANConfig(**bad)


def test_generator_shape_and_range():
    G = Generator(TINY).eval()
    z = sample_latent(5, 100, torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = G(z)
        # Far outside the prior the tanh still bounds the output.
        x_big = G(z * 1e6)
    assert x.shape == (5, 3, 64, 64) and x.dtype == torch.float32
    assert x.abs().max() <= 1.0 and x_big.abs().max() <= 1.0
    assert x_big.abs().max() > 0.99  # the big inputs really do saturate
    # Accepts z as (N, nz, 1, 1) too, as pytorch/examples feeds it.
    with torch.no_grad():
        assert torch.equal(G(z[:, :, None, None]), x)


def test_discriminator_output_shape():
    D = Discriminator(TINY).eval()
    x = torch.rand(6, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        out = D(x)
    assert out.shape == (6,)
    assert torch.isfinite(out).all()


def test_sample_latent_prior():
    z = sample_latent(1000, 100, torch.Generator().manual_seed(0))
    assert z.shape == (1000, 100) and z.dtype == torch.float32
    assert z.min() >= -1.0 and z.max() <= 1.0
    assert z.min() < -0.999 and z.max() > 0.999  # the whole box, not [0, 1]
    assert stats.kstest(z.flatten().numpy().astype("float64"), "uniform",
                        args=(-1.0, 2.0)).pvalue > 0.01
    same = sample_latent(1000, 100, torch.Generator().manual_seed(0))
    other = sample_latent(1000, 100, torch.Generator().manual_seed(1))
    assert torch.equal(z, same) and not torch.equal(z, other)
    assert sample_latent(3, 7).shape == (3, 7)


# --------------------------------------------------------------------------- training
def test_one_step_changes_weights_and_is_deterministic(tmp_path, images):
    a = weights(train(tmp_path / "a", images, 1))
    b = weights(train(tmp_path / "b", images, 1))
    c = weights(train(tmp_path / "c", images, 1, seed=1))
    assert_same_weights(a, b)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # train_dcgan initialises its weights under torch.manual_seed(seed)
        init = Generator(TINY).state_dict()
    changed = [k for k in init if k.endswith("weight") and not torch.equal(init[k], a[k])]
    assert len(changed) == sum(k.endswith("weight") for k in init), changed
    assert not torch.equal(a["main.0.weight"], c["main.0.weight"])
    meta = json.loads((tmp_path / "a" / "generator.json").read_text())
    assert meta["iteration"] == 1 and meta["config"]["ngf"] == 8
    assert [r["iteration"] for r in log_rows(tmp_path / "a")] == ["1"]


def test_resume_after_finished_shorter_run(tmp_path, images, run4):
    ref_folder, ref = run4
    train(tmp_path, images, 2)
    assert json.loads((tmp_path / "state.json").read_text())["iteration"] == 2
    resumed = weights(train(tmp_path, images, 4))
    assert_same_weights(resumed, ref)
    assert json.loads((tmp_path / "generator.json").read_text())["iteration"] == 4
    rows, ref_rows = log_rows(tmp_path), log_rows(ref_folder)
    assert [r["iteration"] for r in rows] == ["1", "2", "3", "4"]
    for r, q in zip(rows, ref_rows):  # the same losses, bit for bit as printed
        assert (r["loss_d"], r["loss_g"], r["d_real"], r["d_fake"]) == \
               (q["loss_d"], q["loss_g"], q["d_real"], q["d_fake"])


def test_resume_after_crash_between_checkpoints(tmp_path, images, run4, monkeypatch):
    """Crash during iteration 3 with checkpoints every 2: the rerun resumes from 2."""
    _, ref = run4
    real_batches = dcgan._batch_indices

    def crash_at_iteration_3(n, batch_size, iteration, seed):
        if iteration == 2:  # 0-based: the third iteration
            raise KeyboardInterrupt
        return real_batches(n, batch_size, iteration, seed)

    monkeypatch.setattr(dcgan, "_batch_indices", crash_at_iteration_3)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, images, 4, checkpoint_every=2)
    monkeypatch.setattr(dcgan, "_batch_indices", real_batches)
    assert json.loads((tmp_path / "state.json").read_text())["iteration"] == 2
    assert [r["iteration"] for r in log_rows(tmp_path)] == ["1", "2"]
    resumed = weights(train(tmp_path, images, 4, checkpoint_every=2))
    assert_same_weights(resumed, ref)
    assert [r["iteration"] for r in log_rows(tmp_path)] == ["1", "2", "3", "4"]


@pytest.mark.parametrize("shape", [(8, 3, 32, 32), (8, 1, 64, 64), (3, 64, 64)])
def test_wrong_image_shape_raises_before_any_work(tmp_path, shape):
    with pytest.raises(ValueError, match="expected"):
        train(tmp_path / "out", torch.zeros(shape), 1)
    assert not (tmp_path / "out").exists()


def test_negative_iterations_raise(tmp_path, images):
    with pytest.raises(ValueError, match="iterations=-1"):
        train(tmp_path / "out", images, -1)
