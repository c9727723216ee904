"""Print a constraints file (``constraints.txt``) pinning every package installed in the
running environment: what `make lock` writes after installing lvrlib's loose ranges into
a fresh virtual environment.

    .lock-venv/bin/python tests/lock.py > constraints.txt

lvrlib itself and editable installs are left out, and so are local build labels
(``torch==2.13.0+cpu`` becomes ``torch==2.13.0``, which 2.13.0+cpu and PyPI's build
both satisfy). A constraints file only bounds the versions of what gets installed, so
packages another platform does not need are not forced on it.
"""
from __future__ import annotations

import platform
import re
import subprocess
import sys

HEADER = """\
# The versions that built the book and its recorded numbers: every package of the
# book's environment (pip install -c constraints.txt -e ".[book,test]"), made on
# Python {python}, {system} {machine}. `make book` and `make test` install with it;
# `make lock` regenerates it from the loose ranges in pyproject.toml (newest versions that
# fit them), `make book CONSTRAINTS=` ignores it. Local build labels (torch's +cpu) are
# left out: torch==2.13.0 accepts 2.13.0+cpu.
"""


def pins(freeze: str) -> list[str]:
    """The ``name==version`` lines of ``pip freeze --all`` output, without lvrlib, editable
    or direct-URL installs and local version labels."""
    out = []
    for line in freeze.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-e ")) or "==" not in line or " @ " in line:
            continue
        if line.lower().startswith("lvrlib=="):
            continue
        out.append(re.sub(r"\+[A-Za-z0-9.]+$", "", line))
    return sorted(out, key=str.lower)


def main() -> int:
    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"],
                            capture_output=True, text=True, check=True).stdout
    sys.stdout.write(HEADER.format(python=platform.python_version(), system=platform.system(),
                                   machine=platform.machine()))
    sys.stdout.write("\n".join(pins(freeze)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
