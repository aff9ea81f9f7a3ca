"""Every third-party package the code imports is declared in pyproject.toml.

A package that only arrives with another one (urllib3 with requests, huggingface_hub with
transformers) works until that one drops it; a direct import is a direct dependency.
Every ``import`` statement counts, including those inside functions and ``try`` blocks
(an optional accelerator is declared as an extra).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The code users install or run from a checkout; tests/ may use the ``dev`` extra too.
PACKAGES = ("genen_core", "ingest", "genen_scale", "cluster", "benchmarks")
FIRST_PARTY = set(PACKAGES) | {"tests"}
# Extras each package may import from besides the dependencies (``dev`` is for tests
# and linting only; ``bench`` holds the reference implementations benchmarks time ours
# against).
EXTRAS = {"benchmarks": ("pyg", "bench")}
DEFAULT_EXTRAS = ("pyg",)


def _normal(name: str) -> str:
    """PEP 503 form of a distribution name (``PyYAML`` -> ``pyyaml``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(extras: tuple[str, ...] = DEFAULT_EXTRAS) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    return {_normal(re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0]) for r in reqs}


def imported_top_levels(package: str) -> dict[str, str]:
    """Top-level module name -> the first ``path:line`` that imports it (absolute imports),
    less the modules beside the importing file (benchmark scripts import their siblings by
    plain name: Python puts a script's folder on the path)."""
    out: dict[str, str] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        siblings = {p.stem for p in path.parent.glob("*.py")}
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in (n for n in names if n.split(".")[0] not in siblings):
                out.setdefault(name.split(".")[0], f"{path.relative_to(ROOT)}:{node.lineno}")
    return out


def undeclared(package: str, declared_names: set[str]) -> list[str]:
    """``path:line: name`` for each third-party import no declared distribution provides."""
    dists = packages_distributions()
    bad = []
    for name, where in imported_top_levels(package).items():
        if name in sys.stdlib_module_names or name in FIRST_PARTY or name == "__future__":
            continue
        # Not installed here (an optional extra): the module name must then be declared.
        provided_by = {_normal(d) for d in dists.get(name, [name])}
        if not provided_by & declared_names:
            bad.append(f"{where}: {name} (from {sorted(provided_by)})")
    return bad


def test_every_third_party_import_is_declared():
    bad = [
        line
        for package in PACKAGES
        for line in undeclared(package, declared(EXTRAS.get(package, DEFAULT_EXTRAS)))
    ]
    assert not bad, "imported but not declared in pyproject.toml:\n" + "\n".join(bad)


def test_the_check_sees_an_undeclared_import():
    # urllib3 is declared for a direct import in ingest/download.py; without it there, the
    # check must name that import.
    assert "urllib3" in declared()
    bad = undeclared("ingest", declared() - {"urllib3"})
    assert any(line.endswith("urllib3 (from ['urllib3'])") for line in bad), bad
