"""Task kinds are objects: names round-trip, and no caller branches on a kind's name."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from genen_core.known_labels import KINDS
from genen_scale.tasks.kinds import BY_NAME, Binary, Regression, TaskKind, task_kind

ROOT = Path(__file__).resolve().parents[1]


def test_a_kind_is_its_name_where_names_are_stored():
    for name in KINDS:
        kind = task_kind(name)
        assert isinstance(kind, TaskKind) and task_kind(kind) is kind
        assert kind == name and str(kind) == name and kind.name == name
        assert {kind: 1}[name] == 1  # hashes like its name
    assert task_kind("binary") != "regression" and Binary() != Regression()
    with pytest.raises(ValueError, match="unknown task kind 'ordinal'"):
        task_kind("ordinal")


def test_outputs_and_primary_metric_per_kind():
    assert {k: (v.num_outputs(5), v.primary) for k, v in BY_NAME.items()} == {
        "binary": (2, "auc"),
        "multiclass": (5, "auc"),
        "multilabel": (5, "auc"),
        "regression": (1, "pearson"),
    }
    # Regression strata are quantile bins; classification strata are the classes.
    y = np.arange(20, dtype=np.float32)
    assert len(set(task_kind("regression").stratify_key(y, 0, 4).tolist())) == 4


def kind_name_comparisons(path: Path):
    """``(line, text)`` of each comparison of something with a kind's name literal."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        for side in [node.left, *node.comparators]:
            values = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
            if any(isinstance(v, ast.Constant) and v.value in KINDS for v in values):
                yield node.lineno, ast.unparse(node)
                break


def test_no_branch_on_a_kind_name_outside_the_kinds():
    """Callers call the kind's methods; only genen_scale/tasks/kinds.py defines per-kind code
    (genen_core.labels, the file format, decides which name a file's task gets)."""
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in sorted((ROOT / "genen_scale").rglob("*.py"))
        if path.name != "kinds.py"
        for line, text in kind_name_comparisons(path)
    ]
    assert not found, "branches on a kind's name:\n" + "\n".join(found)


def test_the_branch_check_sees_branches(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('if task.kind == "binary":\n    pass\nok = kind in ("multiclass", "x")\n')
    assert [line for line, _ in kind_name_comparisons(f)] == [1, 3]
