"""Metrics against hand-computed values, the NaN path, summaries and study groups."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from genen_scale.tasks.kinds import MetricWarning
from genen_scale.tasks.metrics import (
    choose_threshold,
    evaluate,
    evaluate_by_group,
    primary_metric,
    study_groups,
    summarize,
)


def test_binary_perfect_and_reversed_ranking():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.8, 0.9])
    at_half = {"f1_05": 1.0, "threshold": 0.5}
    assert evaluate("binary", y, s) == {"auc": 1.0, "f1": 1.0, "accuracy": 1.0, **at_half}
    assert evaluate("binary", y, 1 - s) == {
        "auc": 0.0,
        "f1": 0.0,
        "accuracy": 0.0,
        "f1_05": 0.0,
        "threshold": 0.5,
    }


def test_binary_by_hand():
    y = np.array([0, 0, 1, 1, 1])
    s = np.array([0.3, 0.6, 0.7, 0.4, 0.9])
    # Positive/negative pairs ranked right: 0.7 > both, 0.9 > both, 0.4 > 0.3 only -> 5/6.
    # Predictions [0,1,1,0,1]: class 1 F1 = 2*2/(2*2+1+1) = 2/3, class 0 F1 = 2/4.
    m = evaluate("binary", y, s)
    assert m["auc"] == pytest.approx(5 / 6)
    assert m["f1"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert m["accuracy"] == pytest.approx(3 / 5)
    # The two-column probability layout gives the same numbers.
    assert evaluate("binary", y, np.stack([1 - s, s], axis=1)) == m


def test_multiclass_matches_sklearn_ovr_and_hand_values():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 40)
    p = rng.random((40, 3))
    p /= p.sum(axis=1, keepdims=True)
    m = evaluate("multiclass", y, p)
    assert m["auc"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert m["accuracy"] == pytest.approx(np.mean(p.argmax(1) == y))

    perfect = np.eye(3)[y] * 0.8 + 0.1
    assert evaluate("multiclass", y, perfect) == {"auc": 1.0, "f1": 1.0, "accuracy": 1.0}


def test_multiclass_absent_class_gives_nan_auc_with_warning():
    y = np.array([0, 1, 0, 1])  # class 2 absent from this fold
    p = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1]])
    with pytest.warns(MetricWarning, match="only one class"):
        m = evaluate("multiclass", y, p)
    assert np.isnan(m["auc"])
    assert m["accuracy"] == 1.0
    # Macro-F1 over all three classes: the absent, never-predicted class scores 0.
    assert m["f1"] == pytest.approx(2 / 3)


def test_binary_single_class_fold_gives_nan_auc_with_warning():
    with pytest.warns(MetricWarning):
        m = evaluate("binary", np.array([1, 1, 1]), np.array([0.2, 0.7, 0.9]))
    assert np.isnan(m["auc"]) and m["accuracy"] == pytest.approx(2 / 3)


def test_multilabel_skips_labels_without_both_classes():
    y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    s = np.array([[0.9, 0.2, 0.1], [0.3, 0.8, 0.2], [0.4, 0.6, 0.1], [0.6, 0.1, 0.3]])
    # Label 0: positives {0.9, 0.4} vs negatives {0.3, 0.6}: 3 of 4 pairs -> 0.75.
    # Label 1: positives {0.8, 0.6} vs negatives {0.2, 0.1}: 1.0. Label 2 has no positive.
    with pytest.warns(MetricWarning, match=r"labels \[2\]"):
        m = evaluate("multilabel", y, s)
    assert m["auc"] == pytest.approx((0.75 + 1.0) / 2)
    # Predictions at 0.5 are [1,0,0], [0,1,0], [0,1,0], [1,0,0]: rows 0 and 1 fully right.
    assert m["accuracy"] == pytest.approx(2 / 4)
    # Per-label F1: label 0 tp=1 fp=1 fn=1 -> 0.5, label 1 -> 1.0, label 2 (empty) -> 0.
    assert m["f1"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)


def test_regression_linear_map_and_mse():
    y = np.arange(10, dtype=float)
    m = evaluate("regression", y, 2 * y + 1)
    assert m["pearson"] == pytest.approx(1.0)
    assert m["spearman"] == pytest.approx(1.0)
    assert m["mse"] == pytest.approx(np.mean((y + 1) ** 2))
    assert evaluate("regression", y, -y)["pearson"] == pytest.approx(-1.0)


def test_regression_constant_target_gives_nan():
    with pytest.warns(MetricWarning, match="constant"):
        m = evaluate("regression", np.ones(5), np.arange(5.0))
    assert np.isnan(m["pearson"]) and np.isnan(m["spearman"]) and m["mse"] == pytest.approx(3.0)


def test_primary_metric_and_errors():
    assert [primary_metric(k) for k in ("binary", "multiclass", "multilabel", "regression")] == [
        "auc",
        "auc",
        "auc",
        "pearson",
    ]
    with pytest.raises(ValueError, match="unknown task kind 'ordinal'"):
        primary_metric("ordinal")
    with pytest.raises(ValueError, match="3 targets but 2 scores"):
        evaluate("binary", [0, 1, 1], [0.2, 0.3])


def test_summarize_mean_std_and_nan_folds():
    s = summarize([{"auc": 0.8, "f1": 0.5}, {"auc": 0.6, "f1": float("nan")}])
    # Sample sd (ddof 1): sqrt(((0.8-0.7)^2 + (0.6-0.7)^2) / 1); undefined for one fold.
    assert s["auc"] == {"mean": pytest.approx(0.7), "std": pytest.approx(0.02**0.5), "folds": 2}
    assert s["f1"]["mean"] == 0.5 and np.isnan(s["f1"]["std"]) and s["f1"]["folds"] == 1


def test_study_groups_split_at_median_by_default():
    wc = np.array([50, 10, 30, 40, 20])
    assert study_groups(wc).tolist() == [
        "well_studied",
        "less_studied",
        "less_studied",
        "well_studied",
        "less_studied",
    ]
    assert (study_groups(wc, threshold=10) == "less_studied").tolist() == [0, 1, 0, 0, 0]


def test_evaluate_by_group():
    y = np.array([0, 1, 0, 1, 0, 1])
    s = np.array([0.1, 0.9, 0.2, 0.8, 0.7, 0.3])
    groups = np.array(["a", "a", "a", "a", "b", "b"])
    out = evaluate_by_group("binary", y, s, groups)
    assert out["a"]["auc"] == 1.0 and out["b"]["auc"] == 0.0
    assert out["b"] == evaluate("binary", y[4:], s[4:])


def test_threshold_is_chosen_for_the_best_f1_and_read_on_other_data():
    # Scores all below 0.5 but ranked perfectly: F1 at 0.5 is the one-class answer, the
    # chosen threshold separates the classes (midpoint between 0.2 and 0.3).
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.4])
    t = choose_threshold("binary", y, s)
    assert t == pytest.approx(0.25)
    m = evaluate("binary", y, s, t)
    assert m["f1"] == 1.0 and m["accuracy"] == 1.0 and m["threshold"] == t
    assert m["f1_05"] == pytest.approx(1 / 3)  # predicts all 0: F1 0 for class 1, 2/3 for 0
    # Ties keep the threshold nearest 0.5; other kinds choose none; one class: none.
    assert choose_threshold("binary", y, np.full(4, 0.5)) is not None
    assert choose_threshold("multiclass", y, np.eye(4)[:, :2]) is None
    assert choose_threshold("binary", np.zeros(4, int), s) is None
