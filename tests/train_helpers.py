"""Shared by the training tests: a tiny store with bag-of-words features and a small config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from conftest import build_tiny_store

from genen_core.config import load_config
from genen_core.store import GraphStore
from genen_scale.models.gnn import build_model
from genen_scale.training import TrainConfig
from genen_scale.training.batches import GraphBatches
from genen_scale.training.evaluation import infer
from genen_scale.training.inputs import load_inputs
from genen_scale.training.worker import WorkerEnv

FEATURES = "test"


def bag_of_words(store: GraphStore) -> GraphStore:
    """Write ``features/test.npy``: word counts of each node's text (the tiny store's gene
    texts name a class-specific compartment, so the text carries the label)."""
    texts = [t.lower().split() for t in store.nodes.column("text").to_pylist()]
    vocab = {w: i for i, w in enumerate(sorted({w for t in texts for w in t}))}
    x = np.zeros((len(texts), len(vocab)), np.float32)
    for i, words in enumerate(texts):
        for w in words:
            x[i, vocab[w]] += 1
    d = store.path / "features"
    d.mkdir(exist_ok=True)
    np.save(d / f"{FEATURES}.npy", x)
    (d / f"{FEATURES}.json").write_text(json.dumps({"model": "bag-of-words", "dim": len(vocab)}))
    return store


def train_store(path: Path) -> GraphStore:
    return bag_of_words(build_tiny_store(path))


def small_args(store: GraphStore, out: Path, *extra: str) -> list[str]:
    """Overrides that train in about a second per fold on the tiny store (in-process:
    ``num_workers`` 0, unless ``extra`` sets it)."""
    return [
        "--scaling.num_workers",
        "0",
        "--data.store",
        str(store.path),
        "--data.features",
        FEATURES,
        "--data.task",
        "toy_binary",
        "--data.graph",
        "ppi",
        "--data.fanouts",
        "[5, 5]",
        "--data.batch_size",
        "64",
        "--model.layers",
        "1",
        "--model.hidden",
        "16",
        "--model.dropout",
        "0.2",
        "--optim.lr",
        "0.01",
        "--optim.epochs",
        "6",
        "--optim.patience",
        "6",
        "--eval.folds",
        "3",
        "--eval.folds_to_run",
        "[0, 1]",
        "--scaling.threads_per_worker",
        "1",
        "--output_dir",
        str(out),
        *extra,
    ]


def small_config(store: GraphStore, out: Path, *extra: str) -> TrainConfig:
    return load_config(TrainConfig, None, small_args(store, out, *extra))


def assert_scored_as_the_whole_graph(run_dir: Path, cfg: TrainConfig, fold: int = 0) -> None:
    """Fold ``fold``'s outputs of a sampled run with every neighbour sampled
    (``data.fanouts`` all -1) equal its kept weights over the whole graph in one process:
    the embeddings of all genes (row i = node i) and the test genes' scores.

    A GAT's output at a node depends only on its in-neighbours, so a sample holding all of
    them computes what the whole graph does (a GCN's degree normalisation would differ).
    """
    assert cfg.model.arch == "gat" and all(f == -1 for f in cfg.data.fanouts)
    inputs = load_inputs(str(cfg.data.store), cfg.data, cfg.eval, cfg.seed)
    task = inputs.task
    model = build_model(cfg.model, inputs.x.shape[1], task.num_outputs, inputs.csr.nnz)
    model.load_state_dict(torch.load(run_dir / "checkpoints" / f"best_fold{fold}.pt"))
    whole = GraphBatches(
        inputs.csr, inputs.x, cfg.data.fanouts, 64, True, torch.device("cpu"), cfg.model
    )
    genes = np.arange(inputs.store.num_genes)
    logits, emb = infer(model, whole, genes, WorkerEnv(), embed=True)
    got = np.load(run_dir / f"embeddings_fold{fold}.npy")
    np.testing.assert_allclose(got, emb.numpy(), rtol=1e-4, atol=1e-5)
    preds = pd.read_parquet(run_dir / "predictions.parquet")
    test = preds[(preds.model == "gat") & (preds.fold == fold) & (preds.split == "test")]
    want = task.scores(logits[test.node.to_numpy()])
    np.testing.assert_allclose(test.score.to_numpy(), want, rtol=1e-4, atol=1e-6)


# A sweep of four small trials: a GCN and the logistic-regression baseline, unmasked and half masked.
SWEEP = """
output_dir = "{out}"
num_cpus = 2
[train]
data.store = "{store}"
data.features = "{features}"
data.graph = "ppi"
data.fanouts = [5, 5]
data.batch_size = 64
model.layers = 1
model.hidden = 16
optim.lr = 0.01
optim.epochs = 3
optim.patience = 3
eval.folds = 3
eval.folds_to_run = [0, 1]
[resources]
cpus_per_trial = 1
[[grid]]
tasks = ["toy_binary"]
graphs = ["go_ppi"]
models = ["gcn", "logreg"]
mask_rates = [0.0, 0.5]
"""
