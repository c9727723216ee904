"""Compare the numbers two builds of the book show: every glued value and every table.

    python tests/compare_builds.py OLD_BUILD NEW_BUILD [--ignore REGEX]

OLD_BUILD and NEW_BUILD are ``_build`` folders of ``jupyter-book build book/``; the
executed notebooks are read from their ``jupyter_execute/`` folders. For each notebook it
lists the glued values (``myst_nb.glue``, by name, with their full Markdown or HTML) and
the tables (each DataFrame output's HTML, by its place among the notebook's outputs) that
differ. Values whose name
matches ``--ignore`` (default: run times, which differ from run to run) are skipped.
Exit status 0 when nothing else differs, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

GLUE_MIME = "application/papermill.record/text/plain"
DEFAULT_IGNORE = r"sec|seconds|minutes|_time|speed"


def _payload(data: dict) -> str:
    """The text of a glued value or output: its Markdown or HTML when it has one (a glued
    paragraph, a table), else its plain text."""
    for mime in ("text/markdown", "text/html", GLUE_MIME, "text/plain"):
        if mime in data:
            v = data[mime]
            return "".join(v) if isinstance(v, list) else str(v)
    return ""


def shown_values(notebook: Path) -> tuple[dict[str, str], list[str]]:
    """({glue name: its text}, [HTML of each table output, in order]) of one executed
    notebook. Glued values are read from the cell outputs and from the ``<name>.glue.json``
    file beside the notebook, where myst-nb keeps them."""
    nb = json.loads(notebook.read_text())
    glued, tables = {}, []
    store = notebook.with_suffix(".glue.json")
    if store.exists():
        glued.update({k: _payload(v.get("data", {}))
                      for k, v in json.loads(store.read_text()).items()})
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                glued[name] = _payload(data)
            elif "text/html" in data and "<table" in "".join(data["text/html"]):
                tables.append("".join(data["text/html"]))
    return glued, tables


def compare(old: Path, new: Path, ignore: str) -> list[str]:
    """One line per difference between the two builds (empty when they agree)."""
    lines = []
    pat = re.compile(ignore) if ignore else None
    old_nbs = {p.relative_to(old): p for p in old.glob("jupyter_execute/**/*.ipynb")}
    new_nbs = {p.relative_to(new): p for p in new.glob("jupyter_execute/**/*.ipynb")}
    for rel in sorted(set(old_nbs) | set(new_nbs)):
        if rel not in old_nbs or rel not in new_nbs:
            lines.append(f"{rel}: only in {'new' if rel in new_nbs else 'old'} build")
            continue
        (g0, t0), (g1, t1) = shown_values(old_nbs[rel]), shown_values(new_nbs[rel])
        for name in sorted(set(g0) | set(g1)):
            if pat is not None and pat.search(name):
                continue
            if g0.get(name) != g1.get(name):
                lines.append(f"{rel}: glue {name}: {g0.get(name)!r} -> {g1.get(name)!r}")
        if len(t0) != len(t1):
            lines.append(f"{rel}: {len(t0)} tables -> {len(t1)}")
        for i, (a, b) in enumerate(zip(t0, t1)):
            if a != b:
                diff = [f"    - {x.strip()}\n    + {y.strip()}"
                        for x, y in zip(a.splitlines(), b.splitlines()) if x != y]
                lines.append(f"{rel}: table {i} differs in {len(diff)} lines:\n"
                             + "\n".join(diff[:12]))
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--ignore", default=DEFAULT_IGNORE,
                   help=f"regex of glue names to skip (default: {DEFAULT_IGNORE!r})")
    a = p.parse_args(argv)
    for b in (a.old, a.new):
        if not (b / "jupyter_execute").is_dir():
            p.error(f"{b} has no jupyter_execute/ folder: is it a built book's _build?")
    lines = compare(a.old, a.new, a.ignore)
    print("\n".join(lines) if lines else "the two builds show the same values")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
