"""Markdown tables of a sweep's ``results.parquet``: Table 1 beside the published numbers,
knowledge bias, protocol and leakage comparisons, and what is missing.

Every cell is the mean ± population sd over the rows (folds, pooled over seeds) of one
(model, graph, task) under the stated condition, with the number of folds; nothing here
is typed except the published rows (:mod:`genen_scale.report.published`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genen_scale.report.published import (
    BEST_BASELINE,
    GENEN_GCN_AUC,
    GENEN_GCN_F1,
    GENEPT_AUC,
    TASK_ORDER,
    TASK_TITLES,
)

MISSING = "—"
GRAPH_ORDER = ("go_ppi", "go", "ppi", "none")
MODEL_ORDER = ("gcn", "gat", "logreg", "mlp")


def reference(results: pd.DataFrame) -> pd.DataFrame:
    """Rows of the reference condition: no masking, no GO filter, our ``cv`` protocol."""
    r = results
    return r[(r["mask_rate"] == 0) & (r["leakage"] == "none") & (r["protocol"] == "cv")]


def tasks_in(results: pd.DataFrame) -> list[str]:
    present = set(results["task"])
    return [t for t in TASK_ORDER if t in present] + sorted(present - set(TASK_ORDER))


def model_graphs(results: pd.DataFrame) -> list[tuple[str, str]]:
    """(model, graph) pairs present, GNNs per graph first, then baselines."""
    pairs = set(zip(results["model"], results["graph"], strict=True))

    def rank(p):
        m, g = p
        return (
            MODEL_ORDER.index(m) if m in MODEL_ORDER else len(MODEL_ORDER),
            GRAPH_ORDER.index(g) if g in GRAPH_ORDER else len(GRAPH_ORDER),
            m,
            g,
        )

    return sorted(pairs, key=rank)


def mean_sd(values) -> tuple[float, float, int]:
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if not len(v):
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std()), len(v)


def fmt(m: float, s: float, n: int | None = None) -> str:
    if np.isnan(m):
        return MISSING
    text = f"{m:.2f} ± {s:.2f}"
    return f"{text} (n={n})" if n is not None else text


def primary_column(rows: pd.DataFrame) -> str:
    return rows["metric"].iloc[0]


def _cell(rows: pd.DataFrame, with_f1: bool = True) -> str:
    if rows.empty:
        return MISSING
    metric = primary_column(rows)
    m, s, n = mean_sd(rows[metric])
    text = fmt(m, s)
    if with_f1 and metric != "pearson" and "f1" in rows:
        fm, fs, _ = mean_sd(rows["f1"])
        text += f" / F1 {fmt(fm, fs)}"
    return f"{text} ({n})" if n else MISSING


def _markdown(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def table1(results: pd.DataFrame) -> str:
    """Tasks as columns; our models per graph, then the published rows."""
    ref = reference(results)
    tasks = tasks_in(results)
    body = []
    for model, graph in model_graphs(ref):
        rows = ref[(ref["model"] == model) & (ref["graph"] == graph)]
        label = f"ours: {model}" + (f" on {graph}" if graph != "none" else " (text only)")
        body.append([label] + [_cell(rows[rows["task"] == t]) for t in tasks])

    def published(d: dict, t: str) -> str:
        return fmt(*d[t]) if t in d else MISSING

    body.append(
        ["paper: Genen GCN on GO+PPI"]
        + [
            published(GENEN_GCN_AUC, t)
            + (
                f" / F1 {fmt(*GENEN_GCN_F1[t])}"
                if t in GENEN_GCN_F1 and t != "conservation"
                else ""
            )
            for t in tasks
        ]
    )
    body.append(
        ["paper: best baseline"]
        + [
            f"{BEST_BASELINE[t][1]:.2f} ({BEST_BASELINE[t][0]})" if t in BEST_BASELINE else MISSING
            for t in tasks
        ]
    )
    body.append(["GenePT (published)"] + [published(GENEPT_AUC, t) for t in tasks])
    return _markdown(["model"] + [TASK_TITLES.get(t, t) for t in tasks], body)


def comparison(results: pd.DataFrame, axis: str, fixed: dict) -> str:
    """One row per (task, model, graph), one column per value of ``axis``, other grid
    keys held at ``fixed``; empty when ``axis`` takes a single value."""
    r = results
    for k, v in fixed.items():
        r = r[r[k] == v]
    values = sorted(r[axis].unique()) if len(r) else []
    if len(values) < 2:
        return ""
    body = []
    for task in tasks_in(r):
        rt = r[r["task"] == task]
        for model, graph in model_graphs(rt):
            rows = rt[(rt["model"] == model) & (rt["graph"] == graph)]
            if rows[axis].nunique() < 2:
                continue
            body.append(
                [TASK_TITLES.get(task, task), model, graph]
                + [_cell(rows[rows[axis] == v], with_f1=False) for v in values]
            )
    if not body:
        return ""
    return _markdown(["task", "model", "graph"] + [f"{axis} = {v}" for v in values], body)


def study_table(results: pd.DataFrame) -> str:
    """Primary metric on less- vs well-studied test genes, reference condition."""
    ref = reference(results)
    body = []
    for task in tasks_in(ref):
        rt = ref[ref["task"] == task]
        metric = primary_column(rt)
        for model, graph in model_graphs(rt):
            rows = rt[(rt["model"] == model) & (rt["graph"] == graph)]
            cells = []
            for group in ("less_studied", "well_studied"):
                col = f"{metric}_{group}"
                cells.append(fmt(*mean_sd(rows[col])[:2]) if col in rows else MISSING)
            body.append([TASK_TITLES.get(task, task), model, graph, *cells])
    return _markdown(["task", "model", "graph", "less-studied", "well-studied"], body)


def masked_table(results: pd.DataFrame) -> str:
    """Primary metric on masked vs unmasked test genes, per masking rate above 0."""
    r = results[
        (results["mask_rate"] > 0) & (results["leakage"] == "none") & (results["protocol"] == "cv")
    ]
    body = []
    for task in tasks_in(r):
        rt = r[r["task"] == task]
        metric = primary_column(rt)
        for model, graph in model_graphs(rt):
            rows = rt[(rt["model"] == model) & (rt["graph"] == graph)]
            for rate in sorted(rows["mask_rate"].unique()):
                at = rows[rows["mask_rate"] == rate]
                cells = [
                    fmt(*mean_sd(at[f"{metric}_{g}"])[:2]) if f"{metric}_{g}" in at else MISSING
                    for g in ("masked", "unmasked")
                ]
                body.append([TASK_TITLES.get(task, task), model, graph, f"{rate:.0%}", *cells])
    if not body:
        return ""
    return _markdown(["task", "model", "graph", "masked", "masked genes", "unmasked genes"], body)


def missing_trials(status: dict | None) -> str:
    """Trials of the sweep that have no results (pending or failed), as a table."""
    if not status:
        return ""
    rows = [t for t in status["trials"] if t["status"] != "done"]
    if not rows:
        return "Every trial of the sweep has finished."
    keys = ["status", "task", "model", "graph", "mask_rate", "seed", "protocol", "leakage"]
    counts = pd.DataFrame(rows)[keys].astype(str).value_counts().reset_index(name="trials")
    header = keys + ["trials"]
    return _markdown(header, counts[header].astype(str).values.tolist())
