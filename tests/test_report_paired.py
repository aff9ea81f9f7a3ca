"""Paired per-fold evidence of the report: statistics against a hand computation, pairing
by fold on generated result rows, and Table 1's sample sd and F1 labels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from genen_scale.report import paired, tables
from genen_scale.report.cli import main as report_main
from genen_scale.report.paired import paired_diff, versus_baseline, within_rows


def test_paired_diff_matches_a_hand_computation():
    a = [0.90, 0.85, 0.80, 0.88, 0.70]
    b = [0.84, 0.86, 0.77, 0.80, 0.72]
    # Δ = 0.06, -0.01, 0.03, 0.08, -0.02: mean 0.028; squared deviations sum to 0.00748.
    sd = math.sqrt(0.00748 / 4)
    t = 0.028 / (sd / math.sqrt(5))
    # Exact signed-rank null, n = 5: ranks of |Δ| are 4, 1, 3, 5, 2, so W- = 1 + 2 = 3;
    # 5 of the 32 sign patterns have a rank sum <= 3 ({}, {1}, {2}, {3}, {1, 2}).
    got = paired_diff(a, b)
    assert got.n == 5 and got.favour == 3
    assert got.mean == pytest.approx(0.028) and got.sd == pytest.approx(sd)
    assert got.t_p == pytest.approx(2 * stats.t.sf(t, df=4))
    assert got.wilcoxon_p == pytest.approx(2 * 5 / 32)


def test_paired_diff_floor_nan_and_small_n():
    # Every fold one way: the smallest two-sided exact p with 5 folds.
    assert paired_diff([2, 3, 4, 5, 6], [1, 1, 1, 1, 1]).wilcoxon_p == pytest.approx(0.0625)
    # A NaN on either side drops the pair; below 5 pairs no Wilcoxon p.
    got = paired_diff([0.9, np.nan, 0.7, 0.6, 0.5], [0.8, 0.8, np.nan, 0.5, 0.6])
    assert (got.n, got.favour, got.wilcoxon_p) == (3, 2, None)
    one = paired_diff([0.9], [0.8])
    assert one.n == 1 and math.isnan(one.sd) and math.isnan(one.t_p)
    with pytest.raises(ValueError, match="equal 1-d shapes"):
        paired_diff([1, 2], [1])


def _rows(model, graph, seed, mask_rate, values, leakage="none", **extra) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "trial": f"{model}-{graph}-{seed}-{mask_rate}-{leakage}",
            "task": "toy",
            "model": model,
            "graph": graph,
            "mask_rate": mask_rate,
            "seed": seed,
            "protocol": "cv",
            "leakage": leakage,
            "fold": range(n),
            "metric": "auc",
            "auc": values,
            **extra,
        }
    )


def _base(seed: int, mask_rate: float) -> np.ndarray:
    # Distinct per seed and masking rate, so a pair across them would move Δ by >= 0.05.
    return 0.5 + 0.1 * seed + 0.05 * mask_rate / 0.25 + 0.01 * np.arange(5)


def _grid() -> pd.DataFrame:
    parts = []
    for seed in (0, 1):
        for rate in (0.0, 0.5):
            parts.append(_rows("logreg", "none", seed, rate, _base(seed, rate)))
            # The GNN is ahead by 0.001 * (fold + 1) on its own folds.
            parts.append(
                _rows("gcn", "go_ppi", seed, rate, _base(seed, rate) + 0.001 * np.arange(1, 6))
            )
    # A GO-filtered cell pairs with the baseline (which has no GO terms to filter) ...
    parts.append(_rows("gcn", "go_ppi", 0, 0.0, _base(0, 0.0) - 0.002, leakage="no_cc"))
    # ... and a masking rate the baseline never ran pairs with nothing.
    parts.append(_rows("gcn", "go_ppi", 0, 0.25, _base(0, 0.25)))
    frame = pd.concat(parts, ignore_index=True)
    return frame.sample(frac=1, random_state=0).reset_index(drop=True)  # order must not matter


def test_pairing_matches_folds_and_never_crosses_seeds_or_mask_rates():
    cells = {c.labels: c for c in versus_baseline(_grid(), "logreg")}
    # A cell pools its seeds, each fold paired with the same seed's fold: Δ is
    # 0.001 * (fold + 1) in both, never the >= 0.05 of a pair across seeds or rates.
    expected_sd = float(np.std(np.tile(0.001 * np.arange(1, 6), 2), ddof=1))
    plain = [c for k, c in cells.items() if k[5] == "none"]
    assert sorted(c.labels[3] for c in plain) == ["0%", "50%"]
    for c in plain:
        assert c.diff.n == 10 and c.diff.favour == 10
        assert c.diff.mean == pytest.approx(0.003)
        assert c.diff.sd == pytest.approx(expected_sd)
    filtered = cells[("toy", "gcn", "go_ppi", "0%", "cv", "no_cc", "")]
    assert filtered.diff.n == 5 and filtered.diff.favour == 0
    assert filtered.diff.mean == pytest.approx(-0.002)
    assert not any(k[3] == "25%" for k in cells)

    # Across masking rates the folds pair by seed and index (the rate is the compared axis).
    masking = {c.labels[1:4]: c.diff for c in paired.across(_grid(), "mask_rate", 0.0)}
    assert set(masking) == {
        ("gcn", "go_ppi", "50%"),
        ("gcn", "go_ppi", "25%"),
        ("logreg", "none", "50%"),
    }
    for half in (masking[("gcn", "go_ppi", "50%")], masking[("logreg", "none", "50%")]):
        assert half.n == 10 and half.mean == pytest.approx(0.1) and half.sd < 1e-9
    quarter = masking[("gcn", "go_ppi", "25%")]  # seed 0 only; the GNN's edge is lost
    assert quarter.n == 5 and quarter.mean == pytest.approx(0.05 - 0.003)


def test_rerun_rows_pair_with_their_own_baseline():
    """A re-run that records its selection rule and calibrates thresholds pairs with the
    baseline rows that calibrate too, the older rows with the older ones."""
    old = _grid()
    old = old[(old["seed"] == 0) & (old["mask_rate"] == 0.0) & (old["leakage"] == "none")]
    new = old.assign(auc=old["auc"] + np.where(old["model"] == "gcn", 0.1, 0.0))
    rule = np.where(new["model"] == "gcn", "val_loss", None)
    new = new.assign(trial=new["trial"] + "-new", selection=rule, threshold=0.4)
    cells = versus_baseline(pd.concat([old, new], ignore_index=True), "logreg")
    by_rule = {c.labels[-1]: c.diff.mean for c in cells}
    assert by_rule == {
        f"selection {tables.NOT_RECORDED}": pytest.approx(0.003),
        "selection val_loss": pytest.approx(0.103),
    }
    twice = pd.concat([old, old.assign(trial="again")], ignore_index=True)
    with pytest.raises(ValueError, match="two rows to pair at task=toy.*trials"):
        versus_baseline(twice, "logreg")


def test_within_rows_pairs_groups_of_the_same_fold_row():
    rows = _rows("gcn", "go", 0, 0.5, [0.9] * 5)
    rows["auc_masked"] = [0.80, 0.82, 0.84, np.nan, 0.90]
    rows["auc_unmasked"] = [0.85, 0.80, 0.86, 0.90, 0.89]
    (cell,) = within_rows(rows, "masked", "unmasked")
    assert cell.diff.n == 4 and cell.diff.favour == 2
    assert cell.diff.mean == pytest.approx((-0.05 + 0.02 - 0.02 + 0.01) / 4)
    # Both means over the paired folds only (fold 3 has no masked value).
    table = paired.masked_table(rows)
    assert "| toy | gcn | go | 50% | 0.840 | 0.850 | -0.010 ± " in table and "2 of 4" in table


def test_table1_sample_sd_and_f1_labels():
    assert tables.mean_sd([1.0, 2.0, 3.0])[:2] == (2.0, 1.0)  # ddof=1: sd 1, not 0.816
    old = _rows("gcn", "go_ppi", 0, 0.0, [0.8, 0.9], f1=[0.5, 0.6])
    new = old.assign(
        trial="new", selection="val_loss", threshold=[0.3, 0.4], f1=[0.7, 0.8], f1_05=[0.5, 0.6]
    )
    base = _rows("logreg", "none", 0, 0.0, [0.8, 0.9], f1=[0.6, 0.7])
    text = tables.table1(pd.concat([old, new, base], ignore_index=True))
    assert (
        "| ours: gcn on go_ppi, selection val_loss | 0.85 ± 0.07 / F1@val 0.75 ± 0.07 (2) |" in text
    )
    old_label = f"| ours: gcn on go_ppi, selection {tables.NOT_RECORDED} |"
    assert f"{old_label} 0.85 ± 0.07 / F1@0.5 0.55 ± 0.07 (2) |" in text
    assert "| ours: logreg (text only) | 0.85 ± 0.07 / F1@0.5 0.65 ± 0.07 (2) |" in text
    assert paired.masked_table(new.assign(**{"optim.lr": 0.1})) == ""  # none masked
    # Rows of one kind: no per-cell label, no selection suffix.
    only_old = tables.table1(pd.concat([old, base], ignore_index=True))
    assert "| ours: gcn on go_ppi | 0.85 ± 0.07 / F1 0.55 ± 0.07 (2) |" in only_old


def _sweep_dir(tmp_path, frame: pd.DataFrame):
    d = tmp_path / "sweep"
    d.mkdir(parents=True)
    frame.assign(host="test", wall_s=1.0, run_dir="trials/x/run").to_parquet(d / "results.parquet")
    return d


def test_report_shows_the_paired_evidence_and_rejects_pooled_trials(tmp_path, capsys):
    src = _sweep_dir(tmp_path, _grid())
    out = tmp_path / "report.md"
    assert report_main([str(src), "--output", str(out), "--tsne_task", "toy"]) == 0
    text = out.read_text()
    assert "Mean ± sample sd (ddof 1)" in text and "smallest two-sided Wilcoxon p is 0.0625" in text
    assert "GNN cells vs `logreg` (text only)" in text
    assert (
        "| toy | gcn | go_ppi | 0% | cv | no_cc | 0.518 | 0.520 | -0.002 ± 0.000 | 0 of 5 |" in text
    )
    assert "Each masking rate vs none, same model and folds (paired)" in text

    twice = _grid()
    src = _sweep_dir(tmp_path / "b", pd.concat([twice, twice.assign(trial="again")]))
    bad = tmp_path / "bad.md"
    assert report_main([str(src), "--output", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "results.parquet: two rows to pair at task=toy" in err[0]
    assert not bad.exists()


def test_a_grid_option_is_compared_value_by_value_and_never_pooled():
    base = _base(0, 0.0)
    frame = pd.concat(
        [
            # The trial at the default config carries no option value (NaN).
            _rows("gcn", "go_ppi", 0, 0.0, base, **{"model.edge_weight": np.nan}),
            _rows("gcn", "go_ppi", 0, 0.0, base + 0.01, **{"model.edge_weight": "fixed"}),
            _rows("gcn", "go_ppi", 0, 0.0, base - 0.02, **{"model.edge_weight": "learned"}),
        ],
        ignore_index=True,
    )
    frame["trial"] = frame["trial"] + frame["model.edge_weight"].astype(str)
    r = frame.copy()
    r["model.edge_weight"] = (
        r["model.edge_weight"].astype(object).where(r["model.edge_weight"].notna(), "default")
    )
    side = tables.comparison(r, "model.edge_weight", {})
    # One row: the three values side by side, each of its own 5 folds (none pooled).
    assert side.count("(5)") == 3 and "(15)" not in side
    cells = paired.across(r, "model.edge_weight", "default")
    diffs = {c.labels[-1]: round(c.diff.mean, 6) for c in cells}
    assert diffs == {"model.edge_weight fixed": 0.01, "model.edge_weight learned": -0.02}


def test_masked_genes_are_compared_under_each_go_filter():
    rows = []
    for leak, shift in (("none", 0.0), ("no_cc", -0.05)):
        for rate in (0.0, 0.5):
            extra = {"auc_masked": _base(0, 0.0) + shift + 0.01, "auc_unmasked": _base(0, 0.0)}
            rows.append(
                _rows("gcn", "go_ppi", 0, rate, _base(0, 0.0) + shift, leakage=leak, **extra)
            )
    frame = pd.concat(rows, ignore_index=True)
    # Δ masked − unmasked is shift + 0.01: +0.010 without the filter, −0.040 under it.
    plain, under = paired.masked_table(frame), paired.masked_table(frame, "no_cc")
    assert "+0.010" in plain and "-0.040" not in plain
    assert "-0.040" in under and "+0.010" not in under


def test_folds_the_epoch_cap_cut_short_are_counted_per_cell():
    rows = pd.concat(
        [
            # Two folds kept one of their last 5 epochs (cap 100), three stopped early.
            _rows("gcn", "go_ppi", 0, 0.0, [0.9] * 5, best_epoch=[99, 96, 40, 30, 20],
                  epochs=[100, 100, 61, 51, 41], selection="val_loss"),
            _rows("gat", "go_ppi", 0, 0.0, [0.9] * 5, best_epoch=[10] * 5, epochs=[31] * 5,
                  selection="val_loss"),
            _rows("logreg", "none", 0, 0.0, [0.8] * 5),
        ],
        ignore_index=True,
    )  # fmt: skip
    text = tables.still_improving(rows)
    assert text.startswith("2 of 10 GNN folds on our folds.")
    assert "| toy | gcn | go_ppi | 0% | none | selection val_loss | 2 of 5 | 40 | 61 |" in text
    assert "| gat |" not in text  # no fold of it ran out of epochs
    assert tables.still_improving(rows.assign(protocol="paper")) == ""
