"""The build survives interruption and company: processes killed with SIGKILL while they
write cached results leave no damaged entry, two processes filling the same entries at
once both get whole results, and `make book` killed during a notebook (or with a page half
written) gives the same book when run again."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# A cached computation with an entry large enough (16 MB) that a kill often lands inside
# a write; the value of entry k is known, so any mixed or half-written entry shows.
WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from lvrlib.cache import cached

    @cached("interrupt")
    def entry(*, k):
        time.sleep(float(sys.argv[2]))
        return {"x": np.full(2_000_000, float(k)), "k": k, "tag": "entry %d" % k}

    for k in range(int(sys.argv[1])):
        out = entry(k=k)
        assert out["x"].shape == (2_000_000,) and (out["x"] == k).all() and out["k"] == k
        print(k, flush=True)
""")


def _run_writer(results: Path, n: int, sleep: float, **kw) -> subprocess.Popen:
    env = {**os.environ, "LVRLIB_RESULTS": str(results)}
    env.pop("LVRLIB_NO_CACHE", None)
    return subprocess.Popen([sys.executable, "-c", WRITER, str(n), str(sleep)], env=env,
                            stdout=subprocess.PIPE, text=True, **kw)


def _check_entries(results: Path) -> int:
    """Every entry the cache would serve is whole and right; returns how many there are."""
    from lvrlib.cache import _load

    folder = results / "interrupt"
    served = 0
    for st in sorted(folder.glob("*.safetensors")):
        got = _load(st)
        if got is None:       # arrays without their JSON: not complete, recomputed on use
            assert not st.with_suffix(".json").exists(), \
                f"{st.name}: its JSON marks it complete but it does not load"
            continue
        k = got["k"]
        assert got["tag"] == f"entry {k}" and got["x"].shape == (2_000_000,)
        assert np.all(got["x"] == k), f"entry {k} holds another entry's arrays"
        assert json.loads(st.with_suffix(".json").read_text())["params"] == {"k": k}
        served += 1
    return served


@pytest.mark.slow
def test_sigkill_during_cache_writes_leaves_no_damaged_entry(tmp_path):
    results = tmp_path / "results"
    rng = np.random.default_rng(0)
    for attempt in range(4):
        p = _run_writer(results, 1000, 0.0)
        # Let it write at least one entry, then kill it at a random moment of the next.
        assert p.stdout.readline().strip() != ""
        time.sleep(float(rng.uniform(0.0, 0.15)))
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert p.returncode == -signal.SIGKILL
        _check_entries(results)
    written = _check_entries(results)
    assert written >= 1
    # Run to the end: the entries served from the cache and the ones recomputed agree.
    p = _run_writer(results, written + 2, 0.0)
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0 and out.split()[-1] == str(written + 1)
    assert _check_entries(results) == written + 2


@pytest.mark.slow
def test_two_processes_fill_the_same_entries_at_once(tmp_path):
    results = tmp_path / "results"
    a = _run_writer(results, 6, 0.2)
    b = _run_writer(results, 6, 0.2)
    for p in (a, b):
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out        # each checked every result it got
    assert _check_entries(results) == 6


# --------------------------------------------------------------------------- make book
CONFIG = "title: interrupt test\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: force\n"
TOC = "format: jb-book\nroot: intro\nchapters:\n- file: chapter\n"
CELL = """import os, time
from myst_nb import glue
open(os.environ["LVRLIB_TEST_FLAG"], "w").close()
time.sleep(float(os.environ.get("LVRLIB_TEST_SLEEP", "0")))
glue("answer", 6 * 7, display=False)
"""


def _mini_book(folder: Path) -> Path:
    book = folder / "book"
    book.mkdir(parents=True)
    (book / "_config.yml").write_text(CONFIG)
    (book / "_toc.yml").write_text(TOC)
    (book / "intro.md").write_text("# Intro\n\nA page.\n")
    nb = {"cells": [{"cell_type": "markdown", "metadata": {},
                     "source": ["# Chapter\n\nThe answer is {glue:text}`answer`.\n"]},
                    {"cell_type": "code", "metadata": {}, "execution_count": None,
                     "outputs": [], "source": CELL.splitlines(keepends=True)}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (book / "chapter.ipynb").write_text(json.dumps(nb))
    return book


def _make_book(book: Path, flag: Path, sleep: float = 0.0, **kw):
    venv = Path(sys.executable).parent.parent
    cmd = ["make", "-C", str(ROOT), "-o", f"{venv}/.installed", "book", f"VENV={venv}",
           f"BOOK={book}", f"BUILD={book / '_build'}"]
    env = {**os.environ, "LVRLIB_TEST_FLAG": str(flag), "LVRLIB_TEST_SLEEP": str(sleep)}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, **kw)


def _page(book: Path) -> str:
    html = (book / "_build" / "html" / "chapter.html").read_text(encoding="utf-8")
    return html[html.index('<article class="bd-article">'):html.index("</article>")]


@pytest.mark.slow
def test_make_book_killed_during_a_notebook_gives_the_same_book_again(tmp_path):
    if not (Path(sys.executable).with_name("jupyter-book").exists()):
        pytest.skip("jupyter-book is not installed next to this Python")
    clean = _mini_book(tmp_path / "clean")
    p = _make_book(clean, tmp_path / "flag0")
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0, out[-3000:]
    want = _page(clean)
    assert "The answer is" in want and "42" in want

    book = _mini_book(tmp_path / "killed")
    flag = tmp_path / "flag1"
    p = _make_book(book, flag, sleep=120)
    deadline = time.monotonic() + 300
    while not flag.exists():               # the notebook is executing
        assert p.poll() is None and time.monotonic() < deadline, p.stdout.read()[-3000:]
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert (book / "_build").exists() and not (book / "_build" / ".complete").exists()
    p = _make_book(book, flag)
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0, out[-3000:]
    assert "did not finish: building every page again" in out
    assert _page(book) == want

    # Killed while Sphinx wrote the pages: a half-written page that looks newer than its
    # source would survive an ordinary rebuild.
    page = book / "_build" / "html" / "chapter.html"
    page.write_text(page.read_text(encoding="utf-8")[:2000], encoding="utf-8")
    (book / "_build" / ".complete").unlink()
    p = _make_book(book, flag)
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0, out[-3000:]
    assert _page(book) == want
