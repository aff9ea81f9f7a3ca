"""Folds: partition, stratification, validation carved from train, determinism, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow.compute as pc
import pytest

from genen_scale.tasks.folds import make_folds
from genen_scale.tasks.task import Task, build_task
from ingest.labels import load_label_dir

KINDS = ["binary", "multiclass", "multilabel", "regression"]


def synthetic_task(kind: str, n: int = 400, seed: int = 0) -> Task:
    """Imbalanced classes / labels of different rarity; node ids are not positions."""
    rng = np.random.default_rng(seed)
    nodes = np.arange(n, dtype=np.int64) * 3 + 1
    if kind == "binary":
        return Task("b", kind, nodes, (rng.random(n) < 0.3).astype(np.int64), ["neg", "pos"])
    if kind == "multiclass":
        y = rng.choice(3, size=n, p=[0.55, 0.3, 0.15]).astype(np.int64)
        return Task("m", kind, nodes, y, ["a", "b", "c"])
    if kind == "multilabel":
        y = (rng.random((n, 4)) < np.array([0.5, 0.3, 0.1, 0.05])).astype(np.float32)
        return Task("ml", kind, nodes, y, ["w", "x", "y", "z"])
    return Task("r", kind, nodes, rng.lognormal(size=n).astype(np.float32), [])


@pytest.mark.parametrize("kind", KINDS)
def test_folds_partition_and_are_disjoint(kind):
    task = synthetic_task(kind)
    folds = make_folds(task, k=5, seed=0)

    assert [f.index for f in folds] == list(range(5))
    everything = np.arange(len(task))
    np.testing.assert_array_equal(np.sort(np.concatenate([f.test for f in folds])), everything)
    for f in folds:
        parts = np.concatenate([f.train, f.val, f.test])
        np.testing.assert_array_equal(np.sort(parts), everything)  # disjoint and covering
        assert len(f.val) == int(np.ceil(0.1 * (len(task) - len(f.test))))


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_each_test_fold_keeps_the_class_ratio(kind):
    task = synthetic_task(kind)
    k = 5
    total = np.bincount(task.y)
    for f in make_folds(task, k=k, seed=1):
        in_fold = np.bincount(task.y[f.test], minlength=len(total))
        # StratifiedKFold puts floor or ceil of n_c / k members of each class in a fold.
        assert np.all(np.abs(in_fold - total / k) <= 1), (in_fold, total / k)
        # The validation split is stratified too, within rounding of one member per class.
        in_val = np.bincount(task.y[f.val], minlength=len(total))
        assert np.all(np.abs(in_val - total / total.sum() * len(f.val)) <= 1.5), in_val


def test_regression_folds_span_the_target_range():
    task = synthetic_task("regression", n=500)
    edges = np.quantile(task.y, [0.2, 0.4, 0.6, 0.8])
    quintile = np.searchsorted(edges, task.y)
    for f in make_folds(task, k=5, seed=2):
        # Stratified by quantile bins: every fold holds ~a fifth of each target quintile.
        counts = np.bincount(quintile[f.test], minlength=5)
        assert np.all(np.abs(counts - 20) <= 3), counts


def test_multilabel_folds_spread_every_label():
    task = synthetic_task("multilabel", n=600)
    positives = task.y.sum(axis=0)
    for f in make_folds(task, k=5, seed=3):
        in_fold = task.y[f.test].sum(axis=0)
        assert np.all(in_fold > 0), in_fold
        assert np.all(np.abs(in_fold - positives / 5) <= np.maximum(3, 0.25 * positives / 5))


def test_validation_is_carved_from_the_training_fold_only():
    task = synthetic_task("binary")
    folds = make_folds(task, k=4, seed=0, val_fraction=0.2)
    for f in folds:
        assert len(np.intersect1d(f.val, f.test)) == 0
        assert len(np.intersect1d(f.val, f.train)) == 0
    # The test folds do not depend on the validation fraction: val only shrinks train.
    plain = make_folds(task, k=4, seed=0, val_fraction=0.0)
    for f, p in zip(folds, plain, strict=True):
        np.testing.assert_array_equal(f.test, p.test)
        np.testing.assert_array_equal(np.sort(np.concatenate([f.train, f.val])), p.train)
        assert len(p.val) == 0


def test_folds_are_deterministic_by_seed():
    task = synthetic_task("multiclass")
    a, b = make_folds(task, seed=7), make_folds(task, seed=7)
    c = make_folds(task, seed=8)
    for x, y in zip(a, b, strict=True):
        for part in ("train", "val", "test"):
            np.testing.assert_array_equal(getattr(x, part), getattr(y, part))
    assert any(not np.array_equal(x.test, z.test) for x, z in zip(a, c, strict=True))


def test_class_with_fewer_members_than_folds_is_an_error():
    y = np.array([0] * 20 + [1] * 3)
    task = Task("tiny", "binary", np.arange(len(y)), y, ["common", "rare"])
    with pytest.raises(
        ValueError, match=r"class 'rare' has 3 labelled genes, fewer than k=5.*k <= 3"
    ):
        make_folds(task, k=5)
    assert len(make_folds(task, k=3)) == 3


def test_rare_derived_strata_are_merged_without_sklearn_warnings():
    # Label "z" is every gene's rarest label only twice: a stratum smaller than k.
    rng = np.random.default_rng(0)
    y = (rng.random((100, 3)) < [0.6, 0.4, 0.0]).astype(np.float32)
    y[:2, 2] = 1
    y[2:10, 2] = 1
    y[2:10, 1] = 0
    task = Task("ml", "multilabel", np.arange(100), y, ["x", "y", "z"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        folds = make_folds(task, k=5)
    assert sum(len(f.test) for f in folds) == 100


@pytest.mark.parametrize(("k", "val_fraction"), [(1, 0.1), (5, 1.0), (5, -0.1)])
def test_bad_arguments_are_rejected(k, val_fraction):
    with pytest.raises(ValueError, match="k=1|val_fraction"):
        make_folds(synthetic_task("binary"), k=k, val_fraction=val_fraction)


def test_every_real_task_builds_five_folds(shared_data):
    table, meta = load_label_dir(shared_data / "labels")
    names = sorted(set(table.column("task").to_pylist()))
    assert names, "no tasks in the real label files"
    for name in names:
        rows = table.filter(pc.equal(table.column("task"), name))
        genes = rows.column("gene").to_pylist()
        # No graph here: give every distinct gene its own node id.
        _, nodes = np.unique(np.asarray(genes, dtype=object), return_inverse=True)
        info = meta[name]
        task = build_task(
            name, info["kind"], info["classes"], genes, rows.column("label").to_numpy(), nodes
        )
        folds = make_folds(task, k=5, seed=0)
        assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(len(task)))
        for f in folds:
            if task.kind in ("binary", "multiclass"):
                # Every class reaches every test and validation split, so AUC is defined.
                assert set(task.y[f.test]) == set(task.y[f.val]) == set(range(len(task.classes)))
            elif task.kind == "multilabel":
                assert np.all(task.y[f.test].sum(axis=0) > 0), name
