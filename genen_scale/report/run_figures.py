"""PNG figures of one training run, drawn from its ``predictions.parquet`` test rows.

Which figures a run gets is its task kind's (:data:`FIGURES`): ROC and precision–recall
curves per fold and a calibration plot for binary tasks; the confusion matrix and a
calibration plot of the top class for multiclass ones; predicted vs true for regression.
Each function returns ``[(caption, path)]``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and in tests
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from genen_scale.report.figures import _save  # noqa: E402
from genen_scale.tasks.kinds import Binary, Multiclass, Regression, TaskKind  # noqa: E402

log = logging.getLogger(__name__)

Figures = list[tuple[str, Path]]
CALIBRATION_BINS = 10


def _by_model(test: pd.DataFrame, gnn: str):
    """(model, rows) with the GNN first, then the baselines in table order."""
    models = [gnn] + [m for m in test["model"].unique() if m != gnn]
    return [(m, test[test["model"] == m]) for m in models if (test["model"] == m).any()]


def roc_pr(test: pd.DataFrame, gnn: str, path: Path) -> Path:
    """ROC and precision–recall curves of the GNN per fold; baselines pooled, dashed."""
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.4))
    for model, rows in _by_model(test, gnn):
        groups = rows.groupby("fold") if model == gnn else [("pooled", rows)]
        for fold, r in groups:
            y, s = r["label"].to_numpy(), r["score"].to_numpy(dtype=float)
            if len(np.unique(y)) < 2:
                continue  # a curve needs both classes
            style = {"lw": 1.2} if model == gnn else {"ls": "--", "lw": 1.5, "color": "grey"}
            name = f"{model} fold {fold}" if model == gnn else f"{model} (pooled folds)"
            fpr, tpr, _ = roc_curve(y, s)
            roc_ax.plot(fpr, tpr, label=f"{name}: AUC {roc_auc_score(y, s):.2f}", **style)
            prec, rec, _ = precision_recall_curve(y, s)
            ap = average_precision_score(y, s)
            pr_ax.plot(rec, prec, label=f"{name}: AP {ap:.2f}", **style)
    roc_ax.plot([0, 1], [0, 1], color="black", lw=0.6, ls=":")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    positives = float(np.mean(test.loc[test["model"] == gnn, "label"]))
    pr_ax.axhline(positives, color="black", lw=0.6, ls=":")
    pr_ax.set(xlabel="recall", ylabel="precision", title="precision–recall (test)")
    for ax in (roc_ax, pr_ax):
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return _save(fig, path)


def calibration(points: dict[str, tuple[np.ndarray, np.ndarray]], what: str, path: Path) -> Path:
    """Reliability diagram: mean predicted probability vs observed frequency per bin.

    Args:
        points: Model -> (predicted probability, 0/1 outcome), pooled over test folds.
        what: What the probability is of (axis labels).
    """
    fig, ax = plt.subplots(figsize=(5, 4.6))
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    for model, (p, hit) in points.items():
        bins = np.clip(np.digitize(p, edges[1:-1]), 0, CALIBRATION_BINS - 1)
        used = [b for b in range(CALIBRATION_BINS) if (bins == b).any()]
        mean_p = [p[bins == b].mean() for b in used]
        freq = [hit[bins == b].mean() for b in used]
        ax.plot(mean_p, freq, marker="o", label=model)
    ax.plot([0, 1], [0, 1], color="black", lw=0.6, ls=":")
    ax.set(
        xlabel=f"predicted probability ({what})",
        ylabel="observed frequency",
        title=f"calibration, test genes ({CALIBRATION_BINS} bins)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def binary_figures(test: pd.DataFrame, gnn: str, classes: list[str], out: Path) -> Figures:
    points = {
        m: (r["score"].to_numpy(dtype=float), r["label"].to_numpy(dtype=float))
        for m, r in _by_model(test, gnn)
    }
    return [
        ("ROC and precision–recall curves", roc_pr(test, gnn, out / "roc_pr.png")),
        ("calibration", calibration(points, f"P({classes[1]})", out / "calibration.png")),
    ]


def _probabilities(rows: pd.DataFrame) -> np.ndarray:
    return np.array(rows["score"].tolist(), dtype=float)


def confusion(test: pd.DataFrame, gnn: str, classes: list[str], path: Path) -> Path:
    """The GNN's confusion matrix over all test folds (arg-max class), row-normalised."""
    rows = test[test["model"] == gnn]
    y = rows["label"].to_numpy(dtype=int)
    pred = _probabilities(rows).argmax(axis=1)
    c = len(classes)
    counts = np.zeros((c, c), dtype=int)
    np.add.at(counts, (y, pred), 1)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 * c + 3, 1.1 * c + 2))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(c):
        for j in range(c):
            colour = "white" if share[i, j] > 0.6 else "black"
            ax.text(j, i, f"{counts[i, j]}\n{share[i, j]:.0%}", ha="center", va="center",
                    fontsize=8, color=colour)  # fmt: skip
    ax.set_xticks(range(c), classes, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(c), classes, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=f"{gnn}: confusion, all test folds")
    return _save(fig, path)


def multiclass_figures(test: pd.DataFrame, gnn: str, classes: list[str], out: Path) -> Figures:
    points = {}
    for m, r in _by_model(test, gnn):
        p = _probabilities(r)
        hit = (p.argmax(axis=1) == r["label"].to_numpy(dtype=int)).astype(float)
        points[m] = (p.max(axis=1), hit)
    return [
        ("confusion matrix", confusion(test, gnn, classes, out / "confusion.png")),
        ("calibration of the top class", calibration(points, "top class", out / "calibration.png")),
    ]


def predicted_vs_true(test: pd.DataFrame, gnn: str, path: Path) -> Path:
    """Predicted vs true value of the test genes, one panel per model, colour = fold."""
    models = _by_model(test, gnn)
    fig, axes = plt.subplots(1, len(models), figsize=(4.4 * len(models), 4.2), squeeze=False)
    for ax, (model, rows) in zip(axes[0], models, strict=True):
        for fold, r in rows.groupby("fold"):
            ax.scatter(r["label"], r["score"], s=6, alpha=0.6, label=f"fold {fold}")
        y, s = rows["label"].to_numpy(dtype=float), rows["score"].to_numpy(dtype=float)
        lo, hi = float(min(y.min(), s.min())), float(max(y.max(), s.max()))
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.6, ls=":")
        r = np.corrcoef(y, s)[0, 1] if y.std() > 0 and s.std() > 0 else float("nan")
        ax.set(xlabel="true", ylabel="predicted", title=f"{model}: Pearson r {r:.2f} (pooled)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, markerscale=2)
    return _save(fig, path)


def regression_figures(test: pd.DataFrame, gnn: str, classes: list[str], out: Path) -> Figures:
    return [("predicted vs true", predicted_vs_true(test, gnn, out / "predicted_vs_true.png"))]


FIGURES: dict[type[TaskKind], Callable[..., Figures]] = {
    Binary: binary_figures,
    Multiclass: multiclass_figures,
    Regression: regression_figures,
}
