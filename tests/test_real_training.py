"""One small training on the real data: the real STRING/GO/GOA store, a real task, a few
epochs, checked against a recorded AUC band.

Encoding the real texts with the text model takes minutes, so the features here are a
cheap stand-in computed in a second from the same node texts: TF-IDF reduced to 64
dimensions by truncated SVD. The band was recorded from this test's own runs (GCN on the
PPI graph, bivalent vs Lys4-methylated, folds 0 and 1, 15 epochs: mean test AUC 0.895
on 2026-12-04): wide enough for the float noise of another machine, narrow enough that a
broken feature or label path (chance is 0.5) falls out of it.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from train_helpers import small_config

from genen_core.store import GraphStore
from genen_scale.training import run
from ingest.build import build_store
from ingest.config import IngestConfig
from ingest.sources import SourcesConfig

SUMMARIES = "text/ncbi_gene_summaries_human.2022-10-27.tsv.gz"
FEATURES = "test"


@pytest.fixture(scope="module")
def real_store(shared_data, tmp_path_factory) -> GraphStore:
    cfg = IngestConfig(
        out=str(tmp_path_factory.mktemp("real-train") / "store"),
        summaries=str(shared_data / SUMMARIES),
        labels=str(shared_data / "labels"),
        threads=2,
        sources=SourcesConfig(source_dir=str(shared_data)),
    )
    store = GraphStore(build_store(cfg))
    texts = store.nodes.column("text").to_pylist()
    tfidf = TfidfVectorizer(max_features=4000, stop_words="english").fit_transform(texts)
    x = TruncatedSVD(64, random_state=0).fit_transform(tfidf).astype(np.float32)
    d = store.path / "features"
    d.mkdir(exist_ok=True)
    np.save(d / f"{FEATURES}.npy", x)
    (d / f"{FEATURES}.json").write_text(json.dumps({"model": "tfidf-svd64", "dim": 64}))
    return store


@pytest.mark.slow
def test_gcn_on_the_real_ppi_graph_learns_a_real_task(real_store, tmp_path):
    cfg = small_config(
        real_store,
        tmp_path,
        "--data.task", "bivalent_vs_lys4", "--data.graph", "ppi", "--data.fanouts", "[10, 10]",
        "--model.hidden", "32", "--optim.epochs", "15", "--optim.patience", "15",
        "--eval.folds", "5", "--eval.folds_to_run", "[0, 1]",
    )  # fmt: skip
    run_dir, summary = run(cfg)
    table = pd.read_parquet(run_dir / "metrics.parquet")
    gnn = table[table["model"] == "gcn"]
    assert len(gnn) == 2 and (gnn["selection"] == "val_loss").all()
    auc = gnn["auc"].mean()
    assert 0.80 <= auc <= 0.97, auc
    history = json.loads((run_dir / "history.json").read_text())
    for epochs in history.values():
        assert epochs[-1]["loss"] < epochs[0]["loss"]
