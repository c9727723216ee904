"""The shape of the code, as facts that can fail: what a change must keep true (the
design's "each idea written once")."""
from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lvrlib"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
MAX_FUNCTION_LINES = 60          # without its docstring
MAX_RECOVERY_LINES = 350
# A declarative argument parser reads best in one piece.
LONG_ALLOWED = {("cli.py", "build_parser")}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def lvrlib_imports(path: Path) -> set[str]:
    """The lvrlib modules a file imports, anywhere in it (lazy imports included)."""
    deps = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                deps |= {node.module.split(".")[0]} if node.module else \
                    {a.name for a in node.names}
            elif node.module and node.module.startswith("lvrlib."):
                deps.add(node.module.split(".")[1])
            elif node.module == "lvrlib":
                deps |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("lvrlib.")}
    return deps - {path.stem}


def function_lengths(path: Path):
    """(name, first line, lines without the docstring) of every function in a file."""
    for node in ast.walk(_tree(path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0]
            doc = (first.end_lineno - first.lineno + 1
                   if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                   and isinstance(first.value.value, str) else 0)
            yield node.name, node.lineno, node.end_lineno - node.lineno + 1 - doc


def test_the_checks_see_what_they_check(tmp_path):
    """The two readers below find a lazy import and a long function (or the checks that
    use them could pass on anything)."""
    f = tmp_path / "mod.py"
    f.write_text("def g():\n    '''Doc.\n    more'''\n    from .other import x\n"
                 + "    y = 1\n" * 70)
    assert lvrlib_imports(f) == {"other"}
    assert [(n, k) for n, _, k in function_lengths(f)] == [("g", 72)]


def test_no_two_lvrlib_modules_import_each_other():
    deps = {p.stem: lvrlib_imports(p) for p in LIB.glob("*.py")}
    cycles = [(a, b) for a, b in itertools.combinations(sorted(deps), 2)
              if b in deps[a] and a in deps[b]]
    assert not cycles, f"modules importing each other: {cycles}"


def test_no_private_name_is_imported_across_modules():
    bad = []
    for p in LIB.glob("*.py"):
        for node in ast.walk(_tree(p)):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                bad += [f"{p.name}: {node.module}.{a.name}" for a in node.names
                        if a.name.startswith("_")]
    assert not bad, bad


def test_functions_are_short_and_recovery_is_small():
    long = [f"{p.name}:{line} {name} ({n} lines)" for p in sorted(LIB.glob("*.py"))
            for name, line, n in function_lengths(p)
            if n > MAX_FUNCTION_LINES and (p.name, name) not in LONG_ALLOWED]
    assert not long, long
    assert len((LIB / "recovery.py").read_text().splitlines()) <= MAX_RECOVERY_LINES


def test_method_labels_are_written_once():
    """Every method's table label is spelled only in the registry (lvrlib/methods.py)."""
    from lvrlib.methods import METHODS

    # Every label that is not a bare word ("LVR", "DIP" are names, written everywhere).
    labels = {lab for m in METHODS.values() for lab in (m.label, m.short)
              if re.search(r"[ ,(\u2011]", lab)}
    assert {"LVR, projected gradient", "BM3D (true sigma)", "non-local means",
            "LVR\u2011SA blind"} <= labels
    places = [p for p in [*LIB.glob("*.py"), *NOTEBOOKS] if p.name != "methods.py"]
    found = [(p.name, lab) for p in places for lab in labels
             if f'"{lab}"' in p.read_text() or f"'{lab}'" in p.read_text()]
    # Recorded CSVs of older runs carry their own column names; those are read, not labels.
    assert not found, found


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_thin(nb):
    """No notebook imports or runs a benchmark script, defines a verdict, or finds a
    recorded run by its path."""
    text = nb.read_text()
    assert not re.search(r"^\s*(import importlib|import subprocess|from importlib)", text, re.M)
    assert "benchmarks\" /" not in text and "benchmarks' /" not in text
    assert "parents[1]" not in text
    defs = re.findall(r"^def (\w+)", text, re.M)
    assert not [d for d in defs if re.search(r"verdict|judge", d)], defs
    assert "verdict(" not in text.replace("j.verdict", "")


def test_compare_builds_sees_glued_values_and_tables(tmp_path):
    """tests/compare_builds.py finds a changed glued number (kept by myst-nb beside the
    notebook) and a changed table cell, and nothing when the builds agree."""
    import json

    from compare_builds import compare

    def build(root, value, cell):
        d = root / "jupyter_execute" / "notebooks"
        d.mkdir(parents=True)
        glue = {"name": "t3_lvr", "mime_prefix": "application/papermill.record/"}
        (d / "t3.glue.json").write_text(json.dumps({"t3_lvr": {
            "output_type": "display_data", "metadata": {"scrapbook": glue},
            "data": {"text/plain": value}}}))
        table = {"output_type": "execute_result", "metadata": {},
                 "data": {"text/html": [f"<table><td>{cell}</td></table>"],
                          "text/plain": ["..."]}}
        (d / "t3.ipynb").write_text(json.dumps({"cells": [{"outputs": [table]}]}))
        return root

    old = build(tmp_path / "old", "21.26", "22.8 ±0.6")
    assert compare(old, build(tmp_path / "same", "21.26", "22.8 ±0.6"), "") == []
    diff = compare(old, build(tmp_path / "new", "21.27", "22.8 ±0.7"), "")
    assert len(diff) == 2 and "t3_lvr" in diff[0] and "±0.7" in diff[1]


def _cells(nb_py: Path) -> list[dict]:
    """The cells of a notebook as the book renders them (its paired .ipynb)."""
    import json
    return json.loads(nb_py.with_suffix(".ipynb").read_text())["cells"]


def _tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


HIDDEN = {"hide-input", "remove-input", "remove-cell"}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_plumbing_is_folded_and_parameters_shown(nb):
    """A reader sees prose and results first: every code cell that imports or defines a
    function is folded (hide-input), the parameters cell (papermill's) stays visible."""
    shown_plumbing = []
    params = []
    for k, c in enumerate(_cells(nb)):
        if c["cell_type"] != "code":
            continue
        src = "".join(c["source"])
        if "parameters" in _tags(c):
            params.append(k)
            assert not _tags(c) & HIDDEN, f"cell {k}: the parameters cell is hidden"
            continue
        if re.search(r"^\s*(import |from \S+ import |def |class )", src, re.M) \
                and not _tags(c) & HIDDEN:
            shown_plumbing.append((k, src.splitlines()[0]))
    assert len(params) == 1, f"{nb.stem}: {len(params)} parameters cells"
    assert not shown_plumbing, f"{nb.stem}: code cells shown with imports or helpers: {shown_plumbing}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_chapter_opens_with_its_answer(nb):
    """The first cell is the chapter's title, its question and a glued answer, before any
    code: the answer is computed, never typed."""
    first = _cells(nb)[0]
    text = "".join(first["source"])
    assert first["cell_type"] == "markdown" and text.startswith("# "), nb.stem
    assert "?" in text.split("\n\n", 2)[1] or "?" in text[:600], \
        f"{nb.stem}: the opening paragraph asks no question"
    assert re.search(r"\{glue:(md|text|figure)\}", text), \
        f"{nb.stem}: the first cell pastes no computed answer"
