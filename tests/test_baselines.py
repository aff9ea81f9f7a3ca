"""Text-only baselines on the tiny store and synthetic tasks: signal found, no leakage."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from genen_scale.tasks.baselines import BaselineConfig, run_baseline
from genen_scale.tasks.folds import make_folds
from genen_scale.tasks.task import Task, load_task

# One small candidate per grid keeps the MLP tests to seconds on a shared machine.
SMALL_MLP = BaselineConfig(mlp_hidden=(32,), mlp_alpha=(1e-3,), mlp_max_epochs=40)


@pytest.fixture
def text_features(tiny_store) -> np.ndarray:
    """Bag-of-words of every node text (the tiny store's texts name the class word) plus noise.

    Shapes:
        returns: ``[num_nodes, vocabulary + 16]`` float32.
    """
    words = CountVectorizer().fit_transform(tiny_store.nodes.column("text").to_pylist())
    noise = np.random.default_rng(0).normal(size=(tiny_store.num_nodes, 16))
    return np.hstack([words.toarray(), noise]).astype(np.float32)


def _synthetic(kind: str, n: int = 240, seed: int = 0) -> tuple[Task, np.ndarray]:
    """A task whose features carry the class in two columns among noise; node ids shuffled."""
    rng = np.random.default_rng(seed)
    nodes = rng.permutation(n * 2)[:n]
    features = rng.normal(size=(n * 2, 12)).astype(np.float32)
    if kind == "multiclass":
        y = rng.integers(0, 3, n)
        features[nodes, :3] += 2.0 * np.eye(3)[y]
        return Task("mc", kind, nodes, y, ["a", "b", "c"]), features
    y = (rng.random((n, 3)) < [0.5, 0.3, 0.2]).astype(np.float32)
    features[nodes, :3] += 2.0 * y
    return Task("ml", kind, nodes, y, ["x", "y", "z"]), features


@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_baselines_find_the_class_word_on_toy_binary(tiny_store, text_features, name):
    task = load_task(tiny_store, "toy_binary")
    folds = make_folds(task, k=4, seed=0)
    results = run_baseline(name, task, text_features, folds, seed=0, config=SMALL_MLP)

    assert len(results) == len(folds)
    for r, fold in zip(results, folds, strict=True):
        assert set(r.test) == {"auc", "f1", "accuracy", "f1_05", "threshold"}
        assert set(r.val) == set(r.test) and r.val["threshold"] == r.test["threshold"]
        # Chance is 0.5; the class word separates the classes.
        assert r.test["auc"] > 0.9 and r.test["accuracy"] > 0.8, r.test
        # Predictions: every val and test gene once, the scores the metrics came from.
        p = r.predictions
        assert sorted(p.node[p.split == "test"]) == sorted(task.nodes[fold.test])
        assert sorted(p.node[p.split == "val"]) == sorted(task.nodes[fold.val])
        assert ((p.score >= 0) & (p.score <= 1)).all()


def test_baseline_threshold_is_chosen_without_test_labels(tiny_store, text_features):
    task = load_task(tiny_store, "toy_binary")
    folds = make_folds(task, k=4, seed=0)
    before = run_baseline("logreg", task, text_features, folds, seed=0)
    # Flip fold 0's test labels: none of them is a training or validation label of it.
    flipped = task.y.copy()
    flipped[folds[0].test] = 1 - flipped[folds[0].test]
    after = run_baseline(
        "logreg", dataclasses.replace(task, y=flipped), text_features, folds[:1], seed=0
    )
    assert after[0].test["threshold"] == before[0].test["threshold"]
    assert after[0].test["auc"] == pytest.approx(1 - before[0].test["auc"])


def test_logreg_on_regression_is_ridge_and_tracks_the_target(tiny_store, text_features):
    task = load_task(tiny_store, "toy_regression")
    results = run_baseline("logreg", task, text_features, make_folds(task, k=4), seed=0)
    assert len(results) == 4
    for r in results:
        assert set(r.test) == {"pearson", "spearman", "mse"}
        assert r.test["pearson"] > 0.8 and r.test["mse"] < np.var(task.y), r.test


@pytest.mark.parametrize("kind", ["multiclass", "multilabel"])
@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_baselines_on_multiclass_and_multilabel(kind, name):
    task, features = _synthetic(kind)
    results = run_baseline(name, task, features, make_folds(task, k=3), seed=0, config=SMALL_MLP)
    assert len(results) == 3
    assert all(r.test["auc"] > 0.75 for r in results), [r.test for r in results]
    assert all(r.predictions.score.shape == (len(r.predictions.node), 3) for r in results)


def test_test_rows_never_influence_fitting_or_selection(tiny_store, text_features):
    task = load_task(tiny_store, "toy_binary")
    fold = make_folds(task, k=4, seed=0)[0]
    clean = run_baseline("logreg", task, text_features, [fold], seed=0)[0]
    clean = {**clean.test, "val_auc": clean.val["auc"]}

    # Flip the test labels and scramble the test rows' features: train and val are the
    # same, so the validation score must not move, and the test AUC must flip.
    poisoned_y = task.y.copy()
    poisoned_y[fold.test] = 1 - poisoned_y[fold.test]
    poisoned = dataclasses.replace(task, y=poisoned_y)
    features = text_features.copy()
    features[task.nodes[fold.test]] *= 100.0
    scaled = run_baseline("logreg", poisoned, features, [fold], seed=0)[0].val

    assert scaled["auc"] == clean["val_auc"]
    flipped = run_baseline("logreg", poisoned, text_features, [fold], seed=0)[0]
    assert flipped.val["auc"] == clean["val_auc"]
    assert flipped.test["auc"] == pytest.approx(1 - clean["auc"])


def test_mlp_is_deterministic_by_seed(tiny_store, text_features):
    task = load_task(tiny_store, "toy_binary")
    folds = make_folds(task, k=3, seed=1)[:1]
    a = run_baseline("mlp", task, text_features, folds, seed=5, config=SMALL_MLP)
    b = run_baseline("mlp", task, text_features, folds, seed=5, config=SMALL_MLP)
    assert [r.test for r in a] == [r.test for r in b]
    assert np.array_equal(a[0].predictions.score, b[0].predictions.score)


def test_memory_mapped_features_are_accepted(tiny_store, text_features, tmp_path):
    np.save(tmp_path / "x.npy", text_features)
    task = load_task(tiny_store, "toy_binary")
    folds = make_folds(task, k=3)
    mapped = run_baseline("logreg", task, np.load(tmp_path / "x.npy", mmap_mode="r"), folds)
    plain = run_baseline("logreg", task, text_features, folds)
    assert [r.test for r in mapped] == [r.test for r in plain]


def test_errors_name_the_problem(tiny_store, text_features):
    task = load_task(tiny_store, "toy_binary")
    with pytest.raises(ValueError, match="unknown baseline 'svm'"):
        run_baseline("svm", task, text_features, make_folds(task, k=3))
    with pytest.raises(ValueError, match="mlp_hidden"):
        BaselineConfig(mlp_hidden=())


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_folds_without_validation_fit_default_penalties(tiny_store, text_features, kind):
    """The paper protocol's folds have no validation split: nothing is selected (and the
    empty validation scores take the test scores' layout, [0, C] for multiclass)."""
    if kind == "binary":
        task, features = load_task(tiny_store, "toy_binary"), text_features
    else:
        task, features = _synthetic(kind)
    folds = make_folds(task, k=3, val_fraction=0.0)
    for name in ("logreg", "mlp"):
        r = run_baseline(name, task, features, folds[:1], seed=0, config=SMALL_MLP)[0]
        assert r.val == {} and r.test["auc"] > (0.8 if kind == "binary" else 0.55)  # chance: 0.5
        assert set(r.predictions.split) == {"test"}
