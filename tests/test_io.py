"""Atomic writes: the PNG writer goes through lvrlib._io, and no module keeps its own copy."""
import ast
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import lvrlib
from lvrlib.figures import save_png


def test_save_png_round_trip_into_a_new_folder(tmp_path):
    arr = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    path = save_png(arr, tmp_path / "sub" / "img.png")
    assert path == tmp_path / "sub" / "img.png"
    assert np.array_equal(np.asarray(Image.open(path)), arr)
    gray = save_png(arr[..., :1], tmp_path / "gray.png")   # (H, W, 1) is written as gray
    assert np.array_equal(np.asarray(Image.open(gray)), arr[..., 0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gray.png", "sub"]


def test_a_failed_png_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = save_png(np.zeros((2, 2, 3), np.uint8), tmp_path / "img.png")
    before = path.read_bytes()
    with pytest.raises(TypeError):   # Pillow has no mode for (H, W, 3) float64
        save_png(np.zeros((2, 2, 3)), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["img.png"]


def test_only_lvrlib_io_moves_files_into_place():
    """One atomic-write helper: ``os.replace`` is called in lvrlib._io and, for swapping a
    whole fetched data folder into place, in lvrlib.data; nowhere else."""
    calls = {}
    for src in sorted(Path(lvrlib.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(src.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("replace", "rename")
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "os"):
                calls.setdefault(src.stem, []).append(node.lineno)
    assert set(calls) == {"_io", "data"}, calls
