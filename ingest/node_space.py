"""The store's node space: gene and GO term nodes, and the relations and labels in node ids.

Nodes are the genes (sorted keys), then the live GO terms left after the exclusions
(sorted ids). Every relation (``ppi``, ``gene_go``, ``go_go``, the merged variants, one per
edge list) is a CSR over that one space, and each label row carries the node of its gene
(-1 for a gene the graph lacks). :mod:`ingest.build` calls these in its ``nodes``,
``graphs`` and ``labels`` stages.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from genen_core.store import CSR, NODE_SCHEMA, STORE_LABEL_SCHEMA, csr_from_edges, merge_csr
from ingest import texts
from ingest.config import EDGE_TYPES, IngestConfig
from ingest.edges import EdgeList
from ingest.go import GoOntology
from ingest.idmap import IdMap
from ingest.labels import load_label_dir

log = logging.getLogger(__name__)


def select_terms(go: GoOntology, cfg: IngestConfig) -> tuple[pa.Table, dict]:
    """Live GO terms minus excluded namespaces and terms matching ``exclude_go_terms``."""
    terms = go.terms
    keep = np.ones(terms.num_rows, dtype=bool)
    excluded = {"namespace": 0, "pattern": 0}
    if cfg.exclude_go_namespace:
        drop = pc.is_in(terms.column("namespace"), pa.array(cfg.exclude_go_namespace))
        drop = drop.fill_null(False).to_numpy(zero_copy_only=False)
        excluded["namespace"] = int(np.count_nonzero(drop & keep))
        keep &= ~drop
    if cfg.exclude_go_terms is not None:
        pattern = re.compile(cfg.exclude_go_terms, re.IGNORECASE)
        columns = [terms.column(c).to_pylist() for c in ("id", "name", "definition")]
        drop = np.array(
            [any(v and pattern.search(v) for v in row) for row in zip(*columns, strict=True)],
            dtype=bool,
        )
        excluded["pattern"] = int(np.count_nonzero(drop & keep))
        keep &= ~drop
    if excluded["namespace"] or excluded["pattern"]:
        log.info(
            "excluded %d GO terms by namespace %s and %d by pattern %r",
            excluded["namespace"],
            cfg.exclude_go_namespace,
            excluded["pattern"],
            cfg.exclude_go_terms,
        )
    return terms.filter(pa.array(keep)), excluded


def node_table(
    genes: list[str], terms: pa.Table, info: pa.Table, summaries: dict[str, str]
) -> tuple[pa.Table, dict]:
    """Genes first (sorted symbols), then GO terms (sorted ids), in the store's schema."""
    gene_text, stats = texts.gene_texts(genes, summaries, texts.protein_annotations(info))
    go_text = texts.go_texts(terms)
    all_text = gene_text + go_text
    n_genes, n_go = len(genes), terms.num_rows
    nodes = pa.table(
        {
            "node": np.arange(n_genes + n_go, dtype=np.int64),
            "kind": ["gene"] * n_genes + ["go"] * n_go,
            "key": genes + terms.column("id").to_pylist(),
            "name": genes + terms.column("name").to_pylist(),
            "namespace": [None] * n_genes + terms.column("namespace").to_pylist(),
            "text": all_text,
            "word_count": texts.word_counts(all_text),
        },
        schema=NODE_SCHEMA,
    )
    log.info(
        "texts: %d genes with a summary, %d with an annotation, %d with neither",
        stats["with_summary"],
        stats["with_annotation"],
        stats["without_text"],
    )
    return nodes, stats


def relation_graphs(
    ppi: CSR,
    string_genes: list[str],
    genes: list[str],
    terms: pa.Table,
    go: GoOntology,
    annotations: pa.Table,
    num_nodes: int,
) -> tuple[dict[str, CSR], dict]:
    """The three relations in the global node space and the merged variants."""
    n_genes = len(genes)
    gene_ids = pa.array(genes)
    term_ids = terms.column("id")
    ppi = _reindex_rows(ppi, _positions(pa.array(string_genes), gene_ids), num_nodes)

    # gene_go: annotations to excluded terms are dropped with the terms (position -1).
    gene = _positions(annotations.column("gene"), gene_ids)
    term = _positions(annotations.column("go_id"), term_ids)
    kept = term >= 0
    gene_go = csr_from_edges(
        gene[kept], n_genes + term[kept], num_nodes, None, EDGE_TYPES["gene_go"]
    )

    # go_go: a pair linked by two relations keeps the lowest code (is_a first), made
    # deterministic by a stable sort on the code before csr_from_edges keeps the first.
    src = _positions(go.edges.column("src"), term_ids)
    dst = _positions(go.edges.column("dst"), term_ids)
    code = np.array([EDGE_TYPES[r] for r in go.edges.column("relation").to_pylist()], np.int8)
    live = (src >= 0) & (dst >= 0)
    order = np.argsort(code[live], kind="stable")
    src, dst, code = src[live][order], dst[live][order], code[live][order]
    go_go = csr_from_edges(n_genes + src, n_genes + dst, num_nodes, None, code)
    graphs = {
        "ppi": ppi,
        "gene_go": gene_go,
        "go_go": go_go,
        "go": merge_csr([gene_go, go_go]),
        "go_ppi": merge_csr([ppi, gene_go, go_go]),
    }
    stats = {
        "gene_go": {
            "annotations": annotations.num_rows,
            "to_excluded_terms": int(np.count_nonzero(~kept)),
            "edges": gene_go.nnz // 2,
        },
        "go_go": {
            "ontology_edges": go.edges.num_rows,
            "to_excluded_terms": int(np.count_nonzero(~live)),
            "pairs": go_go.nnz // 2,
            "collapsed": len(code) - go_go.nnz // 2,
        },
    }
    return graphs, stats


def edge_list_relations(
    edge_lists: list[EdgeList], genes: list[str], num_nodes: int
) -> tuple[dict[str, CSR], dict[str, int]]:
    """One relation per edge list, with edge type codes after the built-in ones."""
    graphs, codes = {}, {}
    for code, edges in enumerate(edge_lists, start=max(EDGE_TYPES.values()) + 1):
        src, dst = edges.node_pairs(genes)
        graphs[edges.name] = csr_from_edges(src, dst, num_nodes, edges.weight, code)
        codes[edges.name] = code
        edges.stats["gene_pairs"] = graphs[edges.name].nnz // 2
    return graphs, codes


def _positions(values: pa.Array | pa.ChunkedArray, universe: pa.Array) -> np.ndarray:
    """Index of each value in ``universe`` (int64), -1 where it is absent."""
    found = pc.index_in(values, value_set=universe).fill_null(-1)
    return found.to_numpy().astype(np.int64, copy=False)


def _reindex_rows(csr: CSR, new_index: np.ndarray, num_nodes: int) -> CSR:
    """Move node ``i`` of ``csr`` to ``new_index[i]`` in a space of ``num_nodes``.

    ``new_index`` must be increasing (a sorted subset placed in a sorted superset), so
    columns stay sorted within each row and the edge order is unchanged.
    """
    assert np.all(np.diff(new_index) > 0), "new_index must be strictly increasing"
    degree = np.zeros(num_nodes, dtype=np.int64)
    degree[new_index] = np.diff(csr.indptr)
    indptr = np.zeros(num_nodes + 1, dtype=np.int64)
    np.cumsum(degree, out=indptr[1:])
    indices = new_index.astype(np.int32)[csr.indices]
    return CSR(indptr, indices, csr.weight, csr.etype)


def node_labels(cfg: IngestConfig, genes: list[str], idmap: IdMap) -> tuple[pa.Table, dict]:
    """Label rows with node ids (-1 for genes not in the graph) and per-task info.

    Label genes go through the identifier map first (old symbols, Entrez, Ensembl or
    UniProt ids -> the graph's gene keys).
    """
    if cfg.labels is None:
        return STORE_LABEL_SCHEMA.empty_table(), {}
    keys = frozenset(genes)
    table, tasks = load_label_dir(Path(cfg.labels), lambda ids: idmap.resolve(ids, "auto", keys))
    index = {g: i for i, g in enumerate(genes)}
    label_genes = table.column("gene").to_pylist()
    node = np.array([index.get(g, -1) for g in label_genes], dtype=np.int64)
    table = table.append_column("node", pa.array(node))
    task_col = np.array(table.column("task").to_pylist(), dtype=object)
    for task, info in tasks.items():
        rows = task_col == task
        task_genes = {g for g, r in zip(label_genes, rows, strict=True) if r}
        unknown = sorted(
            {g for g, r, n in zip(label_genes, rows, node, strict=True) if r and n < 0}
        )
        info["genes_in_graph"] = len(task_genes) - len(unknown)
        info["unknown_genes"] = len(unknown)
        info["unknown_rows"] = int(np.count_nonzero(rows & (node < 0)))
        if unknown:
            log.warning(
                "task %s: %d of %d genes are not in the graph (e.g. %s); their rows get node -1",
                task,
                len(unknown),
                len(task_genes),
                ", ".join(unknown[:5]),
            )
    return table.select(STORE_LABEL_SCHEMA.names), tasks
