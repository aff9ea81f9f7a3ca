"""Prediction tasks: the labelled genes of one task as graph node ids and targets.

A :class:`Task` is what the trainer, the folds and the baselines share. Targets follow
the task kind:

==============  =========================  ============  ==============================
kind            ``y``                      outputs       loss / scores
==============  =========================  ============  ==============================
``binary``      int64 ``[n]`` in {0, 1}    2 logits      cross-entropy / P(class 1) [n]
``multiclass``  int64 ``[n]`` in [0, C)    C logits      cross-entropy / softmax [n, C]
``multilabel``  float32 multi-hot [n, C]   C logits      BCE-with-logits / sigmoid [n, C]
``regression``  float32 ``[n]``            1 output      MSE / the value [n]
==============  =========================  ============  ==============================

Binary tasks use two logits and cross-entropy, like multiclass ones, because the paper
trains every classification task with cross-entropy and a single code path is simpler to
keep correct. In ``labels.parquet`` a classification label is the index of its class in
``manifest["tasks"][task]["classes"]``; a multilabel task has one row per (gene, class).
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from genen_core.labels import load_label_file
from genen_core.store import GraphStore

log = logging.getLogger(__name__)

TaskKind = Literal["binary", "multiclass", "multilabel", "regression"]
KINDS: tuple[str, ...] = ("binary", "multiclass", "multilabel", "regression")
# A user label column that is integer-valued with at most this many distinct values is
# read as class labels; anything else is a regression target.


@dataclass
class Task:
    """The labelled genes of one task that are present in the graph.

    Attributes:
        name: Task name (a key of ``manifest["tasks"]`` or a user file stem).
        kind: One of ``binary``, ``multiclass``, ``multilabel``, ``regression``.
        nodes: int64 ``[n]`` graph node ids of the labelled genes, unique.
        y: Targets aligned with ``nodes`` (see the module table for dtype and shape).
        classes: Class names; ``y`` (or the multi-hot column) indexes into it. Empty
            for regression.
        missing_genes: Labelled genes that are not nodes of the graph (dropped).
    """

    name: str
    kind: str
    nodes: np.ndarray
    y: np.ndarray
    classes: list[str]
    missing_genes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if len(self.nodes) != len(self.y):
            raise ValueError(
                f"task {self.name!r}: {len(self.nodes)} nodes but {len(self.y)} targets"
            )
        if len(np.unique(self.nodes)) != len(self.nodes):
            raise ValueError(f"task {self.name!r}: node ids are not unique")
        if self.kind == "binary" and len(self.classes) != 2:
            raise ValueError(
                f"task {self.name!r} is binary but has classes {self.classes}; it needs exactly 2"
            )
        if self.kind in ("multiclass", "multilabel") and len(self.classes) < 2:
            raise ValueError(
                f"task {self.name!r} is {self.kind} but has classes {self.classes}; "
                "it needs at least 2"
            )

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def num_outputs(self) -> int:
        """Width of the model's output layer: 2 (binary), C, C or 1 (regression)."""
        if self.kind == "regression":
            return 1
        if self.kind == "binary":
            return 2
        return len(self.classes)

    def loss(self, logits, y):
        """Training loss: cross-entropy, BCE-with-logits or MSE by task kind.

        Args:
            logits: Model outputs for a batch of labelled nodes.
            y: The matching targets (``task.y`` rows as a tensor).

        Shapes:
            logits: ``[b, num_outputs]`` (regression also accepts ``[b]``).
            y: ``[b]`` (binary, multiclass, regression) or ``[b, C]`` (multilabel).
            returns: scalar.
        """
        import torch.nn.functional as F

        if self.kind in ("binary", "multiclass"):
            return F.cross_entropy(logits, y.long())
        if self.kind == "multilabel":
            return F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype))
        return F.mse_loss(logits.reshape(-1), y.to(logits.dtype).reshape(-1))

    def scores(self, logits) -> np.ndarray:
        """Model outputs as the scores :func:`genen_scale.metrics.evaluate` expects.

        Shapes:
            logits: ``[b, num_outputs]`` tensor or array.
            returns: binary ``[b]`` P(class 1); multiclass ``[b, C]`` softmax;
            multilabel ``[b, C]`` sigmoid; regression ``[b]`` the predicted value.
        """
        import torch

        t = torch.as_tensor(logits).detach().float().cpu()
        if self.kind == "binary":
            return torch.softmax(t, dim=-1)[:, 1].numpy()
        if self.kind == "multiclass":
            return torch.softmax(t, dim=-1).numpy()
        if self.kind == "multilabel":
            return torch.sigmoid(t).numpy()
        return t.reshape(-1).numpy()

    def stratify_key(self, n_bins: int = 10) -> np.ndarray:
        """An int64 ``[n]`` stratum per gene for stratified splits.

        Classification: the class. Regression: the quantile bin of the target
        (``n_bins`` bins, fewer if values tie). Multilabel: the gene's rarest positive
        label (genes without one get stratum ``C``): rare labels are the ones a split can
        lose entirely, and sklearn has no multilabel stratifier, so this simple key keeps
        every label's positives spread over the folds as far as its own genes allow.
        """
        if self.kind in ("binary", "multiclass"):
            return self.y.astype(np.int64)
        if self.kind == "regression":
            bins = pd.qcut(self.y, q=n_bins, labels=False, duplicates="drop")
            return np.asarray(bins, dtype=np.int64)
        # Labels rarest first; a gene's key is the first of its labels in that order.
        order = np.argsort(self.y.sum(axis=0), kind="stable")
        has_label = self.y[:, order] > 0
        key = np.where(has_label.any(axis=1), order[has_label.argmax(axis=1)], len(self.classes))
        return key.astype(np.int64)

    def class_counts(self) -> dict[str, int]:
        """Labelled genes per class (multilabel: positives per label); empty for regression."""
        if self.kind == "regression":
            return {}
        if self.kind == "multilabel":
            counts = self.y.sum(axis=0)
        else:
            counts = np.bincount(self.y, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts, strict=True)}


def build_task(
    name: str,
    kind: str,
    classes: Sequence[str],
    genes: Sequence[str],
    labels: np.ndarray,
    nodes: np.ndarray,
    source: str = "labels",
) -> Task:
    """A :class:`Task` from label rows ``(gene, label, node)``; node -1 = not in the graph.

    Args:
        name: Task name.
        kind: Task kind (see :data:`KINDS`).
        classes: Class names; a classification label is an index into it.
        genes: ``[rows]`` gene symbols.
        labels: ``[rows]`` float labels (class index or regression value).
        nodes: ``[rows]`` int64 graph node id of each gene, -1 where it is absent.
        source: Where the rows came from, for error messages.

    Raises:
        ValueError: A gene with several rows in a single-label task, or a class index
            outside ``classes``.
    """
    if kind not in KINDS:
        raise ValueError(f"{source}: task {name!r} has kind {kind!r}; use one of {KINDS}")
    genes = np.asarray(genes, dtype=object)
    labels = np.asarray(labels, dtype=np.float64)
    nodes = np.asarray(nodes, dtype=np.int64)
    missing_mask = nodes < 0
    missing = sorted(set(genes[missing_mask].tolist()))
    if missing:
        log.warning(
            "task %r: %d labelled genes are not in the graph and are dropped (e.g. %s)",
            name,
            len(missing),
            ", ".join(missing[:5]),
        )
    genes, labels, nodes = genes[~missing_mask], labels[~missing_mask], nodes[~missing_mask]
    if np.isnan(labels).any():
        bad = genes[np.isnan(labels)][0]
        raise ValueError(f"{source}: task {name!r}: gene {bad!r} has an empty label")
    if kind != "regression":
        invalid = (labels != np.round(labels)) | (labels < 0) | (labels >= len(classes))
        if invalid.any():
            bad = genes[invalid][0]
            raise ValueError(
                f"{source}: task {name!r}: gene {bad!r} has a label that is not a class index "
                f"in [0, {len(classes)}) (classes: {list(classes)})"
            )

    if kind == "multilabel":
        uniq, inverse = np.unique(nodes, return_inverse=True)
        y = np.zeros((len(uniq), len(classes)), dtype=np.float32)
        y[inverse, labels.astype(np.int64)] = 1.0
        return Task(name, kind, uniq, y, list(classes), missing)

    uniq, first, counts = np.unique(nodes, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup = genes[first[counts > 1][0]]
        raise ValueError(
            f"{source}: task {name!r} is {kind} but gene {dup!r} has {counts.max()} label rows; "
            "a single-label task needs one row per gene (the ingest deduplicates them)"
        )
    y = labels[first]
    y = y.astype(np.float32) if kind == "regression" else y.astype(np.int64)
    return Task(name, kind, uniq, y, list(classes), missing)


def load_task(store: GraphStore, name: str) -> Task:
    """The task ``name`` of a store, restricted to genes that are graph nodes.

    Raises:
        ValueError: ``name`` is not a task of the store (the message lists them and
            suggests the closest), or its rows break the one-row-per-gene invariant.
    """
    tasks = store.tasks
    if name not in tasks:
        close = difflib.get_close_matches(name, list(tasks), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"store {store.path} has no task {name!r}{hint} "
            f"(tasks: {', '.join(sorted(tasks)) or 'none'})"
        )
    meta = tasks[name]
    rows = store.labels.filter(pc.equal(store.labels.column("task"), name))
    if rows.num_rows == 0:
        raise ValueError(f"store {store.path}: task {name!r} is in the manifest but has no labels")
    return build_task(
        name,
        meta["kind"],
        meta.get("classes", []),
        rows.column("gene").to_pylist(),
        rows.column("label").to_numpy(),
        rows.column("node").to_numpy(),
        source=str(store.path / "labels.parquet"),
    )


def load_user_task(path: str | os.PathLike, store: GraphStore, task: str | None = None) -> Task:
    """A task from the user's own label file, mapped onto ``store``'s genes.

    The file is read by the same loader as the published label files
    (:func:`genen_core.labels.load_label_file`), so one rule decides its layout and kind: the
    common schema is ``gene,label[,task][,kind]``; without ``kind``, all-numeric labels
    are regression and anything else binary/multiclass; ``multilabel`` must be declared.

    Args:
        path: The CSV/TSV file.
        store: The store whose gene keys and aliases (old symbols, Entrez, Ensembl,
            UniProt ids; see ``GraphStore.gene_nodes``) give the node ids.
        task: Which task of the file, when it holds several.

    Raises:
        ValueError: An unreadable file (the message names it and its line) or an
            ambiguous/unknown ``task``.
    """
    labels = load_label_file(Path(path))
    names = sorted(labels.tasks)
    name = task if task is not None else (names[0] if len(names) == 1 else None)
    if name not in labels.tasks:
        raise ValueError(f"{path}: holds tasks {names}; choose one with task=NAME")
    info = labels.tasks[name]
    rows = labels.table.filter(pc.equal(labels.table.column("task"), name))
    genes = rows.column("gene").to_pylist()
    nodes, by_alias = store.gene_nodes(genes)
    # A gene listed under its own key keeps that row; an old name of it would only add a
    # second, conflicting row (the same rule as the ingest's label matching).
    exact = set(nodes[~by_alias].tolist())
    shadowed = by_alias & np.isin(nodes, list(exact))
    if by_alias.any():
        log.info(
            "%s: %d label genes matched by alias (e.g. %s), %d old names of listed genes ignored",
            path,
            int(by_alias.sum() - shadowed.sum()),
            ", ".join(np.asarray(genes, dtype=object)[by_alias & ~shadowed][:5]),
            int(shadowed.sum()),
        )
    keep = ~shadowed
    return build_task(
        name,
        info["kind"],
        info["classes"],
        np.asarray(genes, dtype=object)[keep],
        rows.column("label").to_numpy()[keep],
        nodes[keep],
        source=str(path),
    )
