"""Markdown tables of a sweep's ``results.parquet``: Table 1 beside the published numbers,
protocol and leakage comparisons, and what is missing (paired per-fold comparisons:
:mod:`genen_scale.report.paired`).

Every cell is the mean ± sample sd (``ddof=1``) over the rows (folds, pooled over seeds)
of one (model, graph, task) under the stated condition, with the number of folds;
nothing here is typed except the published rows (:mod:`genen_scale.report.published`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genen_scale.report.origin import NOTE, real_data_tasks
from genen_scale.report.published import (
    BEST_BASELINE,
    GENEN_GCN_AUC,
    GENEN_GCN_F1,
    GENEPT_AUC,
    TASK_ORDER,
    TASK_TITLES,
)
from genen_scale.sweep.config import BASELINE_MODELS
from genen_scale.training.selection import STILL_IMPROVING

MISSING = "—"
NOT_RECORDED = "not recorded"
GRAPH_ORDER = ("go_ppi", "go", "ppi", "none")
MODEL_ORDER = ("gcn", "gat", "logreg", "mlp")
# How a condition names a value of the ``recipe`` column; ``ours`` (the grid's own
# options) and ``none`` (baselines) are the default and name nothing.
RECIPE_LABELS = {"paper": "authors' recipe"}


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
    return sorted(pairs, key=lambda p: order(*p))


def order(model: str, graph: str, task: str | None = None) -> tuple:
    """Sort key of a cell: task in Table 1's order, then GNNs per graph, then baselines."""

    def at(value, known: tuple) -> int:
        return known.index(value) if value in known else len(known)

    head = () if task is None else (at(task, TASK_ORDER), task)
    return (*head, at(model, MODEL_ORDER), at(graph, GRAPH_ORDER), model, graph)


def mean_sd(values) -> tuple[float, float, int]:
    """Mean, sample sd (``ddof=1``; NaN for one value) and count of the non-NaN values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if not len(v):
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan"), len(v)


def fmt(m: float, s: float, n: int | None = None) -> str:
    if np.isnan(m):
        return MISSING
    text = f"{m:.2f} ± {s:.2f}" if not np.isnan(s) else f"{m:.2f}"
    return f"{text} (n={n})" if n is not None else text


def primary_column(rows: pd.DataFrame) -> str:
    return rows["metric"].iloc[0]


def calibrated(rows: pd.DataFrame) -> pd.Series:
    """Per row: were F1 and accuracy read at a threshold chosen on validation (binary rows
    that record ``threshold``)? Rows from before thresholds were recorded: F1 at 0.5."""
    if "threshold" not in rows:
        return pd.Series(False, index=rows.index)
    return rows["threshold"].notna()


def option_columns(rows: pd.DataFrame) -> list[str]:
    """Grid ``options`` keys that are columns of the rows (dotted names, ``optim.lr``)."""
    return sorted(c for c in rows.columns if "." in c)


def condition(rows: pd.DataFrame, exclude: str | None = None, with_rule: bool = True) -> pd.Series:
    """Per row, how it was trained beyond the grid keys: the authors' recipe where a row
    used one, the model-selection rule (GNN rows from before it was recorded:
    :data:`NOT_RECORDED`; left out with ``with_rule=False``) and the grid options but
    ``exclude`` (the option a table compares across); rows of different conditions are
    never pooled or paired as one cell."""
    parts = []
    if "recipe" in rows and exclude != "recipe":
        parts.append(rows["recipe"].map(lambda v: RECIPE_LABELS.get(v, "")))
    if "selection" in rows and with_rule:
        gnn = ~rows["model"].isin(BASELINE_MODELS)
        rule = (
            rows["selection"].astype(object).where(rows["selection"].notna() | ~gnn, NOT_RECORDED)
        )
        parts.append(rule.map(lambda v: "" if pd.isna(v) else f"selection {v}"))
    for col in (c for c in option_columns(rows) if c != exclude):
        parts.append(rows[col].map(lambda v, c=col: "" if pd.isna(v) else f"{c} {v}"))
    if not parts:
        return pd.Series("", index=rows.index, dtype=object)
    rows_of_parts = zip(*(p.tolist() for p in parts), strict=True)
    return pd.Series(
        [", ".join(t for t in r if t) for r in rows_of_parts], index=rows.index, dtype=object
    )


def _f1(rows: pd.DataFrame) -> tuple[pd.Series, str]:
    """The F1 a cell shows and its label: at the validation threshold where every row
    recorded one, else at 0.5 (``f1_05`` where recorded, ``f1`` of older rows)."""
    cal = calibrated(rows)
    if cal.all():
        return rows["f1"], "F1@val"
    at_half = rows["f1_05"].where(cal, rows["f1"]) if "f1_05" in rows else rows["f1"]
    return at_half, "F1@0.5"


def cell(rows: pd.DataFrame, with_f1: bool = True, label_f1: bool = False) -> str:
    if rows.empty:
        return MISSING
    metric = primary_column(rows)
    m, s, n = mean_sd(rows[metric])
    text = fmt(m, s)
    if with_f1 and metric != "pearson" and "f1" in rows:
        values, label = _f1(rows)
        fm, fs, _ = mean_sd(values)
        text += f" / {label if label_f1 else 'F1'} {fmt(fm, fs)}"
    return f"{text} ({n})" if n else MISSING


def markdown(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def table1(results: pd.DataFrame) -> str:
    """Tasks as columns; our models per graph, then the published rows."""
    ref = reference(results)
    ref = ref.assign(_condition=condition(ref))
    tasks = tasks_in(results)
    # Label each F1 only when cells read it at different thresholds.
    label_f1 = calibrated(ref).any()
    body = []
    for model, graph in model_graphs(ref):
        pair = ref[(ref["model"] == model) & (ref["graph"] == graph)]
        conditions = sorted(pair["_condition"].unique())
        for cond in conditions:  # two conditions of one model are never pooled
            rows = pair[pair["_condition"] == cond]
            label = f"ours: {model}" + (f" on {graph}" if graph != "none" else " (text only)")
            if len(conditions) > 1:
                label += f", {cond or 'no condition recorded'}"
            body.append([label] + [cell(rows[rows["task"] == t], True, label_f1) for t in tasks])

    real = real_data_tasks(results)

    def published(d: dict, t: str) -> str:
        return fmt(*d[t]) if t in d and t in real else MISSING

    body.append(
        ["paper: Genen GCN on GO+PPI"]
        + [
            published(GENEN_GCN_AUC, t)
            + (
                f" / F1 {fmt(*GENEN_GCN_F1[t])}"
                if t in GENEN_GCN_F1 and t != "conservation" and t in real
                else ""
            )
            for t in tasks
        ]
    )
    body.append(
        ["paper: best baseline"]
        + [
            f"{BEST_BASELINE[t][1]:.2f} ({BEST_BASELINE[t][0]})"
            if t in BEST_BASELINE and t in real
            else MISSING
            for t in tasks
        ]
    )
    body.append(["GenePT (published)"] + [published(GENEPT_AUC, t) for t in tasks])
    table = markdown(["model"] + [TASK_TITLES.get(t, t) for t in tasks], body)
    synthetic = [TASK_TITLES.get(t, t) for t in tasks if t not in real]
    return table + ("\n\n" + NOTE.format(tasks=", ".join(synthetic)) if synthetic else "")


def comparison(results: pd.DataFrame, axis: str, fixed: dict) -> str:
    """One row per (task, model, graph, condition), one column per value of ``axis``,
    other grid keys held at ``fixed``; empty when ``axis`` takes a single value. Rows of
    different conditions (:func:`condition`, ``axis`` left out) are never pooled."""
    r = results
    for k, v in fixed.items():
        r = r[r[k] == v]
    values = sorted(r[axis].unique()) if len(r) else []
    if len(values) < 2:
        return ""
    cond = condition(r, exclude=axis)
    if axis == "protocol" and "selection" in r:
        # Each protocol has its own selection rule (paper: the last epoch), so across
        # protocols the rule is part of what is compared; a cell where one protocol
        # mixes rules (older rows) keeps them apart.
        loose = condition(r, exclude=axis, with_rule=False)
        keys = ["task", "model", "graph"]
        rules = r.assign(_c=loose).groupby([*keys, "_c", axis], dropna=False)["selection"]
        mixed = rules.transform(lambda v: v.nunique(dropna=False) > 1)
        mixed = mixed.groupby([*(r[k] for k in keys), loose], dropna=False).transform("any")
        cond = cond.where(mixed, loose)
    several = cond.nunique() > 1
    body = []
    for task in tasks_in(r):
        rt = r[r["task"] == task]
        for model, graph in model_graphs(rt):
            rows = rt[(rt["model"] == model) & (rt["graph"] == graph)]
            for c in sorted(cond[rows.index].unique()):
                at = rows[cond[rows.index] == c]
                if at[axis].nunique() < 2:
                    continue
                body.append(
                    [TASK_TITLES.get(task, task), model, graph]
                    + ([c or "—"] if several else [])
                    + [cell(at[at[axis] == v], with_f1=False) for v in values]
                )
    if not body:
        return ""
    head = ["task", "model", "graph"] + (["condition"] if several else [])
    return markdown(head + [f"{axis} = {v}" for v in values], body)


def still_improving(results: pd.DataFrame) -> str:
    """Markdown: per GNN cell on our folds, how many folds kept one of their last
    :data:`STILL_IMPROVING` epochs (training ended by the epoch cap while validation still
    improved), with the median kept and run epochs; only cells with such a fold, or ""."""
    r = results[(results["protocol"] == "cv") & ~results["model"].isin(BASELINE_MODELS)]
    if r.empty or "best_epoch" not in r or "epochs" not in r:
        return ""
    r = r.assign(_cond=condition(r), _late=r["best_epoch"] >= r["epochs"] - STILL_IMPROVING)
    keys = ["task", "model", "graph", "mask_rate", "leakage", "_cond"]
    cells = []
    for (task, model, graph, rate, leakage, cond), rows in r.groupby(keys, sort=False):
        if rows["_late"].any():
            row = [TASK_TITLES.get(task, task), model, graph, f"{rate:.0%}", leakage, cond or "—",
                   f"{int(rows['_late'].sum())} of {len(rows)}",
                   f"{rows['best_epoch'].median():.0f}", f"{rows['epochs'].median():.0f}"]  # fmt: skip
            cells.append(((order(model, graph, task), rate, leakage), row))
    if not cells:
        return ""
    head = ["task", "model", "graph", "masked", "leakage", "condition"]
    head += [
        f"folds that kept one of their last {STILL_IMPROVING} epochs",
        "kept epoch",
        "epochs run",
    ]
    late, total = int(r["_late"].sum()), len(r)
    body = [row for _, row in sorted(cells, key=lambda c: c[0])]
    return f"{late} of {total} GNN folds on our folds.\n\n" + markdown(head, body)


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
    return markdown(header, counts[header].astype(str).values.tolist())
