"""Text-only baselines on the tiny store and synthetic tasks: signal found, no leakage."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from genen_scale.baselines import BaselineConfig, run_baseline
from genen_scale.folds import make_folds
from genen_scale.tasks import Task, load_task

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
    for r in results:
        assert set(r) == {"auc", "f1", "accuracy", "val_auc"}
        # Chance is 0.5; the class word separates the classes.
        assert r["auc"] > 0.9 and r["accuracy"] > 0.8, r


def test_logreg_on_regression_is_ridge_and_tracks_the_target(tiny_store, text_features):
    task = load_task(tiny_store, "toy_regression")
    results = run_baseline("logreg", task, text_features, make_folds(task, k=4), seed=0)
    assert len(results) == 4
    for r in results:
        assert set(r) == {"pearson", "spearman", "mse", "val_pearson"}
        assert r["pearson"] > 0.8 and r["mse"] < np.var(task.y), r


@pytest.mark.parametrize("kind", ["multiclass", "multilabel"])
@pytest.mark.parametrize("name", ["logreg", "mlp"])
def test_baselines_on_multiclass_and_multilabel(kind, name):
    task, features = _synthetic(kind)
    results = run_baseline(name, task, features, make_folds(task, k=3), seed=0, config=SMALL_MLP)
    assert len(results) == 3
    assert all(r["auc"] > 0.75 for r in results), results


def test_test_rows_never_influence_fitting_or_selection(tiny_store, text_features):
    task = load_task(tiny_store, "toy_binary")
    fold = make_folds(task, k=4, seed=0)[0]
    clean = run_baseline("logreg", task, text_features, [fold], seed=0)[0]

    # Flip the test labels and scramble the test rows' features: train and val are the
    # same, so the validation score must not move, and the test AUC must flip.
    poisoned_y = task.y.copy()
    poisoned_y[fold.test] = 1 - poisoned_y[fold.test]
    poisoned = dataclasses.replace(task, y=poisoned_y)
    features = text_features.copy()
    features[task.nodes[fold.test]] *= 100.0
    scaled = run_baseline("logreg", poisoned, features, [fold], seed=0)[0]

    assert scaled["val_auc"] == clean["val_auc"]
    flipped = run_baseline("logreg", poisoned, text_features, [fold], seed=0)[0]
    assert flipped["val_auc"] == clean["val_auc"]
    assert flipped["auc"] == pytest.approx(1 - clean["auc"])


def test_mlp_is_deterministic_by_seed(tiny_store, text_features):
    task = load_task(tiny_store, "toy_binary")
    folds = make_folds(task, k=3, seed=1)[:1]
    a = run_baseline("mlp", task, text_features, folds, seed=5, config=SMALL_MLP)
    b = run_baseline("mlp", task, text_features, folds, seed=5, config=SMALL_MLP)
    assert a == b


def test_memory_mapped_features_are_accepted(tiny_store, text_features, tmp_path):
    np.save(tmp_path / "x.npy", text_features)
    task = load_task(tiny_store, "toy_binary")
    folds = make_folds(task, k=3)
    mapped = run_baseline("logreg", task, np.load(tmp_path / "x.npy", mmap_mode="r"), folds)
    assert mapped == run_baseline("logreg", task, text_features, folds)


def test_errors_name_the_problem(tiny_store, text_features):
    task = load_task(tiny_store, "toy_binary")
    with pytest.raises(ValueError, match="unknown baseline 'svm'"):
        run_baseline("svm", task, text_features, make_folds(task, k=3))
    with pytest.raises(ValueError, match="no validation split"):
        run_baseline("logreg", task, text_features, make_folds(task, k=3, val_fraction=0.0))
    with pytest.raises(ValueError, match="mlp_hidden"):
        BaselineConfig(mlp_hidden=())
