"""Imports run one way, with the data: no library module imports a later stage.

Stages, in data-flow order: ``genen_core`` (the store format, config, provenance, the
label-file format) < ``ingest`` < ``genen_scale`` < ``cluster`` / ``benchmarks``. A
*library* module imports only its own stage and ``genen_core``; inside ``genen_scale`` it
also keeps the sub-stage order :data:`GENEN_SCALE_ORDER`, one folder per sub-stage
(``tasks`` and ``ray_env`` < ``encode`` < ``sampling`` < ``models`` < ``training`` /
``predict`` < ``sweep`` < ``report``). Only the composition roots in
:data:`ENTRY_POINTS` (the demo bootstrap) may import across stages, and even
they never import a later one. ``cluster`` and ``benchmarks`` are the last stage: their
modules compose everything before them. Every ``import`` statement counts, including
those inside functions.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = {"genen_core": 0, "ingest": 1, "genen_scale": 2, "cluster": 3, "benchmarks": 3}
# Modules of the last stage compose every earlier one (they are all entry points).
LAST_STAGE = max(STAGES.values())
# Sub-stages of genen_scale: one folder each, in data-flow order (README's table). The
# two modules at the package root, ``train`` and ``demo``, are entry points.
GENEN_SCALE_ORDER = {
    "genen_scale.tasks": 0,  # what is predicted and how it is scored: tasks, folds, metrics
    "genen_scale.ray_env": 0,  # where Ray runs and how the store reaches each node
    "genen_scale.encode": 1,
    "genen_scale.sampling": 2,
    "genen_scale.models": 3,  # the GNNs and the graphs they propagate over
    "genen_scale.training": 4,
    "genen_scale.train": 4,
    "genen_scale.demo": 4,
    "genen_scale.predict": 4,  # reads trained runs back; genen-train --predict calls it
    "genen_scale.sweep": 5,
    "genen_scale.report": 6,
}
# Composition roots that import across stages: they may import any earlier stage or
# sub-stage. The CLIs are composition roots too, but need no exemption today (each
# composes its own stage and genen_core), so they are held to the library rule.
ENTRY_POINTS = {
    "genen_scale.demo": "the demo bootstrap: generates, ingests and encodes the demo store",
}


@dataclass(frozen=True)
class Violation:
    module: str
    path: Path
    line: int
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.imported} ({self.why})"


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool):
    """``(line, dotted name)`` of every import in ``tree``, at any depth; relative imports
    are resolved against ``module``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield node.lineno, name
            # ``from genen_scale import training`` imports the sub-package too.
            for alias in node.names:
                yield node.lineno, f"{name}.{alias.name}"


def stage_of(name: str) -> int | None:
    return STAGES.get(name.split(".")[0])


def sub_stage_of(name: str) -> int | None:
    matches = [p for p in GENEN_SCALE_ORDER if name == p or name.startswith(p + ".")]
    return GENEN_SCALE_ORDER[max(matches, key=len)] if matches else None


def test_every_genen_scale_module_is_in_a_stage_folder():
    """A new module lands in one of the folders above (or the test names its stage)."""
    root = ROOT / "genen_scale"
    loose = [
        module_name(p, ROOT)
        for p in sorted(root.rglob("*.py"))
        if p != root / "__init__.py" and sub_stage_of(module_name(p, ROOT)) is None
    ]
    assert not loose, f"modules outside the stage folders of GENEN_SCALE_ORDER: {loose}"


def check_module(module: str, imported: str, entry_points=ENTRY_POINTS) -> str | None:
    """Why ``module`` must not import ``imported``, or None when it may."""
    own, other = stage_of(module), stage_of(imported)
    if imported.split(".")[0] == "tests":
        return "nothing outside tests/ imports the tests"
    if own is None or other is None:
        return None  # third-party or standard library
    if other > own:
        return "a later stage"
    entry = module in entry_points or own == LAST_STAGE
    if other < own and other != 0 and not entry:
        return "another stage; only genen_core and entry points may be imported across stages"
    if own == other == STAGES["genen_scale"]:
        a, b = sub_stage_of(module), sub_stage_of(imported)
        if b > a:
            return "a later sub-stage of genen_scale"
    return None


def violations(root: Path, entry_points=ENTRY_POINTS) -> list[Violation]:
    found = []
    for package in STAGES:
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(path, root)
            tree = ast.parse(path.read_text(), filename=str(path))
            lines = set()  # one violation per statement
            for line, name in imported_modules(tree, module, path.name == "__init__.py"):
                why = check_module(module, name, entry_points)
                if why and line not in lines:
                    lines.add(line)
                    found.append(Violation(module, path.relative_to(root), line, name, why))
    return found


def test_imports_run_one_way():
    found = violations(ROOT)
    assert not found, "imports against the data flow:\n" + "\n".join(map(str, found))


def test_every_exemption_is_needed():
    """The allowlist stays as short as the code allows: each entry exists and imports
    across stages (else it would only hide a future violation)."""
    needed = {v.module for v in violations(ROOT, entry_points={})}
    assert set(ENTRY_POINTS) <= needed, set(ENTRY_POINTS) - needed


def write(root: Path, module: str, text: str) -> None:
    path = root / Path(*module.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.relative_to(root).parents:
        if parent != Path("."):
            (root / parent / "__init__.py").touch()
    path.write_text(text)


@pytest.mark.parametrize(
    ("module", "source", "imported", "why"),
    [
        ("genen_core.store.csr", "from genen_scale.tasks.task import Task\n", "genen_scale.tasks.task", "later stage"),
        ("genen_core.labels", "def f():\n    import ingest.idmap\n", "ingest.idmap", "later stage"),
        ("ingest.build", "from genen_scale import models\n", "genen_scale", "later stage"),
        ("genen_scale.tasks.task", "def f():\n    from ingest.labels import x\n", "ingest.labels", "another stage"),
        ("genen_scale.sampling.loader", "from ..training import loop\n", "genen_scale.training", "sub-stage"),
        ("genen_scale.models.gnn", "import genen_scale.sweep.grid\n", "genen_scale.sweep.grid", "sub-stage"),
        ("genen_scale.tasks.metrics", "from tests.train_helpers import x\n", "tests.train_helpers", "tests"),
    ],
)  # fmt: skip
def test_the_checker_catches_violations(tmp_path, module, source, imported, why):
    write(tmp_path, module, source)
    found = violations(tmp_path)
    assert [(v.module, v.imported) for v in found][:1] == [(module, imported)], found
    assert why in found[0].why
    assert str(found[0]).startswith(f"{found[0].path}:{found[0].line}: {module} imports")


def test_the_checker_allows_what_the_rules_allow(tmp_path):
    write(tmp_path, "genen_scale.training.loop", "from genen_core.store import CSR\nimport numpy\n")
    write(tmp_path, "genen_scale.sweep.trial", "from genen_scale.training import run\n")
    write(tmp_path, "genen_scale.demo", "def f():\n    from ingest.build import build_store\n")
    write(tmp_path, "benchmarks.bench_x", "from ingest.cli import main\nimport genen_scale.train\n")
    assert violations(tmp_path) == []
    # The same cross-stage import outside the allowlist is caught.
    assert [v.module for v in violations(tmp_path, entry_points={})] == ["genen_scale.demo"]
