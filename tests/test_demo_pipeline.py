"""What a new user runs first, on the embedded demo store: train (with --predict true) →
genen-neighbors → genen-report, through the entry points."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genen_core.store import GraphStore
from genen_scale.predict.cli import neighbors_main
from genen_scale.report.cli import main as report_main
from genen_scale.train import main as train_main
from genen_scale.training.config import DataConfig

pytestmark = pytest.mark.slow  # builds (or copies) the demo store and trains 3 folds


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    cache = tmp_path_factory.mktemp("demo_cache")
    # The demo store is the same bytes wherever it is built (seeded generator, fixed
    # encoder); a copy of the user's cached one saves the minutes of encoding its texts.
    cached = Path(DataConfig.demo_cache).expanduser()
    if (cached / "store" / "features" / "minilm.npy").is_file():
        shutil.copytree(cached / "store", cache / "store")
        shutil.copytree(cached / "source", cache / "source")
    out = tmp_path_factory.mktemp("results")
    args = ["--data.demo_cache", str(cache), "--output_dir", str(out), "--run_name", "demo"]
    fast = ["--eval.folds", "3", "--optim.epochs", "20", "--predict", "true"]
    assert train_main([*args, *fast]) == 0
    return out / "demo", GraphStore.open(cache / "store")


def test_one_prediction_row_per_gene_and_test_scores_as_trained(demo_run):
    run_dir, store = demo_run
    table = pd.read_parquet(run_dir / "genome_predictions.parquet")
    assert table["node"].tolist() == list(range(store.num_genes))
    assert (~table["labelled"]).sum() > 0 and table["entrez"].notna().mean() > 0.9
    preds = pd.read_parquet(run_dir / "predictions.parquet")
    test = preds[(preds["model"] == "gcn") & (preds["split"] == "test")]
    assert sorted(test["fold"].unique()) == [0, 1, 2]
    by_node = table.set_index("node")
    for k, rows in test.groupby("fold"):
        np.testing.assert_array_equal(
            by_node.loc[rows["node"], f"score_fold{k}"].to_numpy(), rows["score"].to_numpy()
        )
    emb = pd.read_parquet(run_dir / "embeddings.parquet")
    assert emb["gene"].tolist() == table["gene"].tolist()


def test_neighbors_and_unknown_gene(demo_run, capsys):
    run_dir, store = demo_run
    gene = store.nodes.column("key")[0].as_py()
    assert neighbors_main([str(run_dir), gene, "--k", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"nearest genes of {gene} ") and len(lines) == 7
    assert neighbors_main([str(run_dir), gene + "X"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"did you mean {gene}" in err


def test_report_of_the_demo_run(demo_run):
    run_dir, _ = demo_run
    assert report_main([str(run_dir)]) == 0
    text = (run_dir / "report.md").read_text()
    assert "## Top 20 genome-wide predictions" in text
    assert "(generated: the demo's synthetic genes and labels)" in text
    assert "0.99 ± 0.02" not in text  # the paper's solubility AUC is not set beside it
    assert {p.name for p in (run_dir / "figures").iterdir()} == {"roc_pr.png", "calibration.png"}
