"""make test asks for what the browser check needs (Chromium, the fonts its width check
assumes) before any work, and names the install command."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import browser_check as bc

HERE = Path(__file__).resolve().parent


def _tool(folder: Path, name: str, body: str) -> Path:
    p = folder / name
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return p


def test_preflight_names_what_is_missing(tmp_path, monkeypatch):
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    _tool(bin_, "fc-list", "echo 'DejaVu Sans,DejaVu Sans Condensed'; echo 'Noto Serif'")
    monkeypatch.setenv("PATH", str(bin_))
    monkeypatch.delenv("CHROMIUM", raising=False)
    missing = bc.preflight()
    assert missing == ["no Chromium or Chrome on $PATH and no $CHROMIUM",
                       "the font 'Liberation Sans'"]
    _tool(bin_, "chromium", "exit 0")
    _tool(bin_, "fc-list", "echo 'Liberation Sans'; echo 'DejaVu Sans:style=Book'")
    # fc-list ': family' prints families only; a style suffix would not match
    assert bc.preflight() == ["the font 'DejaVu Sans'"]
    _tool(bin_, "fc-list", "echo 'Liberation Sans'; echo 'DejaVu Sans'")
    assert bc.preflight() == []


def test_preflight_exits_2_with_the_install_command(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path), "CHROMIUM": ""}
    done = subprocess.run([sys.executable, str(HERE / "browser_check.py"), "--preflight"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert "apt-get install -y chromium fonts-liberation fonts-dejavu-core" in done.stderr
    assert "fc-list" in done.stderr
