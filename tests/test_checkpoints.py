"""Checkpoints (lvrlib.checkpoints): safetensors + JSON, verified on load, never unpickled."""
from __future__ import annotations

import ast
import hashlib
import inspect
import json
import pickle
import shutil
from dataclasses import asdict

import pytest
import torch

import lvrlib.checkpoints as ckpt
import lvrlib.dcgan as dcgan
import lvrlib.training as training
import lvrlib.workers as workers
from lvrlib.checkpoints import (
    SHIPPED_GENERATOR,
    CheckpointError,
    export_generator,
    load_generator,
    read_metadata,
    save_generator,
)
from lvrlib.dcgan import DCGANConfig, Generator, sample_latent
from lvrlib.training import train_dcgan

TINY = DCGANConfig(ngf=8, ndf=8, batch_size=4)
DATA_SHA = "ab" * 32


@pytest.fixture
def netG():
    """A tiny generator with non-default batch-norm statistics (so they must round-trip)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = Generator(TINY)
    with torch.no_grad():
        G.train()(sample_latent(16, 100, torch.Generator().manual_seed(1)))
    return G.eval()


@pytest.fixture
def z():
    return sample_latent(4, 100, torch.Generator().manual_seed(2))


@pytest.fixture
def saved(tmp_path, netG):
    return save_generator(tmp_path / "g.safetensors", netG, iteration=7, data_sha256=DATA_SHA)


def test_round_trip_float32_is_exact(saved, netG, z):
    loaded = load_generator(saved)
    assert not loaded.training
    assert loaded.config == TINY
    # Exact: bit-identical weights in the same layout through the same module, at the same
    # batch size, run the same kernels on the same numbers.
    with torch.no_grad():
        assert torch.equal(loaded(z), netG(z))
    assert all(torch.equal(v, netG.state_dict()[k]) for k, v in loaded.state_dict().items())
    meta = read_metadata(saved)
    assert meta["iteration"] == 7 and meta["data_sha256"] == DATA_SHA
    assert meta["config"] == asdict(TINY) and meta["dtype"] == "float32"
    assert meta["weights_sha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()


def test_float16_export_is_close_and_half_the_size(tmp_path, saved, netG, z):
    dst = export_generator(saved, tmp_path / "half.safetensors", note="test")
    loaded = load_generator(dst)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    with torch.no_grad():
        ref = netG(z)
        diff = (loaded(z) - ref).abs().max().item()
    # float16 rounding, nothing worse: 11 significant bits, u16 = 2^-11 ~ 4.9e-4 relative
    # per weight and batch-norm number; through the five layers the outputs move by a few
    # u16 of their size (independent roundings add in quadrature), far under 5e-3 of it.
    # Relative: this untrained generator's outputs are all below 1e-3 (DCGAN's N(0, 0.02)
    # weights shrink the signal), so an absolute 1e-3 would pass any output at all.
    assert 0 < diff < 5e-3 * float(ref.abs().max())
    assert dst.stat().st_size < 0.6 * saved.stat().st_size
    meta = read_metadata(dst)
    assert meta["dtype"] == "float16" and meta["note"] == "test"
    assert meta["iteration"] == 7 and meta["data_sha256"] == DATA_SHA


def test_shipped_generator():
    G = load_generator()
    assert not G.training
    assert G.config.nz == 100 and G.config.ngf == 64 and G.config.nc == 3
    assert SHIPPED_GENERATOR.stat().st_size < 15 * 2**20
    meta = read_metadata()
    assert meta["dtype"] == "float16" and meta["iteration"] > 0
    with torch.no_grad():
        x = G(sample_latent(2, 100, torch.Generator().manual_seed(0)))
    assert x.shape == (2, 3, 64, 64) and x.abs().max() <= 1.0
    assert x.std() > 0.1  # a trained generator, not a blank one


def _copy(src, dst_dir):
    dst = dst_dir / src.name
    shutil.copy(src, dst)
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))
    return dst


@pytest.mark.parametrize("source", ["tiny", "shipped"])
def test_tampered_weights_are_refused(tmp_path, saved, source):
    path = saved if source == "tiny" else _copy(SHIPPED_GENERATOR, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="modified or corrupted"):
        load_generator(path)


def test_missing_or_broken_description_is_refused(tmp_path, saved):
    meta_path = saved.with_suffix(".json")
    text = meta_path.read_text()
    meta_path.unlink()
    with pytest.raises(CheckpointError, match="no description"):
        load_generator(saved)
    meta_path.write_text(text[:-10])
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_generator(saved)
    meta_path.write_text(json.dumps({**json.loads(text), "format": "other"}))
    with pytest.raises(CheckpointError, match="not an lvrlib"):
        load_generator(saved)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_generator(tmp_path / "nothing.safetensors")


def test_data_sha256_is_checked(saved):
    load_generator(saved, data_sha256=DATA_SHA)
    with pytest.raises(CheckpointError, match="trained on data"):
        load_generator(saved, data_sha256="cd" * 32)


def test_save_requires_safetensors_suffix(tmp_path, netG):
    with pytest.raises(ValueError, match=".safetensors"):
        save_generator(tmp_path / "g.pt", netG, iteration=0, data_sha256=DATA_SHA)


@pytest.fixture(scope="module")
def images():
    return torch.rand(8, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("change, match", [
    (dict(config=DCGANConfig(ngf=8, ndf=8, batch_size=2)), "another config"),
    (dict(seed=1), "seed 0, not 1"),
    (dict(other_data=True), "other data"),
    (dict(tamper_state=True), "does not match its recorded sha256"),
])
def test_resume_refuses_another_run(tmp_path, images, change, match):
    train_dcgan(TINY, images, tmp_path, 1, seed=0, device="cpu", progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    data = images.clone()
    if change.get("other_data"):
        data[0, 0, 0, 0] += 0.5
    if change.get("tamper_state"):
        state = bytearray((tmp_path / "state.safetensors").read_bytes())
        state[-1] ^= 0x01
        (tmp_path / "state.safetensors").write_bytes(bytes(state))
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(CheckpointError, match=match):
        train_dcgan(change.get("config", TINY), data, tmp_path, 2,
                    seed=change.get("seed", 0), device="cpu", progress=False)
    # Nothing in the folder was overwritten by the refused run.
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def _unpickling_calls(source: str) -> list[str]:
    """Code (not docstrings) in ``source`` that imports pickle or calls torch.load."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in ("pickle", "dill")]
        elif isinstance(node, ast.ImportFrom) and node.module in ("pickle", "dill", "torch"):
            found += [f"{node.module}.{a.name}" for a in node.names
                      if node.module != "torch" or a.name == "load"]
        elif isinstance(node, ast.Attribute) and node.attr == "load" and \
                isinstance(node.value, ast.Name) and node.value.id in ("torch", "pickle"):
            found.append(f"{node.value.id}.load")
        elif isinstance(node, ast.Name) and node.id in ("pickle", "Unpickler"):
            found.append(node.id)
    return found


def test_never_unpickles(saved, tmp_path, images, monkeypatch):
    for module in (ckpt, dcgan, training, workers):
        assert _unpickling_calls(inspect.getsource(module)) == [], module.__name__
    # The check does find what it looks for.
    assert _unpickling_calls("import torch\nsd = torch.load(p)") == ["torch.load"]
    assert _unpickling_calls("from pickle import loads") == ["pickle.loads"]
    # And at run time: loading and resuming never reach torch.load or pickle.
    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint was unpickled")
    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    load_generator(saved)
    load_generator()
    train_dcgan(TINY, images, tmp_path / "run", 1, device="cpu", progress=False)
    train_dcgan(TINY, images, tmp_path / "run", 2, device="cpu", progress=False)
