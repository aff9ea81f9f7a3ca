"""genen-predict and genen-neighbors on runs trained in process on tiny stores."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import write_store
from train_helpers import FEATURES, small_args, small_config, train_store

from genen_core.store import GraphStore, csr_from_edges
from genen_scale.predict.calibration import platt
from genen_scale.predict.cli import neighbors_main, predict_main
from genen_scale.predict.genome import top_unlabelled
from genen_scale.predict.neighbors import nearest
from genen_scale.predict.trained_run import PredictError, TrainedRun
from genen_scale.train import main as train_main
from genen_scale.training import run

CLIQUE = 8


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return train_store(tmp_path_factory.mktemp("predict") / "store")


@pytest.fixture(scope="module", params=["auto", "false"], ids=["full_batch", "sampled"])
def predicted(request, store, tmp_path_factory):
    """A two-fold run (full batch, or on sampled neighbourhoods), then genen-predict."""
    out = tmp_path_factory.mktemp("out")
    name = "full" if request.param == "auto" else "sampled"
    cfg = small_config(store, out, "--run_name", name, "--data.full_batch", request.param)
    run_dir, _ = run(cfg)
    assert predict_main([str(run_dir), "--top", "5"]) == 0
    return run_dir, pd.read_parquet(run_dir / "genome_predictions.parquet")


def test_one_row_per_gene_node_with_ids_labels_and_splits(predicted, store):
    run_dir, table = predicted
    assert len(table) == store.num_genes
    assert table["node"].tolist() == list(range(store.num_genes))
    assert table["gene"].tolist() == store.nodes.column("key").to_pylist()[: store.num_genes]
    labels = store.labels.to_pandas()
    binary = labels[labels["task"] == "toy_binary"].set_index("node")["label"]
    names = np.array(["nucleus", "membrane"])  # the tiny store's classes
    assert (table["label"].to_numpy() == names[binary.loc[table["node"]].astype(int)]).all()
    for k in (0, 1):
        counts = table[f"split_fold{k}"].value_counts()
        assert set(counts.index) == {"train", "val", "test"}
        assert counts.sum() == table["labelled"].sum()


def test_labelled_genes_scores_equal_the_runs_predictions(predicted):
    run_dir, table = predicted
    preds = pd.read_parquet(run_dir / "predictions.parquet")
    gnn = preds[preds["model"] == "gcn"]
    assert set(gnn["fold"]) == {0, 1}
    by_node = table.set_index("node")
    for (k, split), rows in gnn.groupby(["fold", "split"]):
        ours = by_node.loc[rows["node"]]
        assert (ours[f"split_fold{k}"] == split).all()
        # Sampled, validation genes were scored over their own fixed sample (the one early
        # stopping saw); test genes and the genome share the all-genes pass.
        if split == "test" or run_dir.name.startswith("full"):
            scores = ours[f"score_fold{k}"].to_numpy()
            np.testing.assert_array_equal(scores, rows["score"].to_numpy())
    folds = table[["score_fold0", "score_fold1"]].to_numpy()
    np.testing.assert_allclose(table["score"], folds.mean(axis=1))
    np.testing.assert_allclose(table["score_sd"], folds.std(axis=1))
    assert table["score_sd"].max() > 0  # two separately trained models disagree somewhere


def test_ensemble_sd_is_zero_where_folds_agree(predicted, tmp_path):
    """Fold 1's model replaced by fold 0's: every gene gets one score twice."""
    run_dir, _ = predicted
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    shutil.copyfile(copy / "checkpoints/best_fold0.pt", copy / "checkpoints/best_fold1.pt")
    assert predict_main([str(copy)]) == 0
    table = pd.read_parquet(copy / "genome_predictions.parquet")
    assert (table["score_sd"] == 0).all()
    np.testing.assert_array_equal(table["score"], table["score_fold0"])


def test_thresholds_recorded_per_fold_are_exposed_beside_the_probability(predicted, tmp_path):
    run_dir, _ = predicted
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    for k, t in ((0, 0.4), (1, 0.6)):
        path = copy / f"folds/fold{k}.json"
        meta = json.loads(path.read_text())
        meta["val"]["threshold"] = t
        path.write_text(json.dumps(meta))
    assert predict_main([str(copy)]) == 0
    table = pd.read_parquet(copy / "genome_predictions.parquet")
    np.testing.assert_allclose(table["threshold"], 0.5)
    votes = (table["score_fold0"] >= 0.4).astype(int) + (table["score_fold1"] >= 0.6)
    assert (table["positive_votes"] == votes).all()


def test_probabilities_are_calibrated_on_validation_genes(predicted):
    _, table = predicted
    assert table["probability"].between(0, 1).all() and table["probability_sd"].ge(0).all()
    rng = np.random.default_rng(0)
    s = rng.uniform(0.01, 0.99, 4000)
    true = 1 / (1 + np.exp(-(3 * np.log(s / (1 - s)) - 1)))  # an over-confident model
    fit = platt(s, rng.random(len(s)) < true)
    assert np.abs(fit.predict_proba(np.log(s / (1 - s))[:, None])[:, 1] - true).max() < 0.05


def test_embeddings_parquet_is_keyed_by_gene_and_readable_by_duckdb(predicted, store):
    import duckdb

    run_dir, _ = predicted
    path = run_dir / "embeddings.parquet"
    rows = duckdb.sql(
        f"select gene, len(refined) as r, len(text) as t from '{path}' order by node"
    ).fetchall()
    assert [g for g, _, _ in rows] == store.nodes.column("key").to_pylist()[: store.num_genes]
    assert {(r, t) for _, r, t in rows} == {(2 * 16, store.features(FEATURES).shape[1])}


def test_train_with_predict_writes_the_genome_table(store, tmp_path, capsys):
    args = small_args(store, tmp_path, "--run_name", "p", "--eval.baselines", "[]")
    assert train_main([*args, "--predict", "true"]) == 0
    assert len(pd.read_parquet(tmp_path / "p/genome_predictions.parquet")) == store.num_genes
    assert "genes scored by folds [0, 1]" in capsys.readouterr().out


def test_not_a_run_directory_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep")
    assert predict_main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genen-predict: error: ") and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def build_clique_store(path, num_genes: int = 160, seed: int = 0) -> GraphStore:
    """Genes 0..CLIQUE-1 form a PPI clique with no other edge; the rest a random graph.

    Every gene has its own random text vector, so the clique's members are no closer in
    the text space than any genes, while one GCN layer averages each member over the
    clique (each has the same neighbourhood, itself included) into one vector.
    """
    rng = np.random.default_rng(seed)
    num_go = 4
    n = num_genes + num_go
    cls = rng.integers(0, 2, num_genes)
    src = rng.integers(CLIQUE, num_genes, num_genes * 6)
    dst = rng.integers(CLIQUE, num_genes, num_genes * 6)
    a, b = np.triu_indices(CLIQUE, 1)
    ppi = csr_from_edges(np.concatenate([src, a]), np.concatenate([dst, b]), n, None, 0)
    genes = np.arange(CLIQUE, num_genes)
    gene_go = csr_from_edges(genes, num_genes + genes % num_go, n, None, 1)
    go_go = csr_from_edges(np.array([num_genes]), np.array([num_genes + 1]), n, None, 2)
    symbols = [f"G{i:05d}" for i in range(num_genes)]
    texts = [f"gene {s}" for s in symbols] + [f"term {i}" for i in range(num_go)]
    labelled = np.flatnonzero(np.arange(num_genes) % 4 != 3)  # a quarter unlabelled
    labels = pa.table(
        {
            "task": ["toy_binary"] * len(labelled),
            "gene": [symbols[i] for i in labelled],
            "node": labelled,
            "label": cls[labelled].astype(float),
        }
    )
    aliases = pa.table(
        {
            "alias": [str(5000 + i) for i in range(num_genes)],
            "id_type": ["entrez"] * num_genes,
            "node": np.arange(num_genes, dtype=np.int64),
        }
    )
    tasks = {"toy_binary": {"kind": "binary", "classes": ["a", "b"]}}
    params = {"generator": "tests.test_predict.build_clique_store"}
    write_store(path, (ppi, gene_go, go_go), symbols, texts, labels, tasks, params, aliases)
    x = rng.normal(size=(n, 12)).astype(np.float32)
    x[:num_genes, 0] += 2.0 * cls  # the label is in the text
    (path / "features").mkdir()
    np.save(path / "features" / f"{FEATURES}.npy", x)
    (path / "features" / f"{FEATURES}.json").write_text(json.dumps({"dim": 12}))
    return GraphStore.open(path)


@pytest.fixture(scope="module")
def clique_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("clique")
    store = build_clique_store(root / "store")
    cfg = small_config(store, root / "out", "--run_name", "c", "--eval.baselines", "[]")
    run_dir, _ = run(cfg)
    assert predict_main([str(run_dir)]) == 0
    return TrainedRun.open(run_dir)


def test_neighbours_of_a_clique_member_are_the_clique(clique_run):
    nb = nearest(clique_run, "G00003", k=CLIQUE - 1)
    clique = {f"G{i:05d}" for i in range(CLIQUE)} - {"G00003"}
    assert {n.gene for n in nb.by_space["refined"]} == clique
    assert len({n.gene for n in nb.by_space["text"]} & clique) < CLIQUE - 1
    # The same gene by its Entrez id (the store's identifier map).
    assert nearest(clique_run, "5003", k=3).gene == "G00003"


def test_neighbors_cli_prints_both_spaces_side_by_side(clique_run, capsys):
    assert neighbors_main([str(clique_run.path), "G00003", "--k", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("nearest genes of G00003 (node 3, label ")
    assert "refined (gcn on ppi, 2 folds)" in lines[1] and "text (test)" in lines[1]
    assert len(lines) == 2 + 4
    assert all(line.split()[1] in {f"G{i:05d}" for i in range(CLIQUE)} for line in lines[2:])


def test_top_prints_the_highest_scoring_unlabelled_genes(clique_run, capsys):
    assert predict_main([str(clique_run.path), "--top", "3"]) == 0
    out = capsys.readouterr().out
    table = pd.read_parquet(clique_run.path / "genome_predictions.parquet")
    unlabelled = table[~table["labelled"]]
    assert len(unlabelled) and unlabelled["label"].isna().all()
    assert unlabelled[[c for c in table if c.startswith("split_")]].isna().all().all()
    best = unlabelled.nlargest(3, "score")["gene"].tolist()
    lines = out.splitlines()
    top = lines[lines.index("top 3 unlabelled genes:") + 2 :]
    assert [line.split()[0] for line in top] == best


def test_unknown_gene_is_one_line_with_suggestions_and_exit_2(clique_run, capsys):
    assert neighbors_main([str(clique_run.path), "G0003"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == "" and "\n" not in err
    assert err.startswith("genen-neighbors: error: no gene 'G0003'")
    assert "; did you mean G00003, " in err


def test_top_ranks_class_probabilities_by_the_top_or_a_named_class():
    table = pd.DataFrame(
        {
            "gene": ["A", "B", "C", "D"],
            "labelled": [False, False, False, True],
            "p_x": [0.1, 0.5, 0.7, 0.99],
            "p_y": [0.9, 0.5, 0.3, 0.01],
            "sd_x": 0.0,
            "sd_y": 0.0,
            "top_class": ["y", "x", "x", "x"],
        }
    )
    assert top_unlabelled(table, 2)["gene"].tolist() == ["A", "C"]  # 0.9 (y), 0.7 (x)
    assert top_unlabelled(table, 2, rank_by="x")["gene"].tolist() == ["C", "B"]
    with pytest.raises(PredictError, match="not a class"):
        top_unlabelled(table, 2, rank_by="z")
