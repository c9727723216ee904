"""The pinned environment: constraints.txt pins every dependency at a version inside
pyproject.toml's ranges, the README names the same versions, and tests/lock.py writes
the file's format."""
from __future__ import annotations

import re
import pytest
from pathlib import Path

from packaging.requirements import Requirement

import lock

tomllib = pytest.importorskip("tomllib")   # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pairs = [l.split("==") for l in lines if l and not l.startswith("#")]
    assert all(len(p) == 2 for p in pairs), "every line of constraints.txt is name==version"
    return {Requirement(n).name.lower().replace("_", "-"): v for n, v in pairs}


def test_constraints_pin_every_dependency_inside_its_range():
    pins = _pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *project["optional-dependencies"]["book"],
            *project["optional-dependencies"]["test"]]
    for text in reqs:
        r = Requirement(text)
        name = r.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert r.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject's {r.specifier}"
    assert not any(n.startswith("nvidia-") for n in pins)   # the CPU build's environment


def test_readme_names_the_pinned_versions():
    text = (ROOT / "README.md").read_text()
    named = re.search(r"the main ones: ([^)]+)\)", text).group(1)
    pins = _pins()
    pairs = re.findall(r"([A-Za-z][\w.-]*) (\d[\w.]*)", named)
    assert len(pairs) >= 8
    for name, version in pairs:
        assert pins[name.lower()] == version, f"README says {name} {version}, " \
                                              f"constraints.txt {pins[name.lower()]}"


def test_lock_pins_leave_out_lvrlib_editables_and_local_labels():
    freeze = ("# Editable Git install with no remote (lvrlib==0.1.0)\n-e /work/main\n"
              "torch==2.13.0+cpu\nNumPy==2.4.6\nlvrlib==0.1.0\n"
              "foo @ file:///tmp/foo.whl\npip==26.3\n")
    assert lock.pins(freeze) == ["NumPy==2.4.6", "pip==26.3", "torch==2.13.0"]


def test_citation_names_the_repository_version_and_the_paper():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert cff["cff-version"] == "1.2.0" and cff["version"] == project["version"]
    assert cff["license"] == project["license"]
    [paper] = cff["references"]
    assert paper["identifiers"][0]["value"] == "arXiv:1803.04477"
    assert [a["family-names"] for a in paper["authors"]] == ["Tripathi", "Lipton", "Nguyen"]


def test_environment_table_compares_installed_and_pinned(tmp_path):
    from lvrlib.reproducibility import environment_table
    pins = tmp_path / "c.txt"
    pins.write_text("# header\nnumpy==0.0.1\ntorch==%s\n" % __import__("torch").__version__.split("+")[0])
    t = environment_table(("numpy", "torch", "no-such-package"), pins)
    assert not t.loc["numpy", "same"] and t.loc["numpy", "constraints.txt"] == "0.0.1"
    assert t.loc["torch", "same"]                      # 2.13.0+cpu is 2.13.0
    assert t.loc["no-such-package", "installed"] == "not installed"
    assert t.loc["no-such-package", "constraints.txt"] == "not pinned"
