"""Shared fixtures: the real data directory and a tiny random store built in milliseconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from genen_core.store import RELATIONS, GraphStore, StoreBuilder, csr_from_edges, merge_csr

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_go(shared_data):
    """The real go-basic 2022 ontology, parsed once per test session (a few seconds)."""
    from ingest.go import parse_obo

    return parse_obo(shared_data / "go" / "go-basic.2022-07-01.obo.gz")


def build_tiny_store(
    path: Path, num_genes: int = 300, num_go: int = 60, seed: int = 0
) -> GraphStore:
    """A small random store with homophilous PPI edges, GO annotations and two tasks.

    Genes carry a hidden class (0/1); PPI edges mostly join genes of the same class, and
    gene texts mention a class-specific word, so both text and graph carry signal.
    """
    rng = np.random.default_rng(seed)
    n = num_genes + num_go
    cls = rng.integers(0, 2, num_genes)
    src = rng.integers(0, num_genes, num_genes * 8)
    dst = rng.integers(0, num_genes, num_genes * 8)
    keep = (cls[src] == cls[dst]) | (rng.random(len(src)) < 0.2)
    ppi = csr_from_edges(src[keep], dst[keep], n, rng.integers(150, 1000, keep.sum()) / 1000, 0)
    g = rng.integers(0, num_genes, num_genes * 3)
    go = num_genes + (cls[g] * (num_go // 2) + rng.integers(0, num_go // 2, len(g)))
    gene_go = csr_from_edges(g, go, n, None, 1)
    a = num_genes + rng.integers(0, num_go, num_go * 2)
    b = num_genes + rng.integers(0, num_go, num_go * 2)
    go_go = csr_from_edges(a, b, n, None, 2)
    symbols = [f"G{i:05d}" for i in range(num_genes)]
    go_ids = [f"GO:{i:07d}" for i in range(num_go)]
    words = np.array(["membrane", "nucleus"])
    # Some genes are better described than others (varied word counts: study groups).
    texts = [
        f"Gene {s} is found in the {words[c]} and binds things." + f" {s}" * (i % 4)
        for i, (s, c) in enumerate(zip(symbols, cls, strict=True))
    ]
    texts += [f"GO term {g}: a process." for g in go_ids]
    value = rng.random(num_genes)
    labels = pa.table(
        {
            "task": ["toy_binary"] * num_genes + ["toy_regression"] * num_genes,
            "gene": symbols * 2,
            "node": np.concatenate([np.arange(num_genes)] * 2),
            "label": np.concatenate([cls.astype(float), cls + 0.3 * value]),
        }
    )
    tasks = {
        "toy_binary": {"kind": "binary", "classes": ["nucleus", "membrane"]},
        "toy_regression": {"kind": "regression", "classes": []},
    }
    params = {"generator": "tests.conftest.build_tiny_store", "seed": seed}
    return write_store(path, (ppi, gene_go, go_go), symbols, texts, labels, tasks, params)


def write_store(
    path: Path,
    relations: tuple,
    symbols: list[str],
    texts: list[str],
    labels: pa.Table,
    tasks: dict,
    params: dict,
    aliases: pa.Table | None = None,
) -> GraphStore:
    """A store of gene nodes (``symbols``) then GO nodes ``GO:0000000``...: the three
    relations' CSRs (ppi, gene_go, go_go), node texts, labels and tasks."""
    ppi, gene_go, go_go = relations
    num_genes, n = len(symbols), len(texts)
    num_go = n - num_genes
    nodes = pa.table(
        {
            "node": np.arange(n, dtype=np.int64),
            "kind": ["gene"] * num_genes + ["go"] * num_go,
            "key": symbols + [f"GO:{i:07d}" for i in range(num_go)],
            "name": symbols + [f"term {i}" for i in range(num_go)],
            "namespace": [None] * num_genes + ["biological_process"] * num_go,
            "text": texts,
            "word_count": [len(t.split()) for t in texts],
        }
    )
    with StoreBuilder(path) as b:
        for name, csr in (("ppi", ppi), ("gene_go", gene_go), ("go_go", go_go)):
            b.write_csr(name, csr)
        b.write_csr("go", merge_csr([gene_go, go_go]))
        b.write_csr("go_ppi", merge_csr([ppi, gene_go, go_go]))
        b.write_nodes(nodes)
        b.write_labels(labels)
        if aliases is not None:
            b.write_aliases(aliases)
        b.commit(
            {
                "species": 9606,
                "counts": {"nodes": n, "genes": num_genes, "go_terms": num_go},
                "edge_types": {"ppi": 0, "gene_go": 1, "is_a": 2},
                "relations": list(RELATIONS),
                "tasks": tasks,
                "sources": {},
                "params": params,
            }
        )
    return GraphStore.open(path)


@pytest.fixture
def tiny_store(tmp_path) -> GraphStore:
    return build_tiny_store(tmp_path / "store")
