"""Shared by the training tests: a tiny store with bag-of-words features and a small config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import build_tiny_store

from genen_core.config import load_config
from genen_core.store import GraphStore
from genen_scale.training import TrainConfig

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
