"""Adjacencies in CSR form: the arrays, their invariant checks, and linear-time merges.

The invariants every stored CSR keeps are listed in :mod:`genen_core.store`; :func:`check_csr`
checks them. Merges run in row blocks (:func:`row_blocks`) so that memory stays bounded
on 10^8-edge graphs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genen_core.store.layout import StoreError


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
