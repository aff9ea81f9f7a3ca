"""genen-report RUN_DIR: the report of one training run, per task kind; published numbers
only beside real tasks on real data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from train_helpers import small_config, train_store

from genen_scale.predict.cli import predict_main
from genen_scale.report import tables
from genen_scale.report.cli import main as report_main
from genen_scale.report.origin import generated_store
from genen_scale.report.run_report import _published, cut_short
from genen_scale.training import run


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return train_store(tmp_path_factory.mktemp("report") / "store")


def _train(store, out, task: str, *extra: str):
    cfg = small_config(store, out, "--run_name", "r", "--data.task", task, *extra)
    run_dir, _ = run(cfg)
    return run_dir


def _multiclass_labels(store, path):
    genes = store.nodes.column("key").to_pylist()[: store.num_genes]
    classes = np.array(["nucleus", "membrane", "cytoplasm"])
    rng = np.random.default_rng(0)
    pd.DataFrame({"gene": genes, "label": classes[rng.integers(0, 3, len(genes))]}).to_csv(
        path, index=False
    )
    return str(path)


@pytest.mark.parametrize(
    ("task", "figures"),
    [
        ("toy_binary", ["roc_pr.png", "calibration.png"]),
        ("toy_regression", ["predicted_vs_true.png"]),
        ("multiclass", ["confusion.png", "calibration.png"]),
    ],
)
def test_report_of_a_run_has_metrics_and_the_kinds_figures(store, tmp_path, task, figures):
    if task == "multiclass":
        task = _multiclass_labels(store, tmp_path / "location.csv")
    run_dir = _train(store, tmp_path / "out", task, "--eval.folds_to_run", "[0]")
    assert predict_main([str(run_dir)]) == 0
    assert report_main([str(run_dir)]) == 0
    text = (run_dir / "report.md").read_text()
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    primary = "pearson" if task == "toy_regression" else "auc"
    gcn = metrics.loc[metrics["model"] == "gcn", primary].iloc[0]
    assert f"| gcn | ppi | 1 | {gcn:.3f} |" in text  # one fold: no sd
    assert sorted(p.name for p in (run_dir / "figures").iterdir()) == sorted(figures)
    for name in figures:
        assert f"(figures/{name})" in text
    assert "Genome-wide predictions" in text or "genome-wide predictions" in text
    assert "paper" not in text.lower()  # toy tasks have no published numbers
    # Folds that kept one of their last 5 of the config's 6 epochs are named, none else.
    gnn = metrics[metrics["model"] == "gcn"]
    late = sorted(int(f) for f in gnn.loc[gnn["best_epoch"] >= 6 - 5, "fold"])
    assert ("**Under-trained?** Fold(s) " + ", ".join(map(str, late)) in text) == bool(late)
    assert ("Under-trained?" in text) == bool(late)


def test_a_fold_the_epoch_cap_cut_short_is_named_and_only_it():
    metrics = pd.DataFrame(
        {
            "model": ["gcn"] * 3 + ["logreg"] * 3,
            "fold": [0, 1, 2] * 2,
            "best_epoch": [99, 40, 96, None, None, None],
            "selection": ["val_loss"] * 3 + [None] * 3,
        }
    )
    assert "Fold(s) 0, 2 kept one of their last 5 epochs when `optim.epochs` = 100" in (
        cut_short(metrics, 100)
    )
    assert cut_short(metrics, 200) == ""  # every fold stopped well before the cap
    assert cut_short(metrics.assign(selection="last_epoch"), 100) == ""  # the paper protocol


def test_published_numbers_only_for_real_tasks_on_real_data():
    assert "0.99 ± 0.02" in _published("solubility", "auc", "go_ppi", synthetic=False)
    assert "0.99" not in _published("solubility", "auc", "go_ppi", synthetic=True)
    assert _published("toy_binary", "auc", "ppi", synthetic=False) == ""


def _store_dir(path, generated: bool):
    source = path / "source"
    source.mkdir(parents=True)
    if generated:
        (source / "generated.json").write_text("{}")
    links = {"path": str(source / "9606.protein.links.v12.0.txt.gz")}
    (path / "manifest.json").write_text(json.dumps({"sources": {"links": links}}))
    return str(path)


def test_table1_sets_only_real_data_beside_the_paper(tmp_path):
    demo, real = _store_dir(tmp_path / "demo", True), _store_dir(tmp_path / "real", False)
    assert generated_store(demo) and not generated_store(real)
    rows = pd.DataFrame(
        {
            "task": ["solubility"] * 2 + ["dosage_sensitivity"] * 2,
            "model": "gcn",
            "graph": "go_ppi",
            "mask_rate": 0.0,
            "leakage": "none",
            "protocol": "cv",
            "metric": "auc",
            "auc": [0.9, 0.8, 0.7, 0.6],
            "f1": 0.5,
            "fold": [0, 1, 0, 1],
            "store": [demo, demo, real, real],
        }
    )
    table = tables.table1(rows)
    paper = next(line for line in table.splitlines() if line.startswith("| paper: Genen GCN"))
    cells = [c.strip() for c in paper.strip("|").split("|")]
    titles = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    by_task = dict(zip(titles, cells, strict=True))
    assert by_task["Solubility"] == tables.MISSING  # the demo's solubility
    assert by_task["Dosage sensitivity"].startswith("0.89 ± 0.03")
    assert "Solubility ran on a generated store" in table


def test_unfinished_run_is_one_line_and_exit_2(store, tmp_path, capsys):
    run_dir = _train(store, tmp_path / "out", "toy_binary", "--eval.folds_to_run", "[0]")
    (run_dir / "metrics.parquet").unlink()  # as a run killed before its summary
    assert report_main([str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "has not finished" in err and "metrics.parquet" in err
    assert not (run_dir / "report.md").exists()
