"""PNG figures of a sweep's results: masking curves (paper Figure 4b / B.1), knowledge-bias
bars (Figure 4a) and t-SNE of input vs refined embeddings (Figure 3).

Each function draws from ``results.parquet`` rows (and, for t-SNE, the embeddings a
trial's run exported) and returns the written path, or None when the results hold
nothing to draw.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and in tests
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from genen_scale.report.published import TASK_TITLES  # noqa: E402
from genen_scale.report.tables import mean_sd, model_graphs, primary_column  # noqa: E402

log = logging.getLogger(__name__)


def masking_curve(results: pd.DataFrame, task: str, path: Path) -> Path | None:
    """Primary metric vs masking rate per (model, graph), band = ± sd over folds."""
    r = results[
        (results["task"] == task) & (results["leakage"] == "none") & (results["protocol"] == "cv")
    ]
    if r["mask_rate"].nunique() < 2:
        return None
    metric = primary_column(r)
    fig, ax = plt.subplots(figsize=(6, 4))
    for model, graph in model_graphs(r):
        rows = r[(r["model"] == model) & (r["graph"] == graph)]
        rates = sorted(rows["mask_rate"].unique())
        if len(rates) < 2:
            continue
        stats = np.array([mean_sd(rows.loc[rows["mask_rate"] == m, metric])[:2] for m in rates])
        x = 100 * np.asarray(rates)
        label = model if graph == "none" else f"{model} on {graph}"
        (line,) = ax.plot(x, stats[:, 0], marker="o", label=label)
        ax.fill_between(
            x,
            stats[:, 0] - stats[:, 1],
            stats[:, 0] + stats[:, 1],
            alpha=0.2,
            color=line.get_color(),
        )
    ax.set_xlabel("masked nodes (%)")
    ax.set_ylabel(metric.upper() if metric == "auc" else "Pearson r")
    ax.set_title(f"{TASK_TITLES.get(task, task)}: {metric} vs masking rate")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def design_curves(rows: pd.DataFrame, path: Path) -> Path | None:
    """Masking designs (:mod:`genen_scale.report.masking_designs`): one panel per task,
    test AUC vs masking rate, the authors' chain (solid) and each rate from scratch
    (dashed) per GNN, and the text baseline; one split, so no band."""
    tasks = sorted(rows["task"].unique())
    if not tasks:
        return None
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    # One colour per model, the design as the line style.
    models = sorted(set(rows["model"]) - {"logreg"})
    colors = {m: f"C{i}" for i, m in enumerate(models)} | {"logreg": "grey"}
    for ax, task in zip(axes[0], tasks, strict=True):
        r = rows[rows["task"] == task]
        for (model, design), at in r.groupby(["model", "design"]):
            if model == "logreg" and design == "chain":
                continue  # the same computation as the scratch runs' baseline
            at = at.sort_values("mask_rate")
            style = {"chain": "-", "scratch": "--"}[design]
            label = "logreg (text only)" if model == "logreg" else f"{model}, {design}"
            ax.plot(100 * at["mask_rate"], at["auc"], style, marker="o", label=label,
                    color=colors[model])  # fmt: skip
        ax.set_xlabel("nodes with text hidden (%)")
        ax.set_ylabel("test AUC")
        ax.set_title(TASK_TITLES.get(task, task))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Masking: the authors' chain vs each rate from scratch (one split)")
    return _save(fig, path)


def study_bars(results: pd.DataFrame, path: Path) -> Path | None:
    """Less- vs well-studied test genes per model, one panel per task (reference rows)."""
    r = results[
        (results["mask_rate"] == 0) & (results["leakage"] == "none") & (results["protocol"] == "cv")
    ]
    tasks = [t for t in r["task"].unique() if f"{primary_column(r[r.task == t])}_less_studied" in r]
    if not tasks:
        return None
    cols = min(4, len(tasks))
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols + 1, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(tasks) :]:
        ax.set_visible(False)
    for ax, task in zip(axes.flat, tasks, strict=False):  # spare panels were hidden
        rt = r[r["task"] == task]
        metric = primary_column(rt)
        pairs = model_graphs(rt)
        x = np.arange(len(pairs))
        for i, (group, colour) in enumerate(
            (("less_studied", "tab:orange"), ("well_studied", "tab:blue"))
        ):
            stats = np.array(
                [
                    mean_sd(rt.loc[(rt.model == m) & (rt.graph == g), f"{metric}_{group}"])[:2]
                    for m, g in pairs
                ]
            )
            ax.bar(
                x + (i - 0.5) * 0.38,
                stats[:, 0],
                0.38,
                yerr=stats[:, 1],
                color=colour,
                label=group.replace("_", "-"),
                capsize=2,
            )
        ax.set_xticks(x, [m if g == "none" else f"{m}\n{g}" for m, g in pairs], fontsize=7)
        ax.set_title(TASK_TITLES.get(task, task), fontsize=9)
        ax.set_ylabel(metric)
        ax.set_ylim(0, 1)
    axes[0][0].legend(fontsize=7, loc="lower left")
    return _save(fig, path)


def tsne_panels(
    inputs: np.ndarray,
    refined: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    title: str,
    path: Path,
) -> Path:
    """Two t-SNE maps of the same genes, input text embeddings and refined GNN ones.

    Shapes:
        inputs: ``[n, d_in]``; refined: ``[n, d_hidden]``; labels: ``[n]`` class index.
    """
    from sklearn.manifold import TSNE

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, x, name in (
        (axes[0], inputs, "input text embeddings"),
        (axes[1], refined, "refined (GNN)"),
    ):
        xy = TSNE(
            n_components=2, init="pca", random_state=0, perplexity=min(30, len(x) - 1)
        ).fit_transform(np.asarray(x, dtype=np.float32))
        for c, cname in enumerate(classes):
            sel = labels == c
            ax.scatter(xy[sel, 0], xy[sel, 1], s=4, alpha=0.7, label=cname)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1].legend(markerscale=3, fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    log.info("figure %s", path)
    return path
