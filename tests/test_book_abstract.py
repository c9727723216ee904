"""The book's first page pastes its abstract from the claims chapter: change a verdict
there and the intro changes with it (a real Jupyter Book build of the real intro.md)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lvrlib import paper
from lvrlib.profiles import get_profile

pytest.importorskip("jupyter_book")
pytest.importorskip("myst_nb")

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """title: abstract test
only_build_toc_files: true
execute:
  execute_notebooks: force
  allow_errors: false
bibtex_bibfiles: [references.bib]
sphinx:
  config:
    bibtex_reference_style: author_year
    keep_warnings: true
"""
TOC = "format: jb-book\nroot: intro\nchapters:\n- file: notebooks/claims\n"
# The claims chapter's glue call on a table read from a file: the same function and keys
# as notebooks/claims.py, on claims the test controls.
CELL = """import pandas as pd
from lvrlib.paper import glue_abstract
from lvrlib.profiles import get_profile
glue_abstract(pd.read_json("table.json"), get_profile("smoke"), "cpu")
"""


def _table(t1_verdict: str) -> pd.DataFrame:
    rows = []
    for short, verdicts in [("T1: stochastic clipping > projected gradient", (t1_verdict, "does not hold")),
                            ("T3: LVR > BM3D, real faces, high noise", ("mixed", "holds"))]:
        for regime, v in zip(("paper", "convergence"), verdicts):
            rows.append({"claim": short + " (long text)", "short": short, "regime": regime,
                         "verdict": v, "effect (dB)": 0.5 if v == "holds" else -0.25,
                         "95% CI low": 0.25 if v == "holds" else -0.5, "95% CI high": 0.75})
    return pd.DataFrame(rows)


def _build(folder: Path, table: pd.DataFrame) -> str:
    (folder / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "book" / "intro.md", folder / "intro.md")
    shutil.copy(ROOT / "book" / "references.bib", folder / "references.bib")
    (folder / "_config.yml").write_text(CONFIG)
    (folder / "_toc.yml").write_text(TOC)
    table.to_json(folder / "notebooks" / "table.json")
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Claims\n"]},
                    {"cell_type": "code", "metadata": {}, "execution_count": None,
                     "outputs": [], "source": CELL.splitlines(keepends=True)}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (folder / "notebooks" / "claims.ipynb").write_text(json.dumps(nb))
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "jupyter_book.cli.main"]
    done = subprocess.run([*cmd, "build", str(folder)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return (folder / "_build" / "html" / "intro.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_intro_abstract_follows_the_claims_chapter(tmp_path):
    before = _build(tmp_path / "a", _table("holds"))
    after = _build(tmp_path / "b", _table("does not hold"))
    assert 'class="dataframe verdicts"' in before and "No key" not in before
    # The setting and the counts sentence are pasted too, from the same computation.
    assert paper.abstract_setting(get_profile("smoke"), "cpu") in before
    assert "In the paper&#39;s regime 1 of 2 claims hold" in before \
        or "In the paper's regime 1 of 2 claims hold" in before

    def t1_row(html: str) -> str:
        start = html.index("T1: stochastic clipping &gt; projected gradient")
        return html[start:html.index("</tr>", start)]

    assert "holds" in t1_row(before) and "does not hold" not in t1_row(before).split("</td>")[0]
    assert t1_row(after).split("</td>")[0].count("does not hold") == 1
    assert "0 of 2 claims hold" in after
    # The other row is the same in both builds.
    other = lambda h: h[h.index("T3: LVR &gt; BM3D"):h.index("</tr>", h.index("T3: LVR &gt; BM3D"))]  # noqa: E731
    assert other(before) == other(after)
