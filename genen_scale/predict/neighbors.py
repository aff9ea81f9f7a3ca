"""Nearest genes of a gene by cosine (of centred vectors), in a run's refined space and in its text space.

Reads ``embeddings.parquet`` (:mod:`genen_scale.predict.tables`); a gene is named by its
symbol or any id of the store's identifier map (old symbols, Entrez, Ensembl, UniProt).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq

from genen_core.store import GraphStore
from genen_scale.predict.tables import EMBEDDINGS, read_vectors
from genen_scale.predict.trained_run import PredictError, TrainedRun

SPACES = ("refined", "text")


@dataclass
class Neighbor:
    gene: str
    cosine: float
    label: str | None


@dataclass
class Neighbors:
    """The ``k`` nearest genes of ``gene`` in each space (``SPACES``), nearest first."""

    gene: str
    node: int
    label: str | None
    by_space: dict[str, list[Neighbor]]


def resolve_gene(store: GraphStore, name: str) -> int:
    """The gene node of ``name`` (symbol or alias).

    Raises:
        PredictError: No such gene; the message suggests close symbols and ids.
    """
    nodes, _ = store.gene_nodes([name])
    if nodes[0] >= 0:
        return int(nodes[0])
    symbols = list(store.gene_index)
    known = symbols + store.aliases.column("alias").to_pylist()
    by_upper: dict[str, str] = {}
    for k in known:
        by_upper.setdefault(k.upper(), k)
    close = close_names(name.upper(), list(by_upper))
    hint = f"; did you mean {', '.join(by_upper[c] for c in close)}?" if close else ""
    raise PredictError(
        f"no gene {name!r} among the {len(symbols)} genes of store {store.path} "
        f"(symbols and their Entrez/Ensembl/UniProt ids){hint}"
    )


def close_names(word: str, names: list[str], n: int = 5, cutoff: float = 0.6) -> list[str]:
    """The ``n`` names most similar to ``word`` (difflib's ratio), ties in name order:
    unlike ``difflib.get_close_matches``, which breaks ties in reverse name order, so
    ``G0003`` suggests ``G00003`` before ``G00103``."""
    matcher = difflib.SequenceMatcher(b=word)
    scored = []
    for name in names:
        matcher.set_seq1(name)
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            ratio = matcher.ratio()
            if ratio >= cutoff:
                scored.append((-ratio, name))
    return [name for _, name in sorted(scored)[:n]]


def nearest(run: TrainedRun, gene: str, k: int = 20) -> Neighbors:
    """The ``k`` nearest genes of ``gene`` by cosine in both spaces.

    Raises:
        PredictError: Unknown gene, or the run has no ``embeddings.parquet`` yet.
    """
    node = resolve_gene(run.store, gene)
    path = run.path / EMBEDDINGS
    if not path.is_file():
        raise PredictError(f"{path} does not exist; run genen-predict {run.path} first")
    table = pq.read_table(path, columns=["node", "gene", "label", *SPACES])
    genes = table.column("gene").to_pylist()
    labels = [None if v is None else str(v) for v in table.column("label").to_pylist()]
    row = int(np.flatnonzero(table.column("node").to_numpy() == node)[0])
    out = {}
    for space in SPACES:
        sims = cosine_to(read_vectors(table.column(space)), row)
        sims[row] = -np.inf  # the gene itself
        order = np.argsort(-sims, kind="stable")[: min(k, len(genes) - 1)]
        out[space] = [Neighbor(genes[i], float(sims[i]), labels[i]) for i in order]
    return Neighbors(genes[row], node, labels[row], out)


def cosine_to(vectors: np.ndarray, row: int) -> np.ndarray:
    """Cosine of every centred row of ``vectors`` to centred row ``row``.

    Each space is centred (its mean over genes subtracted) as the refined vectors are
    (:func:`~genen_scale.predict.tables.ensemble_embeddings`): the direction every gene
    shares would otherwise decide the cosines (text embeddings of one encoder share one
    too). A zero row (nothing left after centring) has cosine 0.

    Shapes:
        vectors: ``[n, dim]`` -> ``[n]``.
    """
    v = vectors.astype(np.float64)
    v -= v.mean(axis=0)
    norms = np.linalg.norm(v, axis=1)
    unit = v / np.where(norms > 0, norms, 1.0)[:, None]
    return unit @ unit[row]


def format_neighbors(nb: Neighbors, refined_title: str, text_title: str) -> str:
    """The two neighbour lists side by side, as a plain-text table."""
    lab = lambda v: v if v is not None else "-"  # noqa: E731
    head = f"nearest genes of {nb.gene} (node {nb.node}, label {lab(nb.label)}) by cosine"
    rows = [head, f"{'':>3}  {refined_title:<40}  {text_title}"]
    pairs = zip(nb.by_space["refined"], nb.by_space["text"], strict=True)
    for i, (a, b) in enumerate(pairs, 1):
        left = f"{a.gene:<14} {a.cosine:6.3f}  {lab(a.label):<16}"
        rows.append(f"{i:>3}  {left:<40}  {b.gene:<14} {b.cosine:6.3f}  {lab(b.label)}")
    return "\n".join(rows)
