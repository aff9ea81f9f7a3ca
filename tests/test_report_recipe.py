"""The report with a second sweep joined: the authors' recipe beside our options under
both protocols, the text baseline both sweeps ran read once, the recipe paired with ours
on the same folds, and the protocol comparison that does not split a cell by its
protocol's own selection rule."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genen_scale.report import recipe_tables, tables
from genen_scale.report.cli import main as report_main

FOLDS = 5


def _rows(trial, model, protocol, values, recipe=None, graph="go_ppi") -> pd.DataFrame:
    gnn = model != "logreg"
    return pd.DataFrame(
        {
            "trial": trial,
            "task": "solubility",
            "model": model,
            "graph": graph if gnn else "none",
            "mask_rate": 0.0,
            "seed": 0,
            "protocol": protocol,
            "leakage": "none",
            "fold": range(FOLDS),
            "metric": "auc",
            "auc": values,
            # Each protocol's own rule: validation loss on our folds, last epoch on theirs.
            "selection": (("val_loss" if protocol == "cv" else "last_epoch") if gnn else None),
            "host": "test",
            "wall_s": 1.0,
            "run_dir": f"trials/{trial}/run",
            **({"recipe": recipe} if recipe else {}),
        }
    )


def _sweep(path, frames) -> str:
    path.mkdir(parents=True)
    pd.concat(frames, ignore_index=True).to_parquet(path / "results.parquet")
    return str(path)


def test_the_recipe_sweep_joins_the_grid_beside_ours(tmp_path):
    base = np.array([0.90, 0.91, 0.92, 0.93, 0.94])
    grid = _sweep(
        tmp_path / "grid",
        [
            _rows("gcn-cv", "gcn", "cv", base),
            _rows("gcn-paper", "gcn", "paper", base - 0.05),
            _rows("lr-cv", "logreg", "cv", base - 0.04),
            _rows("lr-paper", "logreg", "paper", base - 0.06),
        ],
    )
    recipe = _sweep(
        tmp_path / "recipe",
        [
            # The recipe sweep's own logreg (another trial id, same cell and folds): read once.
            _rows("lr-cv-2", "logreg", "cv", base + 0.5, recipe="none"),
            _rows("rec-cv", "gcn", "cv", base + [0.02, 0.03, 0.01, 0.02, -0.01], "paper"),
            _rows("rec-paper", "gcn", "paper", base - 0.02, "paper"),
        ],
    )
    out = tmp_path / "report.md"
    args = [grid, "--join", f"[{recipe}]", "--output", str(out), "--tsne_task", "solubility"]
    assert report_main(args) == 0
    text = out.read_text()
    assert f"from `results.parquet` and those of `{recipe}`: 6 finished trials" in text

    # Side by side: published, ours and the recipe under both protocols, logreg.
    assert (
        "| Solubility | 0.99 ± 0.02 | 0.92 ± 0.02 (5) | 0.87 ± 0.02 (5) | 0.93 ± 0.01 (5) | "
        "0.90 ± 0.02 (5) | 0.88 ± 0.02 (5) | 0.86 ± 0.02 (5) |" in text
    )
    # The recipe vs ours, paired within each protocol.
    recipe_cv = "| Solubility | gcn | go_ppi | cv | selection val_loss, recipe paper |"
    assert f"{recipe_cv} 0.934 | 0.920 | +0.014 ± 0.015 | 4 of 5 |" in text
    recipe_paper = "| Solubility | gcn | go_ppi | paper | selection last_epoch, recipe paper |"
    assert f"{recipe_paper} 0.900 | 0.870 | +0.030 ± 0.000 | 5 of 5 |" in text
    # The joined logreg duplicate was dropped: the grid's own rows (0.88) pair with the GNN.
    cell = "| Solubility | gcn | go_ppi | 0% | cv | none | authors' recipe, selection val_loss |"
    assert f"{cell} 0.934 | 0.880 | +0.054 ± 0.015 | 5 of 5 |" in text
    # Published vs ours in three steps: the recipe (paired), the protocol, what is left.
    steps = (
        "| Solubility | 0.99 | 0.920 | +0.014 ± 0.015, 4 of 5, t p 0.1079 | 0.934 | -0.034, Welch p"
    )
    assert steps in text and "| 0.900 | +0.090, 0 of 5 splits ≥ paper, t p < 0.001 |" in text
    # Across protocols one row per recipe: the protocol's own rule does not split it.
    assert (
        "| Solubility | gcn | go_ppi | authors' recipe | 0.93 ± 0.01 (5) | 0.90 ± 0.02 (5) |"
        in text
    )
    assert "| Solubility | gcn | go_ppi | — | 0.92 ± 0.02 (5) | 0.87 ± 0.02 (5) |" in text


def test_rows_without_a_recipe_trained_ours_and_a_mixed_rule_stays_apart():
    rows = pd.concat(
        [
            _rows("a", "gcn", "cv", np.full(FOLDS, 0.9), "paper"),
            _rows("b", "gcn", "cv", np.full(FOLDS, 0.8)),
            _rows("c", "logreg", "cv", np.full(FOLDS, 0.7)),
        ],
        ignore_index=True,
    )
    filled = recipe_tables.fill_recipe(rows)
    assert filled.groupby("trial")["recipe"].first().to_dict() == {
        "a": "paper",
        "b": "ours",
        "c": "none",
    }
    assert recipe_tables.has_recipes(filled) and not recipe_tables.has_recipes(filled.iloc[5:])
    conditions = {"authors' recipe, selection val_loss", "selection val_loss", ""}
    assert set(tables.condition(filled)) == conditions
    # Our folds under two rules (an older trial kept the best validation metric): the
    # protocol comparison keeps those rows apart rather than pool them; the recipe's
    # cell, one rule per protocol, still lines up across protocols.
    older = filled.iloc[5:10].assign(trial="e", selection="val_metric")
    theirs = [_rows("d", "gcn", "paper", np.full(FOLDS, 0.85)), older]
    theirs.append(_rows("f", "gcn", "paper", np.full(FOLDS, 0.88), "paper"))
    mixed = recipe_tables.fill_recipe(pd.concat([filled, *theirs], ignore_index=True))
    side = tables.comparison(mixed, "protocol", {})
    assert "| authors' recipe | 0.90 ± 0.00 (5) | 0.88 ± 0.00 (5) |" in side
    assert "(10)" not in side and side.count("| gcn |") == 1


def test_a_joined_grid_option_is_a_cell_of_its_own(tmp_path):
    """Rows of a joined sweep that differ from the first's only in a grid option (edge
    weights) are other cells, not duplicates of the first's."""
    base = np.array([0.90, 0.91, 0.92, 0.93, 0.94])
    grid = _sweep(tmp_path / "grid", [_rows("gcn", "gcn", "cv", base)])
    fixed = _rows("gcn-fixed", "gcn", "cv", base + 0.01).assign(**{"model.edge_weight": "fixed"})
    again = _rows("gcn-again", "gcn", "cv", base - 0.5)  # the same cell: read from the first
    other = _sweep(tmp_path / "other", [fixed, again])
    out = tmp_path / "report.md"
    assert report_main([grid, "--join", f"[{other}]", "--output", str(out)]) == 0
    text = out.read_text()
    assert "2 finished trials" in text and "## Grid option `model.edge_weight`" in text
    assert (
        "| selection val_loss, model.edge_weight fixed | 0.930 | 0.920 | +0.010 ± 0.000 | 5 of 5 |"
        in text
    )
    # The recipe tables read the default cell only: an option's rows are not pooled in.
    recipe = _rows("r", "gcn", "cv", base + 0.03, "paper")
    rows = recipe_tables.fill_recipe(pd.concat([_rows("g", "gcn", "cv", base), fixed, recipe]))
    assert "| Solubility | 0.99 ± 0.02 | 0.92 ± 0.02 (5) | — | 0.95 ± 0.02 (5) |" in (
        recipe_tables.side_by_side(rows)
    )
