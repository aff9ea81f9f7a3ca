"""Paired per-fold evidence: two numbers measured on the same test folds, compared fold by fold.

Folds depend only on the task, the protocol and the seed (:mod:`genen_scale.tasks.folds`), and
the masked genes on the masking rate and the seed, so two trials that share ``task``,
``seed``, ``protocol`` and ``mask_rate`` tested the same genes in fold ``i``: their
fold-``i`` rows pair. A GNN cell pairs with the text baselines' rows this way (baselines
have no graph and no GO filter, so every ``leakage`` cell pairs with them); masked vs
unmasked and less- vs well-studied genes pair within one fold row.

Δ is ``a - b`` per fold; its spread is the sample sd (``ddof=1``); the tests are the
two-sided paired t-test and, from 5 folds, the exact two-sided Wilcoxon signed-rank test
(zero differences dropped). With 5 folds the smallest two-sided Wilcoxon p is
``2 / 2**5 = 0.0625``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from genen_scale.report.published import TASK_TITLES
from genen_scale.report.tables import (
    calibrated,
    condition,
    markdown,
    option_columns,
    order,
    reference,
)

# Columns that fix a fold's genes (train, validation, test and masked): rows equal on
# these tested the same genes.
FOLD_KEYS = ("task", "seed", "protocol", "mask_rate", "fold")
# Columns that fix a cell (one condition of one model); ``_cond``: selection rule and
# grid options (:func:`~genen_scale.report.tables.condition`).
CELL_KEYS = ["task", "model", "graph", "mask_rate", "protocol", "leakage", "_cond"]
GNN_MODELS = ("gcn", "gat")
# Fewest pairs for which the Wilcoxon signed-rank p is reported.
MIN_WILCOXON = 5


@dataclass(frozen=True)
class PairedDiff:
    """Paired differences ``a - b`` over folds.

    Attributes:
        n: Folds with both values.
        mean: Mean of the per-fold differences.
        sd: Their sample standard deviation (``ddof=1``; NaN below 2 folds).
        favour: Folds where ``a > b`` (out of ``n``).
        t_p: Two-sided paired t-test p (NaN below 2 folds or when every difference is equal).
        wilcoxon_p: Exact two-sided Wilcoxon signed-rank p (zero differences dropped);
            None below :data:`MIN_WILCOXON` folds.
    """

    n: int
    mean: float
    sd: float
    favour: int
    t_p: float
    wilcoxon_p: float | None


def paired_diff(a, b) -> PairedDiff:
    """Compare ``a`` and ``b`` fold by fold (equal-length sequences, fold ``i`` at ``i``);
    pairs with a NaN on either side are dropped."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values need equal 1-d shapes, got {a.shape} and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    d = a - b
    n = len(d)
    if n == 0:
        return PairedDiff(0, float("nan"), float("nan"), 0, float("nan"), None)
    sd = float(d.std(ddof=1)) if n > 1 else float("nan")
    t_p = float("nan")
    if n > 1 and sd > 0:
        t_p = float(stats.ttest_rel(a, b).pvalue)
    wilcoxon_p = None
    if n >= MIN_WILCOXON:
        if not d.any():
            wilcoxon_p = 1.0
        else:
            with warnings.catch_warnings():
                # Ties among |Δ| make scipy warn that the exact null is approximate.
                warnings.simplefilter("ignore")
                wilcoxon_p = float(stats.wilcoxon(d, method="exact").pvalue)
    return PairedDiff(n, float(d.mean()), sd, int((d > 0).sum()), t_p, wilcoxon_p)


def pair_rows(
    a: pd.DataFrame, b: pd.DataFrame, a_col: str, b_col: str, keys: tuple = FOLD_KEYS
) -> pd.DataFrame:
    """Rows of ``a`` and ``b`` joined on ``keys`` (only folds both have), as columns
    ``a`` and ``b`` beside the keys.

    Raises:
        ValueError: A fold key occurs twice on one side (two trials of one condition
            would be pooled; the message names their trials).
    """
    sides = []
    for name, rows, col in (("a", a, a_col), ("b", b, b_col)):
        dup = rows[rows.duplicated(list(keys), keep=False)]
        if len(dup):
            first = dup.iloc[0]
            where = ", ".join(f"{k}={first[k]}" for k in keys)
            same = (dup[list(keys)] == first[list(keys)]).all(axis=1)
            trials = ", ".join(sorted(dup.loc[same, "trial"]))
            raise ValueError(f"two rows to pair at {where}: trials {trials}")
        part = rows[list(keys)].copy()
        part[name] = rows[col].to_numpy() if col in rows else np.nan
        sides.append(part)
    return sides[0].merge(sides[1], on=list(keys), how="inner")


def check_unique(results: pd.DataFrame) -> None:
    """Raise unless each cell holds each (seed, fold) once (every table pairs by it).

    Raises:
        ValueError: Two trials of one condition (the message names them).
    """
    r = results.assign(_cond=condition(results), _cal=calibrated(results))
    pair_rows(r, r.iloc[:0], "trial", "trial", (*CELL_KEYS, "seed", "fold", "_cal"))


@dataclass(frozen=True)
class PairedCell:
    """One condition's paired comparison: what was compared and the evidence."""

    labels: tuple[str, ...]
    mean_a: float
    mean_b: float
    diff: PairedDiff


def _labels(key: tuple) -> tuple[str, ...]:
    """A cell's labels from its :data:`CELL_KEYS` values (masking rate as a percentage)."""
    task, model, graph, rate, protocol, leakage, rule = key
    return (task, model, graph, f"{rate:.0%}", protocol, leakage, rule)


def _cell(labels: tuple[str, ...], pairs: pd.DataFrame) -> PairedCell:
    return PairedCell(
        labels, pairs["a"].mean(), pairs["b"].mean(), paired_diff(pairs["a"], pairs["b"])
    )


def versus_baseline(results: pd.DataFrame, baseline: str) -> list[PairedCell]:
    """Every GNN cell (model, graph, task, mask rate, protocol, leakage, condition)
    against ``baseline`` on the same folds, primary metric.

    Beyond the fold, a baseline row must match the GNN row's grid options and its
    calibration (threshold chosen on validation or not), so a re-run that calibrates
    pairs with its own baseline rows, older rows with older rows.
    """
    r = results.assign(_cond=condition(results), _cal=calibrated(results))
    base = r[r["model"] == baseline]
    keys = (*FOLD_KEYS, *option_columns(results), "_cal")
    cells = []
    for key, rows in r[r["model"].isin(GNN_MODELS)].groupby(CELL_KEYS, sort=False):
        metric = rows["metric"].iloc[0]
        pairs = pair_rows(rows, base, metric, metric, keys)
        if not pairs.empty:
            cells.append(_cell(_labels(key), pairs))
    return cells


def across(results: pd.DataFrame, axis: str, reference_value) -> list[PairedCell]:
    """Each cell against the cell that differs from it only in ``axis`` (there
    ``reference_value``), on the same folds, primary metric: a GO filter vs none, GAT vs
    GCN, a masking rate vs none. Folds do not depend on the masking rate, so across
    rates the fold key leaves the rate out (the masked genes differ, the folds do not).
    Labels: those of the compared (not the reference) cell."""
    # A grid option as the axis leaves the condition (it is what differs) and keys cells.
    option = axis not in CELL_KEYS and axis not in FOLD_KEYS
    r = results.assign(_cond=condition(results, exclude=axis if option else None))
    group = [*CELL_KEYS, axis] if option else CELL_KEYS
    keys = tuple(k for k in FOLD_KEYS if k != axis)
    ref = r[r[axis] == reference_value]
    cells = []
    for key, rows in r[r[axis] != reference_value].groupby(group, sort=False):
        same = (ref[k] == v for k, v in zip(group, key, strict=True) if k != axis)
        other = ref[np.logical_and.reduce(list(same))]
        if other.empty:
            continue
        metric = rows["metric"].iloc[0]
        pairs = pair_rows(rows, other, metric, metric, keys)
        if pairs.empty:
            continue
        labels = _labels(key[: len(CELL_KEYS)])
        if option:  # the compared value joins the condition label
            labels = (*labels[:-1], ", ".join(p for p in (labels[-1], f"{axis} {key[-1]}") if p))
        cells.append(_cell(labels, pairs))
    return cells


def within_rows(rows: pd.DataFrame, group_a: str, group_b: str) -> list[PairedCell]:
    """Per (task, model, graph, mask rate, protocol, leakage, condition) cell, the
    primary metric on the test genes of ``group_a`` vs ``group_b`` (``<metric>_<group>``
    columns of the same fold rows). Labels as :func:`versus_baseline`'s."""
    cells = []
    for key, cell in rows.assign(_cond=condition(rows)).groupby(CELL_KEYS, sort=False):
        metric = cell["metric"].iloc[0]
        pairs = pair_rows(cell, cell, f"{metric}_{group_a}", f"{metric}_{group_b}")
        pairs = pairs.dropna(subset=["a", "b"])
        if not pairs.empty:
            cells.append(_cell(_labels(key), pairs))
    return cells


def fmt_p(p: float | None) -> str:
    if p is None or np.isnan(p):
        return "—"
    # Four decimals keep the 5-fold Wilcoxon floor readable as 0.0625.
    return "< 0.001" if p < 0.001 else f"{p:.4f}"


def fmt_diff(d: PairedDiff) -> list[str]:
    """Δ mean ± sd, folds in favour, t-test p, Wilcoxon p: four table cells."""
    sd = "—" if np.isnan(d.sd) else f"{d.sd:.3f}"
    return [f"{d.mean:+.3f} ± {sd}", f"{d.favour} of {d.n}", fmt_p(d.t_p), fmt_p(d.wilcoxon_p)]


EXPLANATION = (
    "Δ = the first number − the second per test fold, on the same folds: same task, seed, "
    "protocol and fold index (equal seeds give equal folds), and the same masked genes "
    "where the masking rate is equal. Δ ± the sample sd (ddof 1) of the per-fold Δ; "
    "*ahead*: folds with Δ > 0, of those paired. *t p*: two-sided paired t-test "
    "(`scipy.stats.ttest_rel`); *Wilcoxon p*: exact two-sided Wilcoxon signed-rank test "
    "(`scipy.stats.wilcoxon`, zero differences dropped), given from 5 folds. With 5 folds "
    "the smallest two-sided Wilcoxon p is 0.0625 (all five folds one way), so no 5-fold "
    "comparison reaches 0.05 on it; the t-test on 5 folds leans on normal Δ and on "
    "independent folds, which share most of their training genes (so it is optimistic). "
    "Read a 5-fold difference as within noise unless every fold agrees and the t-test p "
    "is small."
)


# Label positions of a PairedCell: task, model, graph, mask rate, protocol, leakage, rule.
LABELS = ("task", "model", "graph", "masked", "protocol", "leakage", "condition")


def _sorted(cells: list[PairedCell]) -> list[PairedCell]:
    """Table 1's order: task, model, graph, then masking rate and the other labels."""

    def rank(c: PairedCell):
        task, model, graph, rate, *rest = c.labels
        return (*order(model, graph, task), float(rate.rstrip("%")), *rest)

    return sorted(cells, key=rank)


def _table(cells: list[PairedCell], shown: list[str], stat: list[str], results) -> str:
    """Markdown of ``cells``: the ``shown`` labels (plus the condition where any cell has
    one), both means, then the paired evidence under the ``stat`` headers."""
    if any(c.labels[-1] for c in cells):
        shown = [*shown, "condition"]
    at = [LABELS.index(name) for name in shown]
    body = [
        [TASK_TITLES.get(c.labels[0], c.labels[0]), *(c.labels[i] or "—" for i in at[1:])]
        + [f"{c.mean_a:.3f}", f"{c.mean_b:.3f}", *fmt_diff(c.diff)]
        for c in cells
    ]
    return markdown(shown + stat + ["t p", "Wilcoxon p"], body)


def baseline_table(results: pd.DataFrame, baseline: str) -> str:
    """Markdown: every GNN cell against ``baseline`` on the same folds; empty when there
    is nothing to pair."""
    cells = _sorted(versus_baseline(results, baseline))
    if not cells:
        return ""
    stat = ["GNN", baseline, f"Δ GNN − {baseline} ± sd", "GNN ahead"]
    return _table(cells, list(LABELS[:6]), stat, results)


def masked_table(results: pd.DataFrame, leakage: str = "none") -> str:
    """Markdown: masked vs unmasked test genes of the same fold rows, masking rate above
    0, our protocol, the GO filter ``leakage``; empty without such rows."""
    r = results[
        (results["mask_rate"] > 0) & (results["leakage"] == leakage) & (results["protocol"] == "cv")
    ]
    cells = _sorted(within_rows(r, "masked", "unmasked"))
    if not cells:
        return ""
    stat = ["masked genes", "unmasked genes", "Δ masked − unmasked ± sd", "masked ahead"]
    return _table(cells, list(LABELS[:4]), stat, results)


def across_table(results: pd.DataFrame, axis: str, reference_value, fixed: dict) -> str:
    """Markdown of :func:`across` on the rows where the ``fixed`` keys hold; empty when
    nothing pairs."""
    r = results
    for k, v in fixed.items():
        r = r[r[k] == v]
    cells = _sorted(across(r, axis, reference_value))
    if not cells:
        return ""
    ref = f"{reference_value:.0%}" if axis == "mask_rate" else reference_value
    stat = ["this cell", f"{axis} {ref}", f"Δ vs {axis} {ref} ± sd", "this cell ahead"]
    column = {"masked": "mask_rate"}  # the other labels name their column
    shown = [n for n in LABELS[:6] if column.get(n, n) not in fixed]
    return _table(cells, shown, stat, results)


def study_table(results: pd.DataFrame) -> str:
    """Markdown: less- vs well-studied test genes of the same fold rows, reference
    condition; empty without the columns."""
    cells = _sorted(within_rows(reference(results), "less_studied", "well_studied"))
    if not cells:
        return ""
    stat = ["less-studied", "well-studied", "Δ less − well ± sd", "less ahead"]
    return _table(cells, list(LABELS[:3]), stat, results)
