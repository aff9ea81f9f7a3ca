"""The authors' training recipe beside ours, under their splits and ours (issue 20).

A published number differs from ours by two things at once: the recipe (epochs, learning
rate, depth, schedule: :mod:`genen_scale.training.paper_recipe`) and the protocol (their
five random 80/20 splits with the last epoch's model, our stratified folds with a
validation split). With both recipes run under both protocols, the recipe's share is a
paired comparison within each protocol (same folds, same test genes); the protocol's share
is not paired (the protocols test different genes), so it is read against the text
baseline run on the same splits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from genen_scale.report import paired
from genen_scale.report.origin import real_data_tasks
from genen_scale.report.published import GENEN_GCN_AUC, TASK_TITLES
from genen_scale.report.tables import MISSING, cell, fmt, markdown, option_columns, tasks_in
from genen_scale.sweep.config import BASELINE_MODELS

# A GNN row without a recipe trained the grid's own options.
OURS = "ours"
PROTOCOLS = ("cv", "paper")
PROTOCOL_NAMES = {"cv": "our folds", "paper": "their splits"}


def fill_recipe(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with a ``recipe`` column on every row where any row has one (rows of a
    grid without the recipe axis joined with rows of one that has it): GNN rows without a
    value trained ``ours``, baselines ``none``."""
    if "recipe" not in results:
        return results
    gnn = ~results["model"].isin(BASELINE_MODELS)
    missing = results["recipe"].isna()
    filled = results["recipe"].astype(object)
    filled = filled.mask(missing & gnn, OURS).mask(missing & ~gnn, "none")
    return results.assign(recipe=filled)


def has_recipes(results: pd.DataFrame) -> bool:
    """Do the rows hold a GNN trained with the authors' recipe and one trained with ours?"""
    return "recipe" in results and {OURS, "paper"} <= set(results["recipe"])


def _reference(results: pd.DataFrame, model: str, graph: str) -> pd.DataFrame:
    """Rows of ``model`` on ``graph`` (and the text baselines) without masking or GO
    filter, every grid option at its default (edge-weight variants are other cells)."""
    r = results[(results["mask_rate"] == 0) & (results["leakage"] == "none")]
    r = r[r[option_columns(r)].isna().all(axis=1)]
    gnn = (r["model"] == model) & (r["graph"] == graph)
    return r[gnn | r["model"].isin(BASELINE_MODELS)]


def side_by_side(results: pd.DataFrame, model: str = "gcn", graph: str = "go_ppi") -> str:
    """Per task, the published GCN beside ``model`` on ``graph`` trained with our options
    and with the authors' recipe, and logistic regression on the same text, each under
    both protocols (no masking, every GO term): primary metric, mean ± sample sd (folds)."""
    r = _reference(results, model, graph)
    gnn = r[r["model"] == model]
    text = r[r["model"] == "logreg"]
    columns = [
        (f"{label}, {PROTOCOL_NAMES[p]}", rows[rows["protocol"] == p])
        for label, rows in (
            ("ours", gnn[gnn["recipe"] == OURS]),
            ("authors' recipe", gnn[gnn["recipe"] == "paper"]),
            ("logreg", text),
        )
        for p in PROTOCOLS
    ]
    real = real_data_tasks(results)
    body = []
    for task in tasks_in(gnn):
        published = fmt(*GENEN_GCN_AUC[task]) if task in GENEN_GCN_AUC and task in real else MISSING
        cells = [cell(rows[rows["task"] == task], with_f1=False) for _, rows in columns]
        body.append([TASK_TITLES.get(task, task), published, *cells])
    if not body:
        return ""
    return markdown(["task", "paper: Genen GCN"] + [name for name, _ in columns], body)


def decomposition(results: pd.DataFrame, model: str = "gcn", graph: str = "go_ppi") -> str:
    """Per task, the published GCN against ours on our folds in three steps, each with its
    evidence: the recipe (authors' recipe − ours, our folds: paired), the protocol (the
    recipe on their splits − on our folds: different test genes, so Welch's t-test), and
    what is left (published − the recipe on their splits: our 5 splits against the
    published mean, one-sample t-test; the paper gives no per-split values)."""
    r = _reference(results, model, graph)
    r = r[r["model"] == model]
    real = real_data_tasks(results)
    body = []
    for task in tasks_in(r):
        if task not in GENEN_GCN_AUC or task not in real:
            continue
        rt = r[r["task"] == task]
        metric = rt["metric"].iloc[0]

        def values(recipe: str, protocol: str, rt=rt, metric=metric) -> pd.Series:
            at = rt[(rt["recipe"] == recipe) & (rt["protocol"] == protocol)]
            return at.set_index(["seed", "fold"])[metric].dropna()

        ours, recipe_cv, recipe_paper = (
            values(OURS, "cv"),
            values("paper", "cv"),
            values("paper", "paper"),
        )
        published = GENEN_GCN_AUC[task][0]
        mean = lambda v: f"{v.mean():.3f}" if len(v) else MISSING  # noqa: E731
        step1 = MISSING
        if len(ours) and len(recipe_cv):
            both = recipe_cv.to_frame("a").join(ours.to_frame("b"), how="inner")
            d = paired.paired_diff(both["a"], both["b"])
            step1 = f"{d.mean:+.3f} ± {d.sd:.3f}, {d.favour} of {d.n}, t p {paired.fmt_p(d.t_p)}"
        step2 = MISSING
        if len(recipe_cv) > 1 and len(recipe_paper) > 1:
            p = stats.ttest_ind(recipe_paper, recipe_cv, equal_var=False).pvalue
            step2 = f"{recipe_paper.mean() - recipe_cv.mean():+.3f}, Welch p {paired.fmt_p(p)}"
        step3 = MISSING
        if len(recipe_paper) > 1:
            p = stats.ttest_1samp(recipe_paper, published).pvalue
            above = int(np.sum(recipe_paper.to_numpy() >= published))
            step3 = (
                f"{published - recipe_paper.mean():+.3f}, {above} of {len(recipe_paper)} "
                f"splits ≥ paper, t p {paired.fmt_p(p)}"
            )
        body.append(
            [TASK_TITLES.get(task, task), f"{published:.2f}", mean(ours), step1, mean(recipe_cv),
             step2, mean(recipe_paper), step3]
        )  # fmt: skip
    if not body:
        return ""
    head = [
        "task", "paper", "ours, our folds", "recipe − ours (our folds, paired)",
        "recipe, our folds", "their splits − our folds (recipe)", "recipe, their splits",
        "paper − recipe on their splits",
    ]  # fmt: skip
    return markdown(head, body)


def recipe_vs_ours(results: pd.DataFrame) -> str:
    """Markdown: each GNN cell trained with the authors' recipe against the same model,
    graph and protocol trained with ours, on the same folds (no masking, every GO term)."""
    gnn = results[~results["model"].isin(BASELINE_MODELS)]
    return paired.across_table(gnn, "recipe", OURS, {"mask_rate": 0, "leakage": "none"})
