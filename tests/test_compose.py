"""Graphs composed at run time from a store's relations (``--data.graph ppi+huri``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from train_helpers import small_config, train_store

from genen_core.store import StoreError, check_csr, csr_from_edges, union_csr
from genen_scale.training import run
from genen_scale.training.config import DataConfig
from genen_scale.training.inputs import load_inputs


def test_union_keeps_each_edge_once_with_its_largest_weight(monkeypatch):
    from genen_core.store import csr as store_module

    rng = np.random.default_rng(3)
    n, m = 40, 300
    src, dst, w = rng.integers(0, n, m), rng.integers(0, n, m), rng.random(m).astype(np.float32)
    a = csr_from_edges(src[:200], dst[:200], n, w[:200], 0)
    b = csr_from_edges(src[100:], dst[100:], n, w[100:], 7)  # rows 100..199 in both
    want = csr_from_edges(src, dst, n, w, 0)  # the same edges in one list
    for block in (store_module.BLOCK_ENTRIES, 5):
        monkeypatch.setattr(store_module, "BLOCK_ENTRIES", block)
        got = union_csr([a, b])
        check_csr(got, "union", symmetric=True)
        for field in ("indptr", "indices", "weight"):
            assert np.array_equal(getattr(got, field), getattr(want, field)), field
    # Edges only in b keep b's type; shared ones keep the type of the heavier entry.
    assert set(np.unique(got.etype)) == {0, 7}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return train_store(tmp_path_factory.mktemp("compose") / "store")


def test_composed_graph_equals_the_stored_variant(store):
    stored = store.graph("go_ppi")
    assert isinstance(stored.indices, np.memmap)  # a stored graph stays memory-mapped
    for spec in ("ppi+gene_go+go_go", "ppi+go", "go+ppi+go_go"):
        got = store.graph(spec)
        for field in ("indptr", "indices", "weight", "etype"):
            assert np.array_equal(getattr(got, field), getattr(stored, field)), (spec, field)


def test_unknown_relation_names_the_stored_ones(store):
    with pytest.raises(StoreError, match="unknown graph 'huri'.*gene_go"):
        store.graph("ppi+huri")
    with pytest.raises(ValueError, match="data.graph 'ppi\\+\\+go' is not a graph variant"):
        DataConfig(graph="ppi++go")


def test_training_on_a_composed_graph(store, tmp_path):
    args = ("--data.graph", "ppi+gene_go", "--model.edge_weight", "fixed")
    cfg = small_config(store, tmp_path, *args, "--optim.epochs", "2", "--eval.folds_to_run", "[0]")
    inputs = load_inputs(cfg.data.store, cfg.data, cfg.eval, cfg.seed)
    assert inputs.csr.nnz == store.csr("ppi").nnz + store.csr("gene_go").nnz
    run_dir, summary = run(cfg)
    history = json.loads((run_dir / "history.json").read_text())
    assert [len(epochs) for epochs in history.values()] == [2]
    gnn = summary[summary.model == cfg.model.arch].iloc[0]
    assert (gnn.graph, gnn.metric, gnn.folds) == ("ppi+gene_go", "auc", 1)
    assert 0.0 <= gnn["mean"] <= 1.0
