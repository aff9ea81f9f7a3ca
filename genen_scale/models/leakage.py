"""Label-leakage control at run time: GO terms dropped from a graph variant read from a store.

GO cellular-component terms such as "membrane" or "nucleus" carry the solubility and
localization labels into the graph. ``genen-ingest --exclude-go-*`` builds a store
without them; this module does the same for one run on an existing store, so that a
sweep compares with and without such terms on one store, with no second ingest or
re-encode. Dropping a term removes every edge it takes part in (gene annotations and
GO-GO relations); the node itself stays (isolated), so node ids, features and folds are
those of the store.

A control for dropping a whole namespace is a seeded random set of GO terms of the same
size (``random``, e.g. as many terms as the cellular-component namespace holds): if the
random drop costs as much as the namespace, the namespace's labels were not what the
graph was leaking.

The filtered CSR keeps the store's invariants: rows sorted, both directions of every
kept edge kept, no duplicates.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pyarrow as pa

from genen_core.store import CSR, GO_NAMESPACES, row_blocks

log = logging.getLogger(__name__)


def check_go_filter(
    namespaces: list[str], pattern: str | None, where: str, random: int = 0
) -> None:
    """Raise ``ValueError`` naming ``where`` for an unknown namespace, a bad regex or a
    negative random count."""
    if random < 0:
        raise ValueError(f"{where}: random GO-term count {random} must be 0 or more")
    bad = sorted(set(namespaces) - set(GO_NAMESPACES))
    if bad:
        raise ValueError(f"{where}: {bad} are not GO namespaces; use some of {list(GO_NAMESPACES)}")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError(f"{where}: {pattern!r} is not a valid regex: {e}") from None


def leaky_go_nodes(
    nodes: pa.Table,
    namespaces: list[str] = (),
    pattern: str | None = None,
    random: int = 0,
    seed: int = 0,
) -> np.ndarray:
    """Node ids of the GO terms in one of ``namespaces``, matching ``pattern``, and
    ``random`` more drawn at random.

    Args:
        nodes: The store's node table (``kind``, ``key``, ``name``, ``namespace``, ``text``).
        namespaces: GO namespaces to drop entirely.
        pattern: Regex searched, case-insensitively, in the term's id, name and text (the
            store's GO text is ``"<name>. <definition>"``).

    Returns:
        Sorted int64 node ids.
    """
    is_go = np.asarray(nodes.column("kind").to_numpy(zero_copy_only=False)) == "go"
    drop = np.zeros(nodes.num_rows, dtype=bool)
    if namespaces:
        ns = np.asarray(nodes.column("namespace").to_numpy(zero_copy_only=False), dtype=object)
        drop |= np.isin(ns, list(namespaces))
    if pattern is not None:
        rx = re.compile(pattern, re.IGNORECASE)
        cols = [nodes.column(c).to_pylist() for c in ("key", "name", "text")]
        go_rows = np.flatnonzero(is_go)
        hits = [i for i in go_rows if any(v and rx.search(v) for v in (c[i] for c in cols))]
        drop[np.asarray(hits, dtype=np.int64)] = True
    drop &= is_go
    if random:
        pool = np.flatnonzero(is_go & ~drop)
        if random > len(pool):
            raise ValueError(
                f"exclude_go_random={random}: only {len(pool)} GO terms are left to draw "
                "from after the other filters"
            )
        drop[np.random.default_rng(seed).choice(pool, size=random, replace=False)] = True
    return np.flatnonzero(drop).astype(np.int64)


def drop_nodes(csr: CSR, nodes: np.ndarray) -> CSR:
    """``csr`` without any entry whose row or column is in ``nodes`` (an in-memory copy).

    Works in row blocks so that a large graph's temporaries stay bounded.
    """
    gone = np.zeros(csr.num_nodes, dtype=bool)
    gone[np.asarray(nodes, dtype=np.int64)] = True
    ip = np.asarray(csr.indptr)
    keep = np.empty(csr.nnz, dtype=bool)
    counts = np.zeros(csr.num_nodes, dtype=np.int64)
    for r0, r1 in row_blocks(ip):
        a, b = ip[r0], ip[r1]
        rows = np.repeat(np.arange(r0, r1), np.diff(ip[r0 : r1 + 1]))
        k = ~(gone[rows] | gone[np.asarray(csr.indices[a:b])])
        keep[a:b] = k
        counts[r0:r1] = np.bincount(rows[k] - r0, minlength=r1 - r0)
    indptr = np.zeros_like(ip)
    np.cumsum(counts, out=indptr[1:])
    return CSR(
        indptr,
        np.asarray(csr.indices)[keep],
        np.asarray(csr.weight)[keep],
        np.asarray(csr.etype)[keep],
    )
