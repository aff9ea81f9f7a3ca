"""GO enrichment of gene-embedding clusters (the paper's Figure 3b/d), from the store alone.

Genes are clustered by k-means on their embeddings; each cluster is tested for every GO
term of one namespace with the one-sided hypergeometric test (more of the cluster's genes
annotated with the term than chance), and the p-values of all (cluster, term) tests of
one embedding space are adjusted together by Benjamini–Hochberg. No network is needed:
the annotations are the store's own ``gene_go`` edges.

What the universe is, stated once: the clustered genes that carry at least one
annotation of the namespace (an unannotated gene can be neither a hit nor a miss).
Annotations are the store's direct ones, not propagated up the ontology: the store's
``go_go`` relation is undirected, so parents cannot be told from children. A term is
tested when at least ``min_term_genes`` universe genes carry it.

The refined embeddings of a GNN trained on a graph with GO terms were computed by
message passing over these same annotations, so their clusters' enrichment partly
restates the graph; the text embeddings' clusters are the contrast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.stats import false_discovery_control, hypergeom

from genen_core.store import GraphStore

log = logging.getLogger(__name__)


@dataclass
class Annotations:
    """Which of some genes carry which GO terms of one namespace.

    Attributes:
        genes: int64 ``[g]`` gene node ids (the rows).
        matrix: Boolean CSR ``[g, t]``: gene row carries term column.
        terms: ``[t]`` GO ids; ``names``: ``[t]`` their names.
    """

    genes: np.ndarray
    matrix: sp.csr_matrix
    terms: list[str]
    names: list[str]


def go_annotations(store: GraphStore, genes: np.ndarray, namespace: str) -> Annotations:
    """The store's direct annotations of ``genes`` with the terms of ``namespace``.

    Raises:
        ValueError: The store has no GO term of ``namespace`` (the message lists those
            it has).
    """
    nodes = store.nodes
    kind = np.asarray(nodes.column("kind").to_numpy(zero_copy_only=False), dtype=object)
    ns = np.asarray(nodes.column("namespace").to_numpy(zero_copy_only=False), dtype=object)
    term_nodes = np.flatnonzero((kind == "go") & (ns == namespace))
    if not len(term_nodes):
        have = sorted({str(v) for v in ns[kind == "go"]})
        raise ValueError(
            f"store {store.path} has no GO term of namespace {namespace!r} (it has {have})"
        )
    column = np.full(len(kind), -1, dtype=np.int64)
    column[term_nodes] = np.arange(len(term_nodes))
    csr = store.csr("gene_go")
    genes = np.asarray(genes, dtype=np.int64)
    ip = np.asarray(csr.indptr)
    starts, ends = ip[genes], ip[genes + 1]
    rows = np.repeat(np.arange(len(genes)), ends - starts)
    idx = np.concatenate([np.asarray(csr.indices[a:b]) for a, b in zip(starts, ends, strict=True)])
    cols = column[idx.astype(np.int64)] if len(idx) else np.empty(0, dtype=np.int64)
    keep = cols >= 0
    matrix = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=bool), (rows[keep], cols[keep])),
        shape=(len(genes), len(term_nodes)),
    )
    keys = nodes.column("key").to_pylist()
    names = nodes.column("name").to_pylist()
    return Annotations(
        genes, matrix, [keys[i] for i in term_nodes], [names[i] or "" for i in term_nodes]
    )


def kmeans_clusters(x: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means cluster of each row of ``x`` after scaling rows to unit length (cosine
    geometry, as the nearest-gene search uses: text and refined vectors differ in scale).

    Shapes:
        x: ``[n, d]``; returns int64 ``[n]`` in ``0 .. k-1``.
    """
    from sklearn.cluster import KMeans

    if not 2 <= k <= len(x):
        raise ValueError(f"clusters={k} must lie between 2 and the {len(x)} genes clustered")
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norm > 0, norm, 1.0)  # a masked (all-zero) row stays at the origin
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x).astype(np.int64)


@dataclass
class TermHit:
    """One (cluster, term) test with at least one annotated gene of the cluster."""

    cluster: int
    term: str
    name: str
    in_cluster: int
    """Universe genes of the cluster carrying the term (k)."""
    cluster_size: int
    """Universe genes of the cluster (n)."""
    term_size: int
    """Universe genes carrying the term (K)."""
    universe: int
    """Universe genes (N)."""
    p: float
    q: float
    """Benjamini–Hochberg adjusted p over every test of the embedding space."""

    @property
    def fold(self) -> float:
        """Observed over expected share: ``(k / n) / (K / N)``."""
        return (self.in_cluster / self.cluster_size) / (self.term_size / self.universe)


@dataclass
class Enrichment:
    """The clusters of one embedding space and their tests.

    Attributes:
        space: What was clustered (e.g. ``refined``, ``text``).
        clusters: int64 ``[g]`` cluster of each clustered gene (the annotation rows).
        sizes: Clustered genes per cluster (annotated or not).
        hits: Tests with ``in_cluster > 0``, by cluster then p.
        tests: Tests counted by the adjustment (tested terms × clusters).
    """

    space: str
    clusters: np.ndarray
    sizes: list[int]
    hits: list[TermHit] = field(default_factory=list)
    tests: int = 0

    def top(self, cluster: int, n: int, alpha: float = 0.05) -> list[TermHit]:
        """The ``n`` terms of ``cluster`` with the smallest p among those with q < alpha."""
        return [h for h in self.hits if h.cluster == cluster and h.q < alpha][:n]

    def enriched_clusters(self, alpha: float = 0.05) -> int:
        """Clusters with at least one term at q < alpha."""
        return len({h.cluster for h in self.hits if h.q < alpha})


def enrich(
    space: str, clusters: np.ndarray, annotations: Annotations, min_term_genes: int = 3
) -> Enrichment:
    """Test every cluster for every term carried by at least ``min_term_genes`` universe genes.

    Args:
        space: Name of the embedding space, kept in the result.
        clusters: int64 ``[g]`` cluster of each row of ``annotations``.
        annotations: Rows aligned with ``clusters``.
        min_term_genes: Smallest term (in universe genes) that is tested.
    """
    clusters = np.asarray(clusters, dtype=np.int64)
    k = int(clusters.max()) + 1
    sizes = np.bincount(clusters, minlength=k).tolist()
    a = annotations.matrix
    universe = np.asarray(a.sum(axis=1)).ravel() > 0
    n_universe = int(universe.sum())
    term_size = np.asarray(a[universe].sum(axis=0)).ravel().astype(np.int64)
    tested = np.flatnonzero(term_size >= min_term_genes)
    if not n_universe or not len(tested):
        log.warning(
            "%s: no term carried by %d+ annotated genes; nothing tested", space, min_term_genes
        )
        return Enrichment(space, clusters, sizes)
    one_hot = sp.csr_matrix(
        (np.ones(int(universe.sum())), (clusters[universe], np.flatnonzero(universe))),
        shape=(k, len(clusters)),
    )
    counts = np.asarray((one_hot @ a[:, tested].astype(np.int64)).todense())  # [k, tested]
    n_cluster = np.bincount(clusters[universe], minlength=k)
    # sf(k - 1) = P(X >= k): one-sided, over-representation only.
    p = hypergeom.sf(counts - 1, n_universe, term_size[tested][None, :], n_cluster[:, None])
    q = false_discovery_control(p.ravel(), method="bh").reshape(p.shape)
    hits = [
        TermHit(
            int(c),
            annotations.terms[tested[t]],
            annotations.names[tested[t]],
            int(counts[c, t]),
            int(n_cluster[c]),
            int(term_size[tested[t]]),
            n_universe,
            float(p[c, t]),
            float(q[c, t]),
        )
        for c, t in zip(*np.nonzero(counts), strict=True)
    ]
    hits.sort(key=lambda h: (h.cluster, h.p, h.term))
    return Enrichment(space, clusters, sizes, hits, int(p.size))
