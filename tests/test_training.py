"""Training a DCGAN (lvrlib.training): determinism, resuming, refusals, and `lvrlib train`.

On a tiny config and 8 random images; the command line runs the default config for
2 iterations on 8 small PNG files.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import lvrlib.training as training
from lvrlib.checkpoints import load_generator, read_metadata
from lvrlib.cli import main
from lvrlib.dcgan import DCGANConfig, Generator
from lvrlib.training import train_dcgan

TINY = DCGANConfig(ngf=8, ndf=8, batch_size=4)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(8, 3, 64, 64, generator=g) * 2 - 1


def weights(path):
    return load_file(str(path))


def assert_same_weights(a: dict, b: dict):
    """Bit for bit: a resumed run loads the saved weights and optimiser state bit for bit
    and then makes the uninterrupted run's steps, on the same batches with the same kernels
    in this process, so no rounding differs."""
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
    real_batches = training._batch_indices

    def crash_at_iteration_3(n, batch_size, iteration, seed):
        if iteration == 2:  # 0-based: the third iteration
            raise KeyboardInterrupt
        return real_batches(n, batch_size, iteration, seed)

    monkeypatch.setattr(training, "_batch_indices", crash_at_iteration_3)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, images, 4, checkpoint_every=2)
    monkeypatch.setattr(training, "_batch_indices", real_batches)
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


# --------------------------------------------------------------------------- lvrlib train
def png_folder(folder, n: int = 8, size: int = 20):
    """n random PNG faces of size x size pixels (the last one gray) in a new folder."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = rng.integers(0, 256, (size, size + 3, 3), dtype=np.uint8)
        im = Image.fromarray(arr).convert("L") if i == n - 1 else Image.fromarray(arr)
        im.save(folder / f"face{i}.png")
    return folder


def test_train_command_writes_a_loadable_generator(tmp_path, capsys):
    from lvrlib.data import read_image, tensor_sha256

    data, out = png_folder(tmp_path / "faces"), tmp_path / "run"
    rc = main(["train", str(data), "-o", str(out), "--iterations", "2", "--device", "cpu",
               "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert (captured.out, captured.err) == (f"{out / 'generator.safetensors'}\n", "")
    for name in ("generator.safetensors", "generator.json", "state.safetensors", "state.json",
                 "train_log.csv"):
        assert (out / name).is_file(), name
    assert [r["iteration"] for r in log_rows(out)] == ["1", "2"]
    # The images were read as `lvrlib denoise` reads them, the gray one made RGB.
    expected = torch.stack([read_image(p, mode="RGB")[0] for p in sorted(data.iterdir())])
    assert expected.shape == (8, 3, 64, 64)
    meta = read_metadata(out / "generator.safetensors")
    assert meta["iteration"] == 2 and meta["config"] == asdict(DCGANConfig())
    G = load_generator(out / "generator.safetensors", data_sha256=tensor_sha256(expected))
    with torch.no_grad():
        assert G(torch.zeros(1, 100)).shape == (1, 3, 64, 64)


@pytest.mark.parametrize("bad, fragment", [
    ("tiny", "8x8 pixels, smaller than the minimum of 16 pixels"),
    ("broken", "is not an image that Pillow can read"),
])
def test_train_command_refuses_a_bad_image_before_training(tmp_path, capsys, bad, fragment):
    data = png_folder(tmp_path / "faces", n=2)
    if bad == "tiny":
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(data / "tiny.png")
    else:
        (data / "broken.png").write_text("not an image")
    rc = main(["train", str(data), "-o", str(tmp_path / "run"), "--iterations", "1", "--quiet"])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and captured.out == "", captured
    assert lines[0].startswith("lvrlib train: error: ") and str(data / f"{bad}.png") in lines[0]
    assert fragment in lines[0]
    assert not (tmp_path / "run").exists()
