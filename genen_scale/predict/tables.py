"""The files ``genen-predict`` writes into a run directory, keyed by gene ids.

``genome_predictions.parquet``, one row per gene node of the store, in node order:

==================  ==========================================================================
``node``            store node id (row i of the run's ``embeddings_fold*.npy``)
``gene``            the gene's symbol (the store's key)
``entrez`` ...      every other id type of the store's identifier map (``aliases.parquet``:
                    ``entrez``, ``ensembl_gene``, ``ensembl_protein``, ``uniprot``), ``;``-joined
                    when a gene has several; null where it has none
``labelled``        whether the gene is one of the task's labelled genes
``label``           its label: class name (multilabel: ``;``-joined names) or value; else null
``split_fold{k}``   ``train`` / ``val`` / ``test`` in fold k; null for unlabelled genes
``score``           fold-ensemble mean: P(class 1) (binary), the value (regression), or a
                    list of class / label probabilities (multiclass, multilabel)
``score_sd``        population sd over the folds, same layout (0 where all folds agree)
``score_fold{k}``   fold k's model's score, same layout; for a labelled gene tested in fold k
                    it equals its ``test`` row of ``predictions.parquet``
``probability``     binary runs with a validation split: the folds' mean probability of
                    class 1 after Platt scaling on each fold's validation genes
                    (:mod:`genen_scale.predict.calibration`), and ``probability_sd``
``p_<class>``       with class probabilities: each class's mean (and ``sd_<class>``), and
``top_class``       the class of highest mean probability
``threshold``       binary runs whose fold results record a decision threshold (chosen on
                    validation): the folds' mean, and ``positive_votes``, the folds whose
                    score reaches their own threshold
==================  ==========================================================================

``embeddings.parquet``: ``node``, ``gene``, the id columns, ``labelled``, ``label``,
``text_masked`` (the run hid this gene's text), ``refined`` (list<float32>, the fold
ensemble of the refined embeddings, see :func:`ensemble_embeddings`) and ``text``
(list<float32>, the store's feature row the run started from). Plain Parquet lists, so
pandas and DuckDB read both files as they are (tested; polars is not installed here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from genen_core.files import atomic_path
from genen_core.store import GraphStore
from genen_scale.predict.scoring import GenomeScores
from genen_scale.predict.trained_run import FoldModel, TrainedRun
from genen_scale.training.inputs import RunInputs

GENOME_PREDICTIONS = "genome_predictions.parquet"
EMBEDDINGS = "embeddings.parquet"
SPLIT_NAMES = ("train", "val", "test")


def gene_ids(store: GraphStore) -> pa.Table:
    """``node``, ``gene`` and one column per non-symbol id type of the store's aliases."""
    n = store.num_genes
    out = {
        "node": pa.array(np.arange(n, dtype=np.int64)),
        "gene": store.nodes.column("key").slice(0, n),
    }
    aliases = store.aliases
    types = sorted(set(aliases.column("id_type").to_pylist()) - {"symbol"})
    for id_type in types:
        rows = aliases.filter(pc.equal(aliases.column("id_type"), id_type))
        by_node: dict[int, list[str]] = {}
        for alias, node in zip(
            rows.column("alias").to_pylist(), rows.column("node").to_pylist(), strict=True
        ):
            if 0 <= node < n:
                by_node.setdefault(node, []).append(alias)
        out[id_type] = pa.array(
            [";".join(sorted(by_node[i])) if i in by_node else None for i in range(n)], pa.string()
        )
    return pa.table(out)


def label_columns(inputs: RunInputs, num_genes: int) -> dict[str, pa.Array]:
    """``labelled`` and ``label`` per gene node (class names for classification tasks)."""
    task = inputs.task
    labels: list = [None] * num_genes
    for node, y in zip(task.nodes.tolist(), task.y, strict=True):
        labels[node] = _label_text(y, task.classes)
    labelled = np.zeros(num_genes, dtype=bool)
    labelled[task.nodes] = True
    typ = pa.string() if task.classes else pa.float64()
    return {"labelled": pa.array(labelled), "label": pa.array(labels, typ)}


def _label_text(y, classes: list[str]):
    if not classes:
        return float(y)
    y = np.asarray(y)
    if y.ndim:  # multi-hot
        return ";".join(c for c, on in zip(classes, y, strict=True) if on)
    return classes[int(y)]


def split_columns(inputs: RunInputs, folds: list[int], num_genes: int) -> dict[str, pa.Array]:
    """``split_fold{k}``: each labelled gene's split in fold k."""
    by_index = {f.index: f for f in inputs.folds}
    out = {}
    for k in folds:
        split: list = [None] * num_genes
        fold = by_index[k]
        for name, positions in zip(SPLIT_NAMES, (fold.train, fold.val, fold.test), strict=True):
            for node in inputs.task.nodes[positions].tolist():
                split[node] = name
        out[f"split_fold{k}"] = pa.array(split, pa.string())
    return out


def _scores(a: np.ndarray) -> pa.Array:
    if a.ndim == 1:
        return pa.array(a)
    return pa.array(list(a), pa.list_(pa.float64()))


def fold_threshold(meta: dict) -> float | None:
    """A fold's decision threshold, where its model selection recorded one."""
    for where in (meta, meta.get("params") or {}, meta.get("val") or {}):
        value = where.get("threshold")
        if isinstance(value, int | float):
            return float(value)
    return None


def genome_table(
    run: TrainedRun,
    inputs: RunInputs,
    scores: GenomeScores,
    calibrated: np.ndarray | None = None,
) -> pa.Table:
    """The rows of ``genome_predictions.parquet`` (see the module docstring);
    ``calibrated``: ``[K, num_genes]`` calibrated probabilities, where there are some."""
    n = run.store.num_genes
    classes = inputs.task.classes
    cols = {**_columns(gene_ids(run.store)), **label_columns(inputs, n)}
    cols.update(split_columns(inputs, scores.folds, n))
    mean, sd = scores.mean, scores.sd
    cols["score"], cols["score_sd"] = _scores(mean), _scores(sd)
    for k, s in zip(scores.folds, scores.per_fold, strict=True):
        cols[f"score_fold{k}"] = _scores(s)
    if calibrated is not None:
        cols["probability"] = pa.array(calibrated.mean(axis=0))
        cols["probability_sd"] = pa.array(calibrated.std(axis=0))
    if mean.ndim == 2:
        for j, c in enumerate(classes):
            cols[f"p_{c}"], cols[f"sd_{c}"] = pa.array(mean[:, j]), pa.array(sd[:, j])
        cols["top_class"] = pa.array(np.asarray(classes, dtype=object)[mean.argmax(axis=1)])
    thresholds = [fold_threshold(f.meta) for f in run.folds]
    if mean.ndim == 1 and classes and all(t is not None for t in thresholds):
        t = np.asarray(thresholds)
        cols["threshold"] = pa.array(np.full(n, t.mean()))
        cols["positive_votes"] = pa.array((scores.per_fold >= t[:, None]).sum(axis=0))
    return pa.table(cols)


def _columns(table: pa.Table) -> dict[str, pa.Array]:
    return {name: table.column(name) for name in table.column_names}


def ensemble_embeddings(folds: list[FoldModel]) -> np.ndarray:
    """The folds' refined embeddings as one vector per gene: each fold's rows centred (the
    fold's mean over genes subtracted), L2-normalised, concatenated and scaled by
    ``1/sqrt(K)``.

    Each fold trained its own model, so hidden unit j of one fold has nothing to do with
    unit j of another and a mean of the vectors would mix unrelated coordinates. In the
    concatenation the cosine of two genes is the mean over folds of their cosine in each
    fold's space, and the vectors have unit norm. Centring removes the direction every
    gene shares, which message passing over a dense graph makes dominant (on the demo
    run, fold 0's raw vectors of any two genes have cosine > 0.99).

    Shapes:
        returns ``[num_genes, K * hidden]`` float32.
    """
    parts = []
    for f in folds:
        e = np.load(f.embeddings).astype(np.float32)
        e = e - e.mean(axis=0)
        norm = np.linalg.norm(e, axis=1, keepdims=True)
        parts.append(e / np.where(norm > 0, norm, 1.0))
    return np.concatenate(parts, axis=1) / np.float32(np.sqrt(len(folds)))


def embeddings_table(run: TrainedRun, inputs: RunInputs) -> pa.Table:
    """The rows of ``embeddings.parquet`` (see the module docstring)."""
    n = run.store.num_genes
    refined = ensemble_embeddings(run.folds)
    text = np.asarray(run.store.features(run.cfg.data.features)[:n], dtype=np.float32)
    masked = np.zeros(n, dtype=bool)
    masked[inputs.masked[inputs.masked < n]] = True
    cols = {**_columns(gene_ids(run.store)), **label_columns(inputs, n)}
    cols["text_masked"] = pa.array(masked)
    cols["refined"] = _vectors(refined)
    cols["text"] = _vectors(text)
    return pa.table(cols)


def _vectors(a: np.ndarray) -> pa.Array:
    flat = pa.array(np.ascontiguousarray(a, dtype=np.float32).ravel())
    offsets = pa.array(np.arange(0, a.size + 1, a.shape[1], dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat)


def write_atomic(table: pa.Table, path: Path) -> Path:
    """Write ``table`` to ``path`` through a ``.partial`` file, so that a reader never
    sees half a file and a failed run leaves the previous one."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def read_vectors(column: pa.ChunkedArray) -> np.ndarray:
    """A list<float32> column of equal-length vectors as a ``[n, dim]`` array."""
    arr = column.combine_chunks()
    return arr.flatten().to_numpy(zero_copy_only=False).reshape(len(arr), -1)
