"""Open every page of a built book in headless Chromium and fail on what a reader would
see broken.

    python tests/browser_check.py _build/html              # check the build
    python tests/browser_check.py --self-test _build/html  # prove the checks can fail
    python tests/browser_check.py --break _build/html DEST # write a deliberately broken copy
    python tests/browser_check.py --preflight              # Chromium and fonts installed?

Each page (every ``*.html`` under the folder) is loaded in a 1280-px-wide window and fails
the check when:

- it does not load (navigation error, no load event within the time limit), or a local
  file it uses or links to is missing;
- it shows error output: a notebook cell's traceback or stderr block, a docutils system
  message or problematic node, or the text "Traceback (most recent call last)";
- an ``<img>`` does not decode in the browser (naturalWidth 0 after loading), inline
  ``data:`` images of figures included;
- a glued value is missing. myst-nb renders a ``{glue:text}`` role whose key is missing as
  nothing at all (and only a build warning says so); with ``keep_warnings`` (set in
  ``_config.yml``) it leaves an ``aside.system-message`` "No key 'x' found in glue data".
  So the page's source (``_sources/``) is read and its ``{glue:text}`` roles counted
  against the ``span.pasted-text`` values in the page, system messages fail the page, and
  a pasted value that is empty or "nan" counts as missing;
- a table in the main text column is wider than the column (the reader would scroll
  sideways), or the whole page scrolls sideways;
- its first screen (the top 800 px, before any scrolling) reads like a paper's page: on a
  notebook's page no code but the parameters cell (imports and helpers are folded behind
  "show code") and at least 30 words of prose; on the book's first page (intro.html) the
  abstract's verdicts table (``table.verdicts``) whole.

Exit status 0 when every page passes, 1 when any fails (each problem is printed with its
page), 2 when Chromium cannot be started. The browser is driven with the Chrome DevTools
Protocol over a websocket (tornado's client: tornado is already installed with the
Jupyter kernel that executes the book). Only local files load (http and https requests are
blocked), so the result does not depend on the network. Not collected by pytest; ``make
test`` runs it after the smoke build of the book.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

WIDTH, HEIGHT = 1280, 900
FIRST_SCREEN = 800     # px: what a reader sees of a page before scrolling (1280 x 800)
FIRST_WORDS = 30       # a chapter's first screen shows at least this many words of prose
ROOT_PAGE = "intro.html"   # the book's first page: its first screen holds the verdicts
LOAD_TIMEOUT_S = 60.0
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--mute-audio",
                  f"--window-size={WIDTH},{HEIGHT}", "--remote-debugging-port=0")

# Runs in the page after its load event; returns what the reader would see broken.
PAGE_JS_TEMPLATE = r"""
(async () => {
  const FIRST_SCREEN = %(first)d;
  const problems = [];
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });   // lazy images off screen load now
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
    i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 15000);
  })));
  const short = s => s.length > 90 ? s.slice(0, 60) + '...' + s.slice(-20) : s;
  for (const i of imgs) {
    if (!i.complete || i.naturalWidth === 0)
      problems.push(['image', `image does not decode: ${short(i.getAttribute('src') || '')}`]);
  }
  const errSel = ['.output.traceback', '.output.stderr', '.output_error', '.output_stderr',
                  '.stderr', '.traceback', '.system-message', '.problematic'].join(',');
  for (const e of document.querySelectorAll(errSel)) {
    if (e.classList.contains('system-message')) {  // a build warning kept in the page
      const body = [...e.querySelectorAll('p:not(.system-message-title)')].map(p => p.innerText);
      problems.push(['error', `build warning shown in the page: ${body.join(' ').slice(0, 200)}`]);
      continue;
    }
    const text = (e.innerText || '').replace(/\s+/g, ' ').trim();
    problems.push(['error', `error output (class "${e.className}"): ${text.slice(0, 160)}`]);
  }
  const body = document.body ? document.body.innerText : '';
  if (body.includes('Traceback (most recent call last)') &&
      !document.querySelector(errSel))
    problems.push(['error', 'the page shows "Traceback (most recent call last)"']);
  const main = document.querySelector('article.bd-article') ||
               document.querySelector('main') || document.body;
  const pasted = [...main.querySelectorAll('span.pasted-text')];   // not the TOC's copies
  for (const p of pasted) {
    const t = p.textContent.trim();
    if (t === '' || /^[-+]?nan$/i.test(t)) {
      const before = ((p.previousSibling || {}).textContent || '').replace(/\s+/g, ' ');
      problems.push(['glue', `glued value is "${t}" after "...${before.slice(-70)}"`]);
    }
  }
  const box = main.getBoundingClientRect(), cs = getComputedStyle(main);
  const right = box.right - parseFloat(cs.paddingRight || '0') + 1;
  main.querySelectorAll('table').forEach((t, k) => {
    const r = t.getBoundingClientRect();
    if (r.width === 0) return;   // hidden (a closed dropdown)
    if (r.right > right || t.scrollWidth > t.clientWidth + 1) {
      const sec = t.closest('section'), h = sec && sec.querySelector('h1, h2, h3, h4');
      const head = h ? h.textContent.replace(/#$/, '').trim() : '';
      problems.push(['table', `table ${k + 1} (under "${head.slice(0, 60)}", ` +
        `${Math.round(Math.max(r.width, t.scrollWidth))} px) is wider than the text column ` +
        `(${Math.round(right - r.left)} px left of it at ${window.innerWidth} px)`]);
    }
  });
  const sw = document.scrollingElement.scrollWidth;
  if (sw > window.innerWidth + 1)
    problems.push(['table', `the page scrolls sideways (${sw} px wide in a ${window.innerWidth} px window)`]);
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href)
    .filter(h => h.startsWith('file:'));
  // The first screen (FIRST_SCREEN px from the top, before any scrolling): the code a
  // reader sees there (visible cell inputs; a folded one has no height), the words of
  // prose, and whether the abstract's verdicts table fits in it whole.
  window.scrollTo(0, 0);
  // Folded content (a closed <details>, as Jupyter Book's hide-input) is not seen.
  const seen = e => !e.closest('details:not([open])') && !e.closest('summary') &&
                    (!e.checkVisibility || e.checkVisibility());
  const onFirst = e => { const r = e.getBoundingClientRect();
                         return seen(e) && r.height > 0 && r.top < FIRST_SCREEN; };
  const code = [...main.querySelectorAll('div.cell_input')]
    .filter(onFirst)
    .map(e => ({parameters: !!e.closest('.tag_parameters'),
                text: (e.innerText || '').trim().split('\n')[0].slice(0, 80)}));
  const words = [...main.querySelectorAll('p')]
    .filter(e => !e.closest('div.cell_input, div.cell_output') && onFirst(e))
    .reduce((n, e) => n + (e.innerText || '').split(/\s+/).filter(Boolean).length, 0);
  const v = main.querySelector('table.verdicts');
  const vr = v && v.getBoundingClientRect();
  const verdicts = !v ? 'absent' : (vr.height > 0 && vr.bottom <= FIRST_SCREEN ? 'whole' :
                                    `bottom at ${Math.round(vr.bottom)} px`);
  return {problems, pasted: pasted.length, links, first: {code, words, verdicts}};
})()
"""
PAGE_JS = PAGE_JS_TEMPLATE.replace("%(first)d", str(FIRST_SCREEN))


#: The fonts the width check assumes (table widths depend on them): Liberation Sans
#: stands in for Arial in the theme's font stack, DejaVu is the fallback.
FONTS = ("Liberation Sans", "DejaVu Sans")
INSTALL_HINT = ("Debian/Ubuntu: apt-get install -y chromium fonts-liberation "
                "fonts-dejavu-core (or set $CHROMIUM to a Chromium or Chrome binary)")


def preflight() -> list[str]:
    """What the check needs and this machine lacks (Chromium, the fonts in ``FONTS``),
    each with the install command; [] when nothing is missing. Stdlib only, so that
    ``make test`` can ask before it builds anything."""
    missing = []
    try:
        exe = find_chromium()
        if not os.access(exe, os.X_OK):
            missing.append(f"$CHROMIUM={exe} is not an executable file")
    except FileNotFoundError:
        missing.append("no Chromium or Chrome on $PATH and no $CHROMIUM")
    fc = shutil.which("fc-list")
    if fc is None:
        missing.append("fc-list (fontconfig), to list the installed fonts")
    else:
        families = subprocess.run([fc, ":", "family"], capture_output=True, text=True).stdout
        have = {f.strip() for line in families.splitlines() for f in line.split(",")}
        missing += [f"the font {f!r}" for f in FONTS if f not in have]
    return missing


def find_chromium() -> str:
    """$CHROMIUM, else the first Chromium or Chrome on $PATH."""
    exe = os.environ.get("CHROMIUM") or next(
        (p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    if not exe:
        raise FileNotFoundError("no Chromium found: install it (Debian: apt-get install -y "
                                "chromium) or set $CHROMIUM to its path.")
    return exe


class DevTools:
    """One headless Chromium and a websocket to its first page (Chrome DevTools Protocol)."""

    def __init__(self, exe: str):
        self.exe = exe
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.events: list[dict] = []

    async def __aenter__(self):
        from tornado.websocket import websocket_connect

        self.profile = tempfile.mkdtemp(prefix="browser-check-")
        self.log = open(Path(self.profile) / "chromium.log", "wb")
        self.proc = subprocess.Popen([self.exe, *CHROMIUM_FLAGS,
                                      f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._stop()
                raise RuntimeError(f"Chromium ({self.exe}) did not start: "
                                   f"{self._log_tail()}")
            await asyncio.sleep(0.1)
        port = port_file.read_text().split()[0]
        pages = []
        for _ in range(100):
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                break
            await asyncio.sleep(0.1)
        if not pages:
            self._stop()
            raise RuntimeError("Chromium started but opened no page to drive.")
        self.ws = await websocket_connect(pages[0]["webSocketDebuggerUrl"],
                                          max_message_size=256 * 2**20)
        self.reader = asyncio.ensure_future(self._read())
        await self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                        deviceScaleFactor=1, mobile=False)
        for domain in ("Page", "Runtime", "Network"):
            await self.call(f"{domain}.enable")
        # The book as an offline reader sees it, and no page waits on an unreachable CDN
        # (the theme's MathJax and thebe): only local files load.
        await self.call("Network.setBlockedURLs", urls=["http://*", "https://*"])
        return self

    async def __aexit__(self, *exc):
        self.reader.cancel()
        self.ws.close()
        self._stop()

    def _stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _log_tail(self) -> str:
        self.log.flush()
        return (Path(self.profile) / "chromium.log").read_text(errors="replace")[-2000:]

    async def _read(self):
        while True:
            msg = await self.ws.read_message()
            if msg is None:
                for f in self.pending.values():
                    f.done() or f.set_exception(RuntimeError("Chromium closed the connection"))
                return
            data = json.loads(msg)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def call(self, method: str, timeout: float = LOAD_TIMEOUT_S, **params) -> dict:
        i = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.pending[i] = fut
        await self.ws.write_message(json.dumps({"id": i, "method": method, "params": params}))
        data = await asyncio.wait_for(fut, timeout)
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error'].get('message')}")
        return data["result"]

    async def wait_for(self, method: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e["method"] == method for e in self.events):
                return True
            await asyncio.sleep(0.05)
        return False


def glue_roles_in_source(html_root: Path, page: Path) -> int | None:
    """How many {glue:text} roles the page's source has in its prose (markdown cells of a
    notebook, a Markdown file outside code fences); None when the source is not there."""
    rel = page.relative_to(html_root).with_suffix("")
    for ext in (".ipynb", ".md"):
        src = html_root / "_sources" / (str(rel) + ext)
        if src.exists():
            break
    else:
        return None
    if ext == ".ipynb":
        cells = json.loads(src.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = re.sub(r"^(```|~~~).*?^\1", "", src.read_text(encoding="utf-8"),
                      flags=re.S | re.M)
    return len(re.findall(r"\{glue:text\}`[^`]+`", text))


def first_screen_problems(html_root: Path, page: Path, first: dict) -> list[str]:
    """What a chapter's first screen must show: on a notebook's page, prose and no code
    but the parameters cell (papermill's, which stays visible); on the book's first page,
    the abstract's verdicts table whole."""
    probs = []
    rel = page.relative_to(html_root).with_suffix("")
    if (html_root / "_sources" / (str(rel) + ".ipynb")).exists():
        shown = [c["text"] for c in first["code"] if not c["parameters"]]
        if shown:
            probs.append(f"the first screen ({FIRST_SCREEN} px) shows code: {shown[0]!r}")
        if first["words"] < FIRST_WORDS:
            probs.append(f"the first screen ({FIRST_SCREEN} px) shows {first['words']} words "
                         f"of text, fewer than {FIRST_WORDS}")
    if str(page.relative_to(html_root)) == ROOT_PAGE and first["verdicts"] != "whole":
        probs.append(f"the verdicts table is not on the first screen ({FIRST_SCREEN} px): "
                     f"{first['verdicts']}")
    return probs


REDIRECT = re.compile(r'<meta http-equiv="refresh" content="\d+;\s*url=([^"]+)"', re.I)


async def check_pages(html_root: Path, pages: list[Path], exe: str
                      ) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """({page (relative path): [problem, ...]}, {JavaScript error: {page, ...}}) for every
    page, problems as plain sentences. JavaScript errors are the theme's business (Jupyter
    Book 1 declares sphinx-thebe's THEBE_JS_URL twice on every page) and fail nothing."""
    report: dict[str, list[str]] = {}
    js_errors: dict[str, set[str]] = {}
    async with DevTools(exe) as b:
        for page in pages:
            name = str(page.relative_to(html_root))
            probs = report.setdefault(name, [])
            redirect = REDIRECT.search(page.read_text(encoding="utf-8", errors="replace"))
            if redirect:  # index.html: a bare redirect to the first chapter
                target = page.parent / urllib.parse.unquote(redirect.group(1).split("#")[0])
                if not target.exists():
                    probs.append(f"redirects to a missing page: {redirect.group(1)}")
                continue
            b.events.clear()
            try:
                nav = await b.call("Page.navigate", url=page.resolve().as_uri())
            except (RuntimeError, asyncio.TimeoutError) as e:
                probs.append(f"does not load: {e}")
                continue
            if nav.get("errorText"):
                probs.append(f"does not load: {nav['errorText']}")
                continue
            if not await b.wait_for("Page.loadEventFired", LOAD_TIMEOUT_S):
                probs.append(f"does not finish loading in {LOAD_TIMEOUT_S:.0f} s")
                continue
            res = await b.call("Runtime.evaluate", expression=PAGE_JS, awaitPromise=True,
                               returnByValue=True)
            if "exceptionDetails" in res:
                probs.append(f"the check could not run: {res['exceptionDetails'].get('text')}")
                continue
            out = res["result"]["value"]
            probs += [p for _, p in out["problems"]]
            requested = {e["params"]["requestId"]: e["params"]["request"]["url"]
                         for e in b.events if e["method"] == "Network.requestWillBeSent"}
            for e in b.events:
                url = requested.get(e["params"].get("requestId"), "")
                if e["method"] == "Network.loadingFailed" and url.startswith("file:"):
                    probs.append(f"a file it uses is missing: {_local(url, html_root)}")
                if e["method"] == "Runtime.exceptionThrown":
                    d = e["params"]["exceptionDetails"]
                    text = d.get("exception", {}).get("description") or d.get("text", "")
                    js_errors.setdefault(text.splitlines()[0][:160], set()).add(name)
            targets = {urllib.parse.unquote(urllib.parse.urlsplit(h).path) for h in out["links"]}
            for target in sorted(targets):
                if not Path(target).exists():
                    probs.append(f"links to a missing file: {_local(target, html_root)}")
            probs += first_screen_problems(html_root, page, out["first"])
            want = glue_roles_in_source(html_root, page)
            if want is not None and out["pasted"] < want:
                probs.append(f"glued value missing: the source has {want} {{glue:text}} "
                             f"roles, the page shows {out['pasted']} values")
    return report, js_errors


def _local(url: str, root: Path) -> str:
    """A file: URL or a path as a path relative to the build folder."""
    path = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)


def html_pages(root: Path) -> list[Path]:
    """Every page of the build: *.html outside Sphinx's own folders (_static, _sources...)."""
    return sorted(p for p in root.rglob("*.html")
                  if not any(part.startswith("_") for part in p.relative_to(root).parts[:-1]))


def run_check(root: Path, pages: list[Path] | None = None
              ) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """Check the pages (default: every page under root); see check_pages."""
    pages = html_pages(root) if pages is None else pages
    if not pages:
        raise FileNotFoundError(f"no HTML pages under {root}: build the book first.")
    return asyncio.run(check_pages(root, pages, find_chromium()))


def print_report(report: dict[str, list[str]], js_errors: dict[str, set[str]]) -> int:
    """Print each problem with its page; 1 if any page failed, else 0."""
    for text, where in js_errors.items():
        print(f"note: JavaScript error on {len(where)} page(s), not counted: {text}")
    bad = {p: v for p, v in report.items() if v}
    for page, probs in bad.items():
        for p in probs:
            print(f"FAIL {page}: {p}")
    print(f"browser check: {len(report) - len(bad)} of {len(report)} pages pass"
          f" ({WIDTH} px wide, headless Chromium)")
    return 1 if bad else 0


# ----------------------------------------------------------------------- broken copy
BROKEN_PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAf"  # truncated
TRACEBACK = ('<div class="cell_output docutils container"><div class="output traceback '
             'highlight-ipythontb notranslate"><div class="highlight"><pre>'
             'Traceback (most recent call last):\n  File "&lt;cell&gt;", line 1\n'
             'ValueError: injected by browser_check --break</pre></div></div></div>')
WIDE_TABLE = ('<table style="white-space: nowrap"><tr>' + "".join(f"<th>method number {k}</th>" for k in range(20))
              + "</tr><tr>" + "".join("<td>26.71 [26.30, 27.12]</td>" for _ in range(20))
              + "</tr></table>")
MISSING_GLUE = ('<aside class="system-message"><p class="system-message-title">System Message:'
                ' WARNING/2</p><p>No key \u2018t3_gone\u2019 found in glue data for this '
                'document.</p></aside>')

CODE_CELL = ('<div class="cell docutils container"><div class="cell_input docutils container">'
             '<div class="highlight-ipython3 notranslate"><div class="highlight"><pre>'
             'import numpy as np  # injected by browser_check --break</pre></div></div></div></div>')


ARTICLE = '<article class="bd-article">'


def _inject(page: Path, snippet: str) -> None:
    """Put snippet after the page's title in the text column."""
    html = page.read_text(encoding="utf-8")
    at = html.index("</h1>", html.index(ARTICLE)) + len("</h1>")
    page.write_text(html[:at] + snippet + html[at:], encoding="utf-8")


def break_copy(src: Path, dest: Path) -> dict[str, list[tuple[str, str]]]:
    """Copy the build to dest and break one page per kind of problem; returns
    {page: [(what was injected, text the check must report for that page), ...]}."""
    if dest.exists():
        raise FileExistsError(f"{dest} exists; give a new folder for the broken copy.")
    shutil.copytree(src, dest)
    pages = [p for p in html_pages(dest) if p.name not in ("genindex.html", "search.html")]
    text = {p: p.read_text(encoding="utf-8") for p in pages}
    article = {p: t[t.index(ARTICLE):] for p, t in text.items() if ARTICLE in t}
    with_glue = [p for p, t in article.items() if t.count('class="pasted-text"') >= 2]
    with_h1 = [p for p, t in article.items() if "</h1>" in t]
    if not with_glue or len(with_h1) < 3:
        raise ValueError(f"{src} has too few pages with titles and glued values to break.")
    glue_page = with_glue[0]
    others = [p for p in with_h1 if p != glue_page]
    tb_page, img_page = others[0], others[1]
    table_page = others[2] if len(others) > 2 else others[0]
    # A chapter that is gone: every page's navigation still links to it.
    gone = next(p for p in reversed(others) if p not in (tb_page, img_page, table_page)
                and p.name != ROOT_PAGE)
    gone.unlink()
    _inject(tb_page, TRACEBACK)
    _inject(img_page, f'<p><img alt="gone" src="_images/no-such-figure.png">'
                      f'<img alt="corrupt" src="{BROKEN_PNG}"></p>')
    _inject(table_page, WIDE_TABLE)
    # A missing key as myst-nb leaves it: the value gone (no trace without keep_warnings)
    # on one role, a system message in place of another.
    html = glue_page.read_text(encoding="utf-8")
    head, body = html[:html.index(ARTICLE)], html[html.index(ARTICLE):]
    body = re.sub(r'<span class="pasted-text">[^<]*</span>', "", body, count=1)
    body = re.sub(r'<span class="pasted-text">[^<]*</span>', MISSING_GLUE, body, count=1)
    glue_page.write_text(head + body, encoding="utf-8")
    # Code on a chapter's first screen, and the verdicts gone from the book's first page.
    notebook_pages = [p for p in others if p not in (tb_page, img_page, table_page, gone)
                      and (dest / "_sources" / (str(p.relative_to(dest).with_suffix("")) + ".ipynb")).exists()]
    root = dest / ROOT_PAGE
    if not notebook_pages or not root.exists():
        raise ValueError(f"{src} has no notebook page left to break, or no {ROOT_PAGE}.")
    code_page = notebook_pages[0]
    _inject(code_page, CODE_CELL)
    html = root.read_text(encoding="utf-8")
    root.write_text(html.replace('class="dataframe verdicts"', 'class="dataframe"'),
                    encoding="utf-8")
    rel = lambda p: str(p.relative_to(dest))
    injected: dict[str, list[tuple[str, str]]] = {}
    for page, kind, expected in [
            (tb_page, "a traceback", "Traceback (most recent call last)"),
            (img_page, "a missing image", "image does not decode: _images/no-such-figure.png"),
            (img_page, "a corrupt inline image", "image does not decode: data:image/png"),
            (table_page, "a wide table", "wider than the text column"),
            (glue_page, "a glued value gone", "glued value missing"),
            (glue_page, "a missing glue key's warning", "No key \u2018t3_gone\u2019 found in glue data"),
            (tb_page, f"a link to the deleted {rel(gone)}", f"links to a missing file: {rel(gone)}"),
            (code_page, "code on the first screen", f"the first screen ({FIRST_SCREEN} px) shows code"),
            (root, "the verdicts table removed", "the verdicts table is not on the first screen")]:
        injected.setdefault(rel(page), []).append((kind, expected))
    return injected


def self_test(src: Path) -> int:
    """Break a copy of the build and check that every injected problem is reported."""
    with tempfile.TemporaryDirectory(prefix="browser-check-broken-") as tmp:
        dest = Path(tmp) / "html"
        injected = break_copy(src, dest)
        report, js_errors = run_check(dest, [dest / p for p in injected])
        status = print_report(report, js_errors)
        missed = [f"{page}: {kind}" for page, kinds in injected.items()
                  for kind, expected in kinds if not any(expected in p for p in report[page])]
    if status == 0 or missed:
        print("self-test FAILED: the check did not report " + "; ".join(missed or ["anything"]))
        return 1
    print(f"self-test passed: all {sum(map(len, injected.values()))} injected problems "
          "were reported, each with its page")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", type=Path, nargs="?", help="the built book, e.g. _build/html")
    ap.add_argument("dest", type=Path, nargs="?", help="with --break: the broken copy")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--self-test", action="store_true",
                      help="break a temporary copy and check that every problem is reported")
    mode.add_argument("--break", dest="break_", action="store_true",
                      help="write a deliberately broken copy of the build to DEST")
    mode.add_argument("--preflight", action="store_true",
                      help="only check that Chromium and the fonts are installed")
    a = ap.parse_args(argv)
    if a.preflight:
        missing = preflight()
        for m in missing:
            print(f"browser check needs {m}", file=sys.stderr)
        if missing:
            print(f"install: {INSTALL_HINT}", file=sys.stderr)
            return 2
        print(f"browser check: Chromium ({find_chromium()}) and the fonts "
              f"{', '.join(FONTS)} are installed")
        return 0
    if a.html is None:
        ap.error("the built book's folder is needed, e.g. _build/html.")
    if not a.html.is_dir():
        ap.error(f"{a.html} is not a folder: build the book first (make smoke-book).")
    try:
        if a.break_:
            if a.dest is None:
                ap.error("--break needs DEST, the folder for the broken copy.")
            for page, kinds in break_copy(a.html, a.dest).items():
                print(f"{page}: injected {', '.join(k for k, _ in kinds)}")
            return 0
        if a.self_test:
            return self_test(a.html)
        return print_report(*run_check(a.html))
    except (FileNotFoundError, RuntimeError) as e:
        print(f"browser check could not run: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
