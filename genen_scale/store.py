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
  when complete (:class:`StoreBuilder`, crash-safe by :mod:`genen_scale.store_swap`);
  readers never see a partial store.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from genen_scale import store_swap

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
NODES = "nodes.parquet"
LABELS = "labels.parquet"
ALIASES = "aliases.parquet"
GRAPH_DIR = "graph"
FEATURES_DIR = "features"
# Everything a store directory may hold at its top level.
STORE_ENTRIES = frozenset({MANIFEST, NODES, LABELS, ALIASES, GRAPH_DIR, FEATURES_DIR})

RELATIONS = ("ppi", "gene_go", "go_go")
VARIANTS = {"ppi": ("ppi",), "go": ("gene_go", "go_go"), "go_ppi": ("ppi", "gene_go", "go_go")}
# Stored merged CSRs; the "ppi" variant is the ppi relation itself.
STORED_GRAPHS = ("ppi", "gene_go", "go_go", "go", "go_ppi")
# A relation or variant name; a composed graph joins several with "+".
GRAPH_NAME = re.compile(r"[a-z][a-z0-9_]*")

NODE_SCHEMA = pa.schema(
    [
        ("node", pa.int64()),
        ("kind", pa.string()),
        ("key", pa.string()),
        ("name", pa.string()),
        ("namespace", pa.string()),
        ("text", pa.string()),
        ("word_count", pa.int32()),
    ]
)
LABEL_SCHEMA = pa.schema(
    [("task", pa.string()), ("gene", pa.string()), ("node", pa.int64()), ("label", pa.float64())]
)


ALIAS_SCHEMA = pa.schema([("alias", pa.string()), ("id_type", pa.string()), ("node", pa.int64())])


class StoreError(ValueError):
    """A store that is missing, incomplete or violates its invariants."""


@dataclass(frozen=True)
class CSR:
    """One adjacency in compressed sparse row form (arrays may be memory-mapped).

    Shapes:
        indptr: ``[num_nodes + 1]`` int64; indices, weight, etype: ``[nnz]``.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weight: np.ndarray
    etype: np.ndarray

    @property
    def num_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)


# Rows are processed in blocks of about this many entries so that the int64 temporaries
# of a 10^8-edge graph stay in the hundreds of MB instead of several GB.
BLOCK_ENTRIES = 1 << 24


def row_blocks(indptr: np.ndarray, max_entries: int | None = None):
    """Yield ``(r0, r1)`` row ranges holding about ``max_entries`` (default
    :data:`BLOCK_ENTRIES`) entries each; a single larger row is a block of its own."""
    max_entries = max_entries or BLOCK_ENTRIES
    ip = np.asarray(indptr)
    n, r0 = len(ip) - 1, 0
    while r0 < n:
        r1 = int(np.searchsorted(ip, ip[r0] + max_entries, side="right")) - 1
        r1 = min(max(r1, r0 + 1), n)
        yield r0, r1
        r0 = r1


def _block_rows(ip: np.ndarray, r0: int, r1: int) -> np.ndarray:
    return np.repeat(np.arange(r0, r1, dtype=np.int64), np.diff(ip[r0 : r1 + 1]))


def check_csr(csr: CSR, name: str = "csr", symmetric: bool = True) -> None:
    """Raise :class:`StoreError` naming the first violated invariant of ``csr``.

    The linear checks run in row blocks (bounded memory); ``symmetric`` sorts every edge
    once and is meant for tests and small graphs.
    """
    ip, ix = np.asarray(csr.indptr), np.asarray(csr.indices)
    n = len(ip) - 1
    if ip.dtype != np.int64 or ix.dtype != np.int32:
        raise StoreError(f"{name}: dtypes indptr={ip.dtype} indices={ix.dtype}, want int64/int32")
    if ip[0] != 0 or ip[-1] != len(ix) or np.any(np.diff(ip) < 0):
        raise StoreError(f"{name}: indptr is not monotone from 0 to nnz={len(ix)}")
    if not (len(csr.weight) == len(csr.etype) == len(ix)):
        raise StoreError(f"{name}: weight/etype lengths differ from nnz={len(ix)}")
    if len(ix) == 0:
        return
    if ix.min() < 0 or ix.max() >= n:
        raise StoreError(f"{name}: neighbour index out of range [0, {n})")
    for r0, r1 in row_blocks(ip):
        cols = ix[ip[r0] : ip[r1]]
        rows = _block_rows(ip, r0, r1)
        if np.any(rows == cols):
            raise StoreError(f"{name}: self-loop at node {int(rows[rows == cols][0])}")
        # Within a row, columns strictly increase: sorted and no duplicates.
        bad = (rows[1:] == rows[:-1]) & (cols[1:] <= cols[:-1])
        if np.any(bad):
            raise StoreError(f"{name}: row {int(rows[1:][bad][0])} is unsorted or has duplicates")
    if symmetric:
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(ip))
        fwd = rows * n + ix
        rev = ix.astype(np.int64) * n + rows
        if not np.array_equal(np.sort(fwd), np.sort(rev)):
            raise StoreError(f"{name}: not symmetric (an edge is stored in one direction only)")


class StoreBuilder:
    """Builds a store in a temporary sibling directory; :meth:`commit` moves it into place.

    Use as a context manager: on any exception the temporary directory is removed and an
    existing store at ``dest`` is left untouched. Construction comes first, before any
    long parse: it resolves what killed builds left (:func:`genen_scale.store_swap.recover`),
    refuses to replace anything but a graph store (:func:`is_graph_store`), and creates the
    temporary directory, so an unwritable parent fails at once. With ``force`` an existing
    store is replaced at commit time by the crash-safe protocol of
    :mod:`genen_scale.store_swap`; its ``features/`` directory is carried over so that the
    encoder can reuse rows whose text did not change.
    """

    def __init__(self, dest: str | os.PathLike, force: bool = False):
        self.dest = Path(dest).resolve()
        try:
            store_swap.recover(self.dest)
        except store_swap.LeftoverError as e:
            raise StoreError(str(e)) from None
        if os.path.lexists(self.dest):
            if not force:
                raise FileExistsError(
                    f"store {self.dest} already exists; pass --force to rebuild it"
                )
            why = not_a_store_reason(self.dest)
            if why:
                raise StoreError(
                    f"refusing to replace {self.dest}: {why}; --force only replaces a graph "
                    "store built by genen-ingest. Choose another --out, or move it away yourself"
                )
        self.tmp = store_swap.leftover_path(self.dest, store_swap.BUILDING)
        try:
            self.dest.parent.mkdir(parents=True, exist_ok=True)
            if self.tmp.exists():  # left by an earlier process that had our PID
                shutil.rmtree(self.tmp)
            self.tmp.mkdir()
        except OSError as e:
            raise StoreError(
                f"cannot create the store under {self.dest.parent}: {e.strerror or e}; "
                "choose an --out in a writable directory"
            ) from None
        self._committed = False

    def __enter__(self) -> StoreBuilder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._committed:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def write_csr(self, name: str, csr: CSR) -> None:
        d = self.tmp / GRAPH_DIR / name
        d.mkdir(parents=True, exist_ok=True)
        for field in ("indptr", "indices", "weight", "etype"):
            np.save(d / f"{field}.npy", getattr(csr, field))

    def write_nodes(self, table: pa.Table) -> None:
        pq.write_table(table.select(NODE_SCHEMA.names).cast(NODE_SCHEMA), self.tmp / NODES)

    def write_labels(self, table: pa.Table) -> None:
        pq.write_table(table.select(LABEL_SCHEMA.names).cast(LABEL_SCHEMA), self.tmp / LABELS)

    def write_aliases(self, table: pa.Table) -> None:
        pq.write_table(table.select(ALIAS_SCHEMA.names).cast(ALIAS_SCHEMA), self.tmp / ALIASES)

    def commit(self, manifest: dict) -> Path:
        """Validate, write the manifest and move the store to ``dest`` (crash-safe)."""
        manifest = {"schema_version": SCHEMA_VERSION, **manifest}
        (self.tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        store = GraphStore(self.tmp)  # validates presence and shapes
        # Symmetry needs a sort of every edge; the builders guarantee it by construction
        # and the tests check it, so commit runs only the linear-time checks.
        for name in store.graph_names:
            check_csr(store.csr(name), name, symmetric=False)
        if (self.dest / FEATURES_DIR).is_dir():
            shutil.copytree(self.dest / FEATURES_DIR, self.tmp / FEATURES_DIR)
        store_swap.swap_in(self.tmp, self.dest)
        self._committed = True
        log.info("store committed at %s", self.dest)
        return self.dest


def not_a_store_reason(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a graph store this code wrote, or None when it is one.

    A store is recognised by its manifest (JSON with a ``schema_version``) and layout
    (``nodes.parquet``, ``graph/``, and no top-level entries but :data:`STORE_ENTRIES`),
    so that replacing it can never delete a user's own files.
    """
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return "it is not a directory"
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return f"it has no readable {MANIFEST}"
    if not isinstance(manifest, dict) or "schema_version" not in manifest:
        return f"its {MANIFEST} is not a store manifest (no schema_version)"
    if not (path / NODES).is_file() or not (path / GRAPH_DIR).is_dir():
        return f"it lacks {NODES} or {GRAPH_DIR}/"
    foreign = sorted(p.name for p in path.iterdir() if p.name not in STORE_ENTRIES)
    if foreign:
        return f"it holds files a store does not ({', '.join(foreign[:5])})"
    return None


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
            return LABEL_SCHEMA.empty_table()
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


def csr_from_edges(
    src: np.ndarray,
    dst: np.ndarray,
    num_nodes: int,
    weight: np.ndarray | None = None,
    etype: np.ndarray | int = 0,
) -> CSR:
    """Undirected CSR from an edge list given in either or both directions.

    Both directions are added, self-loops dropped, duplicates collapsed keeping the
    largest weight (STRING lists each pair twice and several proteins map to one gene).
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    w = np.ones(len(src), np.float32) if weight is None else np.asarray(weight, np.float32)
    t = np.broadcast_to(np.asarray(etype, dtype=np.int8), src.shape)
    keep = src != dst
    src, dst, w, t = src[keep], dst[keep], w[keep], t[keep]
    key = np.concatenate([src * num_nodes + dst, dst * num_nodes + src])
    w = np.concatenate([w, w])
    t = np.concatenate([t, t])
    # Sort by (key, -weight) so the first of each run of equal keys carries the max weight.
    order = np.lexsort((-w, key))
    key, w, t = key[order], w[order], t[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key, w, t = key[first], w[first], t[first]
    rows = key // num_nodes
    indptr = np.zeros(num_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=num_nodes), out=indptr[1:])
    return CSR(indptr, (key % num_nodes).astype(np.int32), w.astype(np.float32), t.astype(np.int8))


def parse_graph_spec(spec: str) -> list[str]:
    """``"ppi+huri"`` -> ``["ppi", "huri"]``; raises ValueError on a malformed spec."""
    parts = spec.split("+")
    bad = [p for p in parts if not GRAPH_NAME.fullmatch(p)]
    if bad:
        raise ValueError(
            f"graph {spec!r} is not a graph variant ({', '.join(VARIANTS)}), a relation, or "
            "relations joined by '+' (e.g. ppi+huri); names are lower-case letters, digits, _"
        )
    return parts


def union_csr(parts: list[CSR]) -> CSR:
    """Row-wise union of CSRs over one node space whose edge sets may overlap.

    An edge present in several parts is kept once, with its largest weight and that
    entry's edge type (``ppi`` and a user PPI graph share many pairs). Linear passes in
    row blocks, like :func:`merge_csr`.
    """
    merged = merge_csr(parts)  # rows sorted; equal columns of a row are adjacent
    ip, n = np.asarray(merged.indptr), merged.num_nodes
    ix, w, et = merged.indices, merged.weight, merged.etype
    keep = np.ones(merged.nnz, dtype=bool)
    for r0, r1 in row_blocks(ip):
        a, b = ip[r0], ip[r1]
        key = _block_rows(ip, r0, r1) * n + ix[a:b]
        if not np.any(key[1:] == key[:-1]):
            continue
        order = a + np.lexsort((-w[a:b], key))
        ix[a:b], w[a:b], et[a:b] = ix[order], w[order], et[order]
        key = key[order - a]
        keep[a + 1 : b] = key[1:] != key[:-1]
    if keep.all():
        return merged
    kept = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept[1:])
    return CSR(kept[ip], ix[keep], w[keep], et[keep])


def merge_csr(parts: list[CSR]) -> CSR:
    """Row-wise union of CSRs over the same node space whose edge sets are disjoint.

    Each part is scattered into its rows after the parts before it, a linear pass in row
    blocks. With the node order (genes before GO terms) and the relation order ppi,
    gene_go, go_go every merged row is already sorted; a block is sorted only otherwise.
    """
    n = parts[0].num_nodes
    degs = [np.diff(np.asarray(p.indptr)) for p in parts]
    deg = sum(degs)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg, out=indptr[1:])
    nnz = int(indptr[-1])
    indices = np.empty(nnz, np.int32)
    weight = np.empty(nnz, np.float32)
    etype = np.empty(nnz, np.int8)
    start = indptr[:-1].copy()  # next free slot of each row
    for p, d in zip(parts, degs, strict=True):
        ip = np.asarray(p.indptr)
        shift = start - ip[:-1]  # per row: where its entries move to, minus where they are
        for r0, r1 in row_blocks(ip):
            a, b = ip[r0], ip[r1]
            dest = np.arange(a, b, dtype=np.int64) + np.repeat(shift[r0:r1], d[r0:r1])
            indices[dest] = p.indices[a:b]
            weight[dest] = p.weight[a:b]
            etype[dest] = p.etype[a:b]
        start += d
    for r0, r1 in row_blocks(indptr):
        a, b = indptr[r0], indptr[r1]
        rows, cols = _block_rows(indptr, r0, r1), indices[a:b]
        if np.any((rows[1:] == rows[:-1]) & (cols[1:] < cols[:-1])):
            order = a + np.argsort(rows * n + cols, kind="stable")
            indices[a:b], weight[a:b], etype[a:b] = indices[order], weight[order], etype[order]
    return CSR(indptr, indices, weight, etype)
