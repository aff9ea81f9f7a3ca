"""The store reader: :class:`GraphStore`, a read-only, memory-mapped view of a built store.

It opens what :mod:`genen_core.store` describes and relies on its invariants (sorted,
symmetric CSRs over one global node order, a static store), which the builder checked.
"""

from __future__ import annotations

import json
import logging
import os
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from genen_core.store.csr import CSR, union_csr
from genen_core.store.layout import (
    ALIAS_SCHEMA,
    ALIASES,
    FEATURES_DIR,
    GRAPH_DIR,
    LABELS,
    MANIFEST,
    NODES,
    RELATIONS,
    SCHEMA_VERSION,
    STORE_LABEL_SCHEMA,
    STORED_GRAPHS,
    VARIANTS,
    StoreError,
    parse_graph_spec,
)

log = logging.getLogger(__name__)


class GraphStore:
    """Read-only view of a built store; arrays are memory-mapped, tables loaded lazily."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        mf = self.path / MANIFEST
        if not mf.is_file():
            raise StoreError(
                f"{self.path} is not a graph store (no {MANIFEST}); build one with genen-ingest"
            )
        self.manifest: dict = json.loads(mf.read_text())
        if self.manifest.get("schema_version") != SCHEMA_VERSION:
            raise StoreError(
                f"{mf}: schema_version {self.manifest.get('schema_version')!r}, "
                f"this code reads {SCHEMA_VERSION}; rebuild the store with genen-ingest --force"
            )

    @classmethod
    def open(cls, path: str | os.PathLike) -> GraphStore:
        return cls(path)

    # --- nodes -----------------------------------------------------------------------
    @cached_property
    def nodes(self) -> pa.Table:
        return pq.read_table(self.path / NODES)

    @property
    def num_nodes(self) -> int:
        return int(self.manifest["counts"]["nodes"])

    @property
    def num_genes(self) -> int:
        return int(self.manifest["counts"]["genes"])

    @cached_property
    def gene_index(self) -> dict[str, int]:
        """Gene symbol -> node index."""
        keys = self.nodes.column("key").to_pylist()[: self.num_genes]
        return {k: i for i, k in enumerate(keys)}

    @cached_property
    def aliases(self) -> pa.Table:
        """Other names and ids of the gene nodes (empty for a store built without them)."""
        f = self.path / ALIASES
        return pq.read_table(f) if f.is_file() else ALIAS_SCHEMA.empty_table()

    def gene_nodes(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Node of each gene id: its key, else an alias written by the ingest (ids are
        matched as written; the ingest already dropped versions and isoforms).

        Returns:
            ``(nodes, by_alias)``: int64 ``[n]`` node ids (-1: no such gene) and a bool
            ``[n]`` mask of the ids found through an alias.
        """
        index = self.gene_index
        table = self.aliases
        names, nodes = table.column("alias").to_pylist(), table.column("node").to_pylist()
        alias = dict(zip(names, nodes, strict=True))
        nodes = np.array([index.get(i, alias.get(i, -1)) for i in ids], dtype=np.int64)
        by_alias = np.array([i not in index and i in alias for i in ids], dtype=bool)
        return nodes, by_alias

    # --- graph -----------------------------------------------------------------------
    @property
    def relations(self) -> list[str]:
        """The stored relations: ``ppi``, ``gene_go``, ``go_go`` and user edge lists."""
        return list(self.manifest.get("relations", RELATIONS))

    @property
    def graph_names(self) -> list[str]:
        """Every stored graph: the variants and the relations."""
        return list(dict.fromkeys([*STORED_GRAPHS, *self.relations]))

    def csr(self, name: str) -> CSR:
        """A stored relation (``ppi``, ``gene_go``, ``go_go``, user edge lists) or variant
        (``ppi``, ``go``, ``go_ppi``), memory-mapped."""
        if name not in self.graph_names:
            raise StoreError(
                f"unknown graph {name!r}; store {self.path} has {', '.join(self.graph_names)}"
            )
        d = self.path / GRAPH_DIR / name
        arrays = {}
        for field in ("indptr", "indices", "weight", "etype"):
            f = d / f"{field}.npy"
            if not f.is_file():
                raise StoreError(f"store {self.path} is incomplete: {f} is missing")
            arrays[field] = _open_npy(f)
        csr = CSR(**arrays)
        if csr.num_nodes != self.num_nodes:
            raise StoreError(f"{d}: indptr has {csr.num_nodes} rows, store has {self.num_nodes}")
        return csr

    def graph(self, spec: str) -> CSR:
        """The graph a run trains on: a stored graph, or ``+``-joined relations and
        variants (``ppi+huri``, ``huri+gene_go+go_go``) merged by :func:`union_csr`.

        A stored graph comes back memory-mapped; a composed one is built in memory, once
        per process: 9 bytes per edge (int32 index, float32 weight, int8 type), about
        twice that while it is merged.

        Raises:
            StoreError: A name the store does not hold (the message lists them).
        """
        parts = parse_graph_spec(spec)
        if len(parts) == 1:
            return self.csr(parts[0])
        # Variants expand to their relations so that a relation named twice is read once.
        names = list(dict.fromkeys(r for p in parts for r in VARIANTS.get(p, (p,))))
        csrs = [self.csr(name) for name in names]
        log.info("composing graph %s from %s", spec, ", ".join(names))
        return union_csr(csrs)

    def edge_index(self, variant: str):
        """``[2, nnz]`` int64 torch tensor (COO) of a variant, for full-batch use.

        This materialises a copy; mini-batch training samples from :meth:`csr` instead.
        """
        import torch

        csr = self.csr(variant)
        row = np.repeat(np.arange(csr.num_nodes, dtype=np.int64), np.diff(csr.indptr))
        col = np.asarray(csr.indices, dtype=np.int64)
        return torch.from_numpy(np.stack([row, col]))

    def to_pyg(self, variant: str, features: str | None = None):
        """A ``torch_geometric.data.Data`` for one variant (full-batch, small graphs).

        ``x`` is the named feature matrix (float32) if given, ``edge_weight`` the CSR weights,
        ``edge_type`` the type codes, ``is_gene`` a mask of gene nodes.
        """
        import torch
        from torch_geometric.data import Data

        csr = self.csr(variant)
        data = Data(
            edge_index=self.edge_index(variant),
            edge_weight=torch.from_numpy(np.array(csr.weight, dtype=np.float32)),
            edge_type=torch.from_numpy(np.array(csr.etype, dtype=np.int64)),
            num_nodes=self.num_nodes,
        )
        data.is_gene = torch.arange(self.num_nodes) < self.num_genes
        if features is not None:
            data.x = torch.from_numpy(np.array(self.features(features), dtype=np.float32))
        return data

    # --- labels ----------------------------------------------------------------------
    @property
    def tasks(self) -> dict:
        """Task name -> {kind, classes, source, rows, genes, unknown_genes, ...}."""
        return self.manifest.get("tasks", {})

    @cached_property
    def labels(self) -> pa.Table:
        f = self.path / LABELS
        if not f.is_file():
            return STORE_LABEL_SCHEMA.empty_table()
        return pq.read_table(f)

    # --- features --------------------------------------------------------------------
    def feature_path(self, name: str) -> Path:
        return self.path / FEATURES_DIR / f"{name}.npy"

    def features(self, name: str) -> np.ndarray:
        f = self.feature_path(name)
        if not f.is_file():
            have = sorted(p.stem for p in (self.path / FEATURES_DIR).glob("*.npy"))
            raise StoreError(
                f"store {self.path} has no features {name!r} (have: {have or 'none'}); "
                f"run `genen-encode {self.path}` first"
            )
        arr = _open_npy(f)
        if arr.shape[0] != self.num_nodes:
            raise StoreError(f"{f}: {arr.shape[0]} rows, store has {self.num_nodes} nodes")
        return arr

    def feature_meta(self, name: str) -> dict:
        return json.loads((self.path / FEATURES_DIR / f"{name}.json").read_text())


def _open_npy(f: Path) -> np.ndarray:
    """Memory-map an ``.npy`` file; a truncated or corrupt one is a :class:`StoreError`."""
    try:
        return np.load(f, mmap_mode="r")
    except (ValueError, OSError, EOFError) as e:
        # mmap reports a short file as "mmap length is greater than file size".
        raise StoreError(
            f"{f} is truncated or not a NumPy array file ({e}); rebuild it "
            "(genen-encode --force for features, genen-ingest --force for graphs)"
        ) from None
