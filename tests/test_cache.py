"""The disk cache of results (lvrlib.cache).

Every test points ``$LVRLIB_RESULTS`` at its own temporary folder: nothing here reads or
writes the user's real cache.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import lvrlib.cache
from lvrlib.cache import cache_key, cached, results_dir


@pytest.fixture(autouse=True)
def _results(tmp_path, monkeypatch):
    monkeypatch.setenv("LVRLIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("LVRLIB_NO_CACHE", raising=False)
    return tmp_path / "results"


def make_counted(namespace: str = "test"):
    """A cached function that counts how often it really runs."""
    calls = []

    @cached(namespace)
    def compute(*, a, b=1.0, label="x"):
        calls.append((a, b, label))
        return {
            "array": np.arange(a, dtype=np.float64) * b,
            "ints": np.array([a, a + 1], dtype=np.int64),
            "tensor": torch.full((2, 3), float(a)),
            "scalar": float(a) * b,
            "count": a,
            "label": label,
            "flags": [True, None],
        }

    return compute, calls


def entries(namespace: str = "test"):
    folder = results_dir() / namespace
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_results_dir_follows_the_environment(_results):
    assert results_dir() == _results


def test_computes_once_and_returns_stored_result_with_types(_results):
    compute, calls = make_counted()
    first = compute(a=4, b=0.5, label="hello")
    second = compute(a=4, b=0.5, label="hello")
    assert len(calls) == 1
    assert len([n for n in entries() if n.endswith(".json")]) == 1

    assert isinstance(second["array"], np.ndarray) and second["array"].dtype == np.float64
    np.testing.assert_array_equal(second["array"], [0.0, 0.5, 1.0, 1.5])
    assert isinstance(second["ints"], np.ndarray) and second["ints"].dtype == np.int64
    np.testing.assert_array_equal(second["ints"], first["ints"])
    assert isinstance(second["tensor"], torch.Tensor)
    assert torch.equal(second["tensor"], first["tensor"])
    assert second["scalar"] == 2.0 and isinstance(second["scalar"], float)
    assert second["count"] == 4 and isinstance(second["count"], int)
    assert second["label"] == "hello"
    assert second["flags"] == [True, None]
    assert set(second) == set(first)


def test_numpy_scalars_are_stored_as_plain_values():
    @cached("scalars")
    def f(*, x):
        return {"m": np.float64(x) / 2, "k": np.int64(x)}

    f(x=3)
    hit = f(x=3)
    assert hit == {"m": 1.5, "k": 3}


def test_a_different_parameter_gives_a_different_key():
    compute, calls = make_counted()
    compute(a=3)
    compute(a=3, b=2.0)
    compute(a=3, label="y")
    compute(a=3)
    assert len(calls) == 3
    assert len([n for n in entries() if n.endswith(".json")]) == 3
    assert cache_key("test", {"a": 3}) != cache_key("test", {"a": 3, "b": 2.0})
    assert cache_key("test", {"a": 3}) != cache_key("other", {"a": 3})
    # The order of keyword arguments does not matter.
    assert cache_key("test", {"a": 3, "b": 2}) == cache_key("test", {"b": 2, "a": 3})


def test_a_change_of_code_misses_the_cache(monkeypatch):
    compute, calls = make_counted()
    compute(a=2)
    compute(a=2)
    assert len(calls) == 1
    monkeypatch.setattr(lvrlib.cache, "code_hash", lambda: "another version of lvrlib")
    compute(a=2)
    assert len(calls) == 2
    compute(a=2)
    assert len(calls) == 2


def test_code_hash_is_a_sha256_of_the_package():
    h = lvrlib.cache.code_hash()
    assert len(h) == 64 and int(h, 16) >= 0


def test_no_cache_always_computes_and_writes_nothing(monkeypatch):
    monkeypatch.setenv("LVRLIB_NO_CACHE", "1")
    compute, calls = make_counted()
    compute(a=2)
    compute(a=2)
    assert len(calls) == 2
    assert entries() == []


def test_a_damaged_entry_is_recomputed(monkeypatch):
    compute, calls = make_counted()
    compute(a=5)
    [st] = [results_dir() / "test" / n for n in entries() if n.endswith(".safetensors")]
    data = st.read_bytes()
    st.write_bytes(data[: len(data) // 2])

    again = compute(a=5)
    assert len(calls) == 2
    np.testing.assert_array_equal(again["array"], np.arange(5.0))
    # The entry was rewritten whole: the next call is served from it.
    assert st.stat().st_size == len(data)
    compute(a=5)
    assert len(calls) == 2


def test_a_damaged_json_is_recomputed():
    compute, calls = make_counted()
    compute(a=5)
    [js] = [results_dir() / "test" / n for n in entries() if n.endswith(".json")]
    js.write_text('{"params": ')
    assert compute(a=5)["count"] == 5
    assert len(calls) == 2


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("fail_at", [1, 2], ids=["arrays", "json"])
def test_an_interrupted_write_leaves_no_json(monkeypatch, fail_at):
    compute, calls = make_counted()
    real_replace = os.replace
    moves = []

    def replace(src, dst):
        moves.append(dst)
        if len(moves) == fail_at:
            raise Interrupted(f"killed while moving {dst}")
        return real_replace(src, dst)

    monkeypatch.setattr(lvrlib.cache.os, "replace", replace)
    with pytest.raises(Interrupted):
        compute(a=6)
    monkeypatch.setattr(lvrlib.cache.os, "replace", real_replace)

    assert not [n for n in entries() if n.endswith(".json")]
    # Never read as complete: the next call computes again and completes the entry.
    compute(a=6)
    assert len(calls) == 2
    assert len([n for n in entries() if n.endswith(".json")]) == 1
    compute(a=6)
    assert len(calls) == 2


def test_arguments_must_be_keywords():
    compute, _ = make_counted()
    with pytest.raises(TypeError):
        compute(3)


def test_compute_modules_cover_the_library():
    """Every lvrlib module either feeds cached numbers (and is hashed into every key) or
    is presentation code on this explicit list: a new module must be classified."""
    from pathlib import Path

    import lvrlib
    from lvrlib.cache import COMPUTE_MODULES

    pkg = Path(lvrlib.__file__).parent
    modules = {p.stem for p in pkg.glob("*.py")} - {"__init__"}
    # Never change a number (records only finds the folders of recorded runs).
    presentation = {"plots", "figures", "cli", "paper", "_io", "records", "reproducibility",
                    "benchmarking"}
    assert set(COMPUTE_MODULES) <= modules
    assert modules - set(COMPUTE_MODULES) == presentation


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    from lvrlib._io import atomic_path, atomic_write_text

    path = tmp_path / "entry.json"
    atomic_write_text(path, "old")
    with pytest.raises(Interrupted):
        with atomic_path(path) as tmp:
            assert tmp.parent == path.parent and tmp.name.endswith(".tmp")
            tmp.write_text("half of the new")
            raise Interrupted("killed while writing")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["entry.json"]   # no temporary left
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["entry.json"]
