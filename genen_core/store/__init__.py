"""The on-disk graph store: the one thing ingestion writes and every later stage reads.

Layout of a store directory (schema version 1)::

    manifest.json              schema_version, sources (url, release, sha256), params, counts,
                               edge_types, variants, tasks
    nodes.parquet              node:int64, kind:str ('gene'|'go'), key:str (symbol | GO id),
                               name:str, namespace:str|null, text:str, word_count:int32
    graph/<name>/indptr.npy    int64  [num_nodes + 1]
    graph/<name>/indices.npy   int32  [nnz]   global node index of each neighbour
    graph/<name>/weight.npy    float32[nnz]   PPI: STRING combined_score / 1000; others 1.0
    graph/<name>/etype.npy     int8   [nnz]   code from manifest["edge_types"]
                               (<name>: the relations and variants below, plus one
                               relation per user edge list, listed in manifest["relations"])
    labels.parquet             task:str, gene:str, node:int64 (-1 if not in graph), label:float64
    aliases.parquet            alias:str, id_type:str, node:int64: other names and ids of the
                               gene nodes (old symbols, Entrez, Ensembl, UniProt), each naming
                               one gene (ingest.idmap); optional (older stores lack it)
    features/<name>.npy        float16|float32 [num_nodes, dim]; row i = node i (encoder stage)
    features/<name>.json       sidecar: model, pooling, dim, max_length, per-row text hashes

Invariants (checked by :func:`check_csr` and relied upon by the samplers):

* Node order is fixed: genes first (``0 .. num_genes-1``, sorted by symbol), then GO terms
  (sorted by id). Every CSR uses this global index space, so relations can be merged row
  by row and one feature matrix serves every graph variant.
* Every CSR is undirected (each edge stored in both directions), has no self-loops, no
  duplicate entries, column indices sorted ascending within each row, ``indptr``
  monotone with ``indptr[0] == 0`` and ``indptr[-1] == nnz``.
* Relations are ``ppi`` (gene-gene), ``gene_go`` (gene-GO) and ``go_go`` (GO-GO), plus
  any gene-gene relation from a user edge list (``genen-ingest --edges NAME=PATH``); the
  graph variants are stored merged so that workers memory-map them without building a
  copy: ``ppi`` (the relation itself), ``go`` (gene_go + go_go) and ``go_ppi`` (all three).
  Other graphs are composed when a run opens them (:meth:`GraphStore.graph`:
  ``huri+gene_go+go_go``, ``ppi+huri``), from the memory-mapped relations.
* The store is static: it is built in a temporary directory and renamed into place only
  when complete (:class:`StoreBuilder`, crash-safe by :mod:`genen_core.store.swap`);
  readers never see a partial store.

Modules: :mod:`.layout` (file names, schemas, graph names, :class:`StoreError`),
:mod:`.csr` (the :class:`CSR` arrays, their checks and merges), :mod:`.graph_store` (the
reader), :mod:`.builder` (the writer) and :mod:`.swap` (the crash-safe replacement).
"""

from genen_core.store.builder import StoreBuilder
from genen_core.store.csr import (
    CSR,
    check_csr,
    csr_from_edges,
    merge_csr,
    row_blocks,
    union_csr,
)
from genen_core.store.graph_store import GraphStore
from genen_core.store.layout import (
    ALIAS_SCHEMA,
    ALIASES,
    FEATURES_DIR,
    GO_NAMESPACES,
    GRAPH_DIR,
    LABELS,
    MANIFEST,
    NODE_SCHEMA,
    NODES,
    RELATIONS,
    SCHEMA_VERSION,
    STORE_ENTRIES,
    STORE_LABEL_SCHEMA,
    STORED_GRAPHS,
    VARIANTS,
    StoreError,
    not_a_store_reason,
    parse_graph_spec,
)

__all__ = [
    "ALIASES",
    "ALIAS_SCHEMA",
    "CSR",
    "FEATURES_DIR",
    "GO_NAMESPACES",
    "GRAPH_DIR",
    "LABELS",
    "MANIFEST",
    "NODES",
    "NODE_SCHEMA",
    "RELATIONS",
    "SCHEMA_VERSION",
    "STORED_GRAPHS",
    "STORE_ENTRIES",
    "STORE_LABEL_SCHEMA",
    "VARIANTS",
    "GraphStore",
    "StoreBuilder",
    "StoreError",
    "check_csr",
    "csr_from_edges",
    "merge_csr",
    "not_a_store_reason",
    "parse_graph_spec",
    "row_blocks",
    "union_csr",
]
