"""The paper's experiments as run options: masking modes, study threshold, run-time GO
leakage filter and the paper's protocol splits."""

from __future__ import annotations

import numpy as np
import pytest
from train_helpers import small_config, train_store

from genen_core.config import ConfigError
from genen_core.store import check_csr
from genen_scale.models.leakage import drop_nodes, leaky_go_nodes
from genen_scale.tasks.folds import make_random_splits, with_validation
from genen_scale.tasks.metrics import evaluate_with_groups
from genen_scale.tasks.task import load_task
from genen_scale.training.inputs import load_inputs


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return train_store(tmp_path_factory.mktemp("exp") / "store")


def inputs_for(store, *extra):
    cfg = small_config(store, store.path, *extra)
    return load_inputs(str(store.path), cfg.data, cfg.eval, cfg.seed)


@pytest.mark.parametrize("mode", ["genes", "go", "all"])
def test_mask_modes_draw_from_their_nodes_and_split_test_metrics(store, mode):
    inputs = inputs_for(store, "--data.mask_rate", "0.5", "--data.mask_nodes", mode)
    zero = (inputs.x == 0).all(dim=1).numpy()
    assert np.array_equal(np.flatnonzero(zero), inputs.masked)
    genes, n = store.num_genes, store.num_nodes
    pool = {"genes": genes, "go": n - genes, "all": n}[mode]
    assert len(inputs.masked) == round(0.5 * pool)
    if mode == "genes":
        assert inputs.masked.max() < genes
    if mode == "go":
        assert inputs.masked.min() >= genes
    # Column 1 of the groups marks the task genes whose text is hidden.
    hidden = np.isin(inputs.task.nodes, inputs.masked)
    assert np.array_equal(inputs.study_group[:, 1] == "masked", hidden)
    again = inputs_for(store, "--data.mask_rate", "0.5", "--data.mask_nodes", mode)
    assert np.array_equal(again.masked, inputs.masked)  # fixed per seed


def test_study_threshold_moves_the_split(store):
    words = store.nodes.column("word_count").to_numpy()
    default = inputs_for(store)
    cut = int(np.min(words[default.task.nodes]))
    fixed = inputs_for(store, "--data.study_threshold", str(cut))
    less = fixed.study_group[:, 0] == "less_studied"
    assert np.array_equal(less, words[fixed.task.nodes] <= cut)
    assert less.sum() < (default.study_group[:, 0] == "less_studied").sum()


def test_grouped_metrics_cover_every_grouping():
    y = np.array([0, 1, 0, 1, 0, 1])
    s = np.array([0.1, 0.9, 0.2, 0.8, 0.6, 0.4])
    groups = np.array([["a", "m"], ["a", "m"], ["a", "u"], ["b", "u"], ["b", "u"], ["b", "m"]])
    out = evaluate_with_groups("binary", y, s, groups)
    assert {"auc_a", "auc_b", "auc_m", "auc_u"} <= set(out)
    assert out["auc_a"] == 1.0 and out["auc_b"] == 0.5


def test_leakage_filter_drops_the_terms_edges_only(store):
    nodes = store.nodes
    drop = leaky_go_nodes(nodes, pattern=r"GO:000000[0-4]")
    assert list(drop) == [store.num_genes + i for i in range(5)]
    assert len(leaky_go_nodes(nodes, ["biological_process"])) == store.num_nodes - store.num_genes
    assert len(leaky_go_nodes(nodes, ["cellular_component"])) == 0
    csr = store.csr("go_ppi")
    out = drop_nodes(csr, drop)
    check_csr(out, "filtered")
    rows = np.repeat(np.arange(out.num_nodes), np.diff(out.indptr))
    assert not np.isin(rows, drop).any() and not np.isin(out.indices, drop).any()
    removed = np.isin(np.repeat(np.arange(csr.num_nodes), np.diff(csr.indptr)), drop) | np.isin(
        csr.indices, drop
    )
    assert out.nnz == csr.nnz - removed.sum() > 0
    # In a run: the graph loses exactly those edges; features and folds stay the store's.
    plain = inputs_for(store, "--data.graph", "go_ppi")
    filtered = inputs_for(
        store, "--data.graph", "go_ppi", "--data.exclude_go_terms", r"GO:000000[0-4]"
    )
    assert filtered.csr.nnz == out.nnz < plain.csr.nnz
    assert all(
        np.array_equal(a.test, b.test) for a, b in zip(plain.folds, filtered.folds, strict=True)
    )


def test_leakage_options_are_checked():
    from genen_core.config import load_config
    from genen_scale.training import TrainConfig

    with pytest.raises(ConfigError, match="cellular_compartment"):
        load_config(TrainConfig, None, ["--data.exclude_go_namespace", "[cellular_compartment]"])
    with pytest.raises(ConfigError, match="regex"):
        load_config(TrainConfig, None, ["--data.exclude_go_terms", "(unclosed"])


def test_paper_protocol_splits(store):
    task = load_task(store, "toy_binary")
    splits = make_random_splits(task, 5, 0.2, seed=3)
    assert len(splits) == 5
    for f in splits:
        assert len(f.val) == 0 and len(f.test) == len(task) - int(0.8 * len(task))
        assert np.intersect1d(f.train, f.test).size == 0
        assert np.array_equal(np.union1d(f.train, f.test), np.arange(len(task)))
    assert not np.array_equal(splits[0].test, splits[1].test)  # independent repeats
    again = make_random_splits(task, 5, 0.2, seed=3)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(splits, again, strict=True))
    carved = with_validation(task, splits, 0.1, seed=0)
    for f, c in zip(splits, carved, strict=True):
        assert np.array_equal(f.test, c.test) and len(c.val) > 0
        assert np.array_equal(np.union1d(c.train, c.val), f.train)
    inputs = inputs_for(store, "--eval.protocol", "paper", "--eval.folds_to_run", "[0, 1, 2]")
    assert [len(f.val) for f in inputs.folds] == [0, 0, 0]


def test_random_go_drop_is_sized_and_seeded(store):
    """The size-matched control: exactly ``random`` more GO terms, the same ones per seed,
    none of them already dropped by the other filters."""
    nodes = store.nodes
    named = leaky_go_nodes(nodes, pattern=r"GO:000000[0-4]")
    drop = leaky_go_nodes(nodes, pattern=r"GO:000000[0-4]", random=7, seed=3)
    assert len(drop) == len(named) + 7 and set(named) <= set(drop)
    assert (drop >= store.num_genes).all()  # GO terms only
    assert np.array_equal(drop, leaky_go_nodes(nodes, pattern=r"GO:000000[0-4]", random=7, seed=3))
    assert not np.array_equal(drop, leaky_go_nodes(nodes, pattern=r"GO:000000[0-4]", random=7))
    with pytest.raises(ValueError, match="only"):
        leaky_go_nodes(nodes, random=store.num_nodes)
    # In a run: the option drops that many terms' edges, the same for every trial seed.
    random = inputs_for(store, "--data.graph", "go_ppi", "--data.exclude_go_random", "7")
    again = inputs_for(
        store, "--data.graph", "go_ppi", "--data.exclude_go_random", "7", "--seed", "1"
    )
    expected = drop_nodes(store.csr("go_ppi"), leaky_go_nodes(nodes, random=7))
    assert random.csr.nnz == again.csr.nnz == expected.nnz < store.csr("go_ppi").nnz
    with pytest.raises(ConfigError, match="random"):
        from genen_core.config import load_config
        from genen_scale.training import TrainConfig

        load_config(TrainConfig, None, ["--data.exclude_go_random", "-1"])
