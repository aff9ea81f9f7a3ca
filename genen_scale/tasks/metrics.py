"""Evaluation metrics of any task kind, fold summaries and the knowledge-bias grouping.

Each kind computes its own metrics (:meth:`genen_scale.tasks.kinds.TaskKind.evaluate`); the
functions here take a kind or its name. ``scores`` are what
:meth:`genen_scale.tasks.task.Task.scores` returns: P(class 1) for binary tasks, class
probabilities for multiclass, per-label probabilities for multilabel and the predicted
value for regression. A metric that is undefined on a fold is NaN with a
:class:`~genen_scale.tasks.kinds.MetricWarning`; :func:`summarize` then averages the others.
"""

from __future__ import annotations

import numpy as np

from genen_scale.tasks.kinds import TaskKind, task_kind

LESS_STUDIED = "less_studied"
WELL_STUDIED = "well_studied"
MASKED = "masked"
UNMASKED = "unmasked"


def primary_metric(kind: str | TaskKind) -> str:
    """The headline metric of a task kind, higher is better: ``auc`` or ``pearson``."""
    return task_kind(kind).primary


def evaluate(
    kind: str | TaskKind, y_true, scores, threshold: float | None = None
) -> dict[str, float]:
    """Metrics of one set of predictions.

    binary: ``auc`` (ROC), ``f1`` (macro) and ``accuracy`` at ``threshold`` (None: 0.5;
    :func:`choose_threshold` picks one on validation), ``f1_05`` (at 0.5), ``threshold``.
    multiclass: ``auc`` (macro one-vs-rest), ``f1`` (macro, arg-max), ``accuracy``.
    multilabel: ``auc`` (macro over labels with both classes present), ``f1`` (macro,
    threshold 0.5), ``accuracy`` (subset accuracy: every label right).
    regression: ``pearson``, ``spearman``, ``mse``.

    Shapes:
        y_true: ``[n]`` class index or value; multilabel ``[n, C]`` multi-hot.
        scores: binary ``[n]`` (or ``[n, 2]``); multiclass/multilabel ``[n, C]``;
        regression ``[n]``.
    """
    return task_kind(kind).evaluate(y_true, scores, threshold)


def choose_threshold(kind: str | TaskKind, y_true, scores) -> float | None:
    """The binary decision threshold of the highest macro F1 on ``(y_true, scores)``; None
    for other kinds (:meth:`genen_scale.tasks.kinds.TaskKind.choose_threshold`). Pass validation
    predictions (training ones where there is no validation split), never test ones."""
    return task_kind(kind).choose_threshold(y_true, scores)


def summarize(per_fold: list[dict]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation over folds of every numeric metric.

    NaN folds are left out of that metric's statistics; ``folds`` counts the ones used.
    ``std`` is the sample standard deviation (``ddof=1``; NaN for a single fold): the
    folds are a sample of the splits one could have drawn.

    Returns:
        ``{metric: {"mean": m, "std": s, "folds": n}}``.
    """
    names = [k for k in per_fold[0] if isinstance(per_fold[0][k], (int, float))] if per_fold else []
    out = {}
    for name in names:
        values = np.array([f[name] for f in per_fold], dtype=np.float64)
        values = values[~np.isnan(values)]
        out[name] = {
            "mean": float(values.mean()) if len(values) else float("nan"),
            "std": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
            "folds": int(len(values)),
        }
    return out


def study_groups(word_count: np.ndarray, threshold: int | None = None) -> np.ndarray:
    """Label genes ``less_studied`` or ``well_studied`` by the length of their summary.

    The paper uses summary length as a proxy for how much is known about a gene. By
    default the split is at the median word count of the genes given (pass the task's
    genes, so the groups are balanced within that task); genes at or below the threshold
    are less studied.

    Shapes:
        word_count: ``[n]``; returns ``[n]`` str.
    """
    wc = np.asarray(word_count)
    cut = float(np.median(wc)) if threshold is None else float(threshold)
    return np.where(wc <= cut, LESS_STUDIED, WELL_STUDIED)


def evaluate_by_group(
    kind: str | TaskKind, y_true, scores, groups: np.ndarray
) -> dict[str, dict[str, float]]:
    """:func:`evaluate` separately on each group of genes (e.g. from :func:`study_groups`).

    Shapes:
        y_true, scores: as for :func:`evaluate`; groups: ``[n]`` str.
    """
    y, s, g = np.asarray(y_true), np.asarray(scores), np.asarray(groups)
    if len(g) != len(y):
        raise ValueError(f"{len(g)} group labels but {len(y)} targets")
    return {str(name): evaluate(kind, y[g == name], s[g == name]) for name in np.unique(g)}


def evaluate_with_groups(
    kind: str | TaskKind,
    y_true,
    scores,
    groups: np.ndarray | None = None,
    threshold: float | None = None,
) -> dict:
    """:func:`evaluate`, plus the primary metric within each group as ``<metric>_<group>``.

    This is how the knowledge-bias comparison (less- vs well-studied genes, see
    :func:`study_groups`) and the masking comparison (masked vs unmasked genes) travel in
    the same per-fold metric rows as everything else.

    Shapes:
        groups: ``[n]`` str, or ``[n, g]``: ``g`` groupings of the same genes (their
        group names must differ), each evaluated on its own.
    """
    out = evaluate(kind, y_true, scores, threshold)
    if groups is not None:
        primary = primary_metric(kind)
        g = np.asarray(groups)
        for column in g.reshape(len(g), -1).T:
            for name, m in evaluate_by_group(kind, y_true, scores, column).items():
                out[f"{primary}_{name}"] = m[primary]
    return out
