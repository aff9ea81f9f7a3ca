"""GO enrichment of embedding clusters on a generated store with planted clusters: each
planted group's shared term comes out enriched, a group with only random annotations
does not; and the run-directory command writes its table and figure."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from conftest import write_store

from genen_core.store import csr_from_edges
from genen_scale.report.go_enrichment import enrich, go_annotations, kmeans_clusters

GROUPS, PER_GROUP, NUM_GO = 4, 40, 30
PLANTED = {0: 0, 1: 1, 2: 2}  # group -> the GO term its genes share; group 3 has none


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A store of 4 groups of 40 genes: groups 0-2 all carry term g, every gene carries
    3 random terms of 3..29; embeddings: one centre per group plus noise."""
    rng = np.random.default_rng(0)
    num_genes = GROUPS * PER_GROUP
    group = np.repeat(np.arange(GROUPS), PER_GROUP)
    src, dst = [], []
    for gene in range(num_genes):
        if group[gene] in PLANTED:
            src.append(gene), dst.append(num_genes + PLANTED[group[gene]])
        for term in rng.choice(np.arange(3, NUM_GO), size=3, replace=False):
            src.append(gene), dst.append(num_genes + term)
    n = num_genes + NUM_GO
    gene_go = csr_from_edges(np.array(src), np.array(dst), n, None, 1)
    empty = csr_from_edges(np.empty(0, np.int64), np.empty(0, np.int64), n, None, 0)
    symbols = [f"G{i:05d}" for i in range(num_genes)]
    texts = [f"gene {s}" for s in symbols] + [f"term {i}" for i in range(NUM_GO)]
    labels = pa.table(
        {
            "task": ["toy"] * num_genes,
            "gene": symbols,
            "node": np.arange(num_genes),
            "label": (group % 2).astype(float),
        }
    )
    tasks = {"toy": {"kind": "binary", "classes": ["a", "b"]}}
    store = write_store(
        tmp_path_factory.mktemp("enrich") / "store",
        (empty, gene_go, empty),
        symbols,
        texts,
        labels,
        tasks,
        {"generator": __name__},
    )
    centres = rng.normal(size=(GROUPS, 16)) * 3
    emb = centres[group] + rng.normal(size=(num_genes, 16))
    return store, emb.astype(np.float32), group


def test_planted_terms_are_enriched_and_a_random_group_is_not(planted):
    store, emb, group = planted
    genes = np.arange(store.num_genes)
    ann = go_annotations(store, genes, "biological_process")
    assert ann.matrix.shape == (store.num_genes, NUM_GO)
    clusters = kmeans_clusters(emb, GROUPS, seed=0)
    # k-means recovers the planted groups (up to renaming).
    assert all(len(set(clusters[group == g])) == 1 for g in range(GROUPS))
    result = enrich("refined", clusters, ann)
    for g, term in PLANTED.items():
        c = int(clusters[group == g][0])
        best = result.top(c, 1)[0]
        assert best.term == f"GO:{term:07d}" and best.q < 1e-10
        assert best.in_cluster == best.cluster_size == PER_GROUP
        assert best.fold == pytest.approx(len(clusters) / PER_GROUP)
    loose = int(clusters[group == 3][0])
    assert result.top(loose, 5) == []  # random annotations only: nothing at q < 0.05
    assert min(h.q for h in result.hits if h.cluster == loose) > 0.05
    assert result.enriched_clusters() == 3
    assert result.tests == GROUPS * NUM_GO  # every term has >= 3 genes here


def test_random_clusters_find_nothing_and_bad_input_is_named(planted):
    store, _, _ = planted
    ann = go_annotations(store, np.arange(store.num_genes), "biological_process")
    shuffled = np.random.default_rng(1).integers(0, GROUPS, store.num_genes)
    assert enrich("random", shuffled, ann).enriched_clusters() == 0
    with pytest.raises(ValueError, match="cellular_component"):
        go_annotations(store, np.arange(3), "cellular_component")
    with pytest.raises(ValueError, match="clusters=1"):
        kmeans_clusters(np.ones((5, 2)), 1)


def test_run_directory_command_writes_table_and_figure(planted, tmp_path, capsys):
    """On a trained run whose refined embeddings are replaced by the planted ones: the
    planted terms head the refined table; the text features (bag of words of unique
    symbols) give no enriched cluster; a missing fold is one error line, exit code 2."""
    from train_helpers import bag_of_words, small_config

    from genen_scale.report.enrichment import main
    from genen_scale.training import run

    store, emb, _ = planted
    bag_of_words(store)
    cfg = small_config(
        store, tmp_path, "--run_name", "r", "--data.task", "toy", "--data.graph", "go"
    )
    run_dir, _ = run(cfg)
    np.save(run_dir / "embeddings.npy", emb)
    args = [str(run_dir), "--clusters", str(GROUPS), "--projection", "pca", "--points", "100"]
    assert main(args) == 0
    text = (run_dir / "enrichment.md").read_text()
    refined, text_part = text.split("## text")
    assert "## refined: 3 of 4 clusters enriched" in refined
    for term in PLANTED.values():
        assert f"(GO:{term:07d}) {PER_GROUP}/{PER_GROUP}" in refined
    assert ": 0 of 4 clusters enriched" in text_part
    assert (run_dir / "figures" / "enrichment.png").stat().st_size > 0
    capsys.readouterr()
    assert main([*args, "--fold", "7"]) == 2
    assert "no finished fold 7" in capsys.readouterr().err
