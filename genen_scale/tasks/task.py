"""Prediction tasks: the labelled genes of one task as graph node ids and targets.

A :class:`Task` is what the trainer, the folds and the baselines share. What its kind
decides (targets, outputs, loss, scores, metrics, strata, baselines) is the kind
object's (:mod:`genen_scale.tasks.kinds`, with the table of ``y`` per kind). In
``labels.parquet`` a classification label is the index of its class in
``manifest["tasks"][task]["classes"]``; a multilabel task has one row per (gene, class).
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from genen_core.known_labels import KINDS, TASK_ALIASES
from genen_core.labels import load_label_file
from genen_core.store import GraphStore
from genen_scale.tasks.kinds import TaskKind, task_kind

log = logging.getLogger(__name__)


@dataclass
class Task:
    """The labelled genes of one task that are present in the graph.

    Attributes:
        name: Task name (a key of ``manifest["tasks"]`` or a user file stem).
        kind: The :class:`~genen_scale.tasks.kinds.TaskKind` (given as one or by its name:
            ``binary``, ``multiclass``, ``multilabel``, ``regression``).
        nodes: int64 ``[n]`` graph node ids of the labelled genes, unique.
        y: Targets aligned with ``nodes`` (see :mod:`genen_scale.tasks.kinds` for dtype and shape).
        classes: Class names; ``y`` (or the multi-hot column) indexes into it. Empty
            for regression.
        missing_genes: Labelled genes that are not nodes of the graph (dropped).
    """

    name: str
    kind: TaskKind
    nodes: np.ndarray
    y: np.ndarray
    classes: list[str]
    missing_genes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        self.kind = task_kind(self.kind)
        if len(self.nodes) != len(self.y):
            raise ValueError(
                f"task {self.name!r}: {len(self.nodes)} nodes but {len(self.y)} targets"
            )
        if len(np.unique(self.nodes)) != len(self.nodes):
            raise ValueError(f"task {self.name!r}: node ids are not unique")
        self.kind.check_classes(self.name, self.classes)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def num_outputs(self) -> int:
        """Width of the model's output layer: 2 (binary), C, C or 1 (regression)."""
        return self.kind.num_outputs(len(self.classes))

    def loss(self, logits, y):
        """Training loss of the kind (:meth:`genen_scale.tasks.kinds.TaskKind.loss`)."""
        return self.kind.loss(logits, y)

    def scores(self, logits) -> np.ndarray:
        """Model outputs as scores (:meth:`genen_scale.tasks.kinds.TaskKind.scores`)."""
        return self.kind.scores(logits)

    def stratify_key(self, n_bins: int = 10) -> np.ndarray:
        """An int64 ``[n]`` stratum per gene for stratified splits
        (:meth:`genen_scale.tasks.kinds.TaskKind.stratify_key`: the class, the quantile bin of a
        regression target, or the rarest positive label)."""
        return self.kind.stratify_key(self.y, len(self.classes), n_bins)

    def class_counts(self) -> dict[str, int]:
        """Labelled genes per class (multilabel: positives per label); empty for regression."""
        return self.kind.class_counts(self.y, self.classes)


def build_task(
    name: str,
    kind: str | TaskKind,
    classes: Sequence[str],
    genes: Sequence[str],
    labels: np.ndarray,
    nodes: np.ndarray,
    source: str = "labels",
) -> Task:
    """A :class:`Task` from label rows ``(gene, label, node)``; node -1 = not in the graph.

    Args:
        name: Task name.
        kind: Task kind, or its name (see :data:`genen_core.known_labels.KINDS`).
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
    kind = task_kind(kind)
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
    kind.check_labels(source, name, genes, labels, classes)
    uniq, y = kind.targets(source, name, genes, labels, nodes, len(classes))
    return Task(name, kind, uniq, y, list(classes), missing)


def load_task(store: GraphStore, name: str) -> Task:
    """The task ``name`` of a store, restricted to genes that are graph nodes.

    Raises:
        ValueError: ``name`` is not a task of the store (the message lists them and
            suggests the closest), or its rows break the one-row-per-gene invariant.
    """
    tasks = store.tasks
    stored = stored_task_name(tasks, name)
    if stored != name:
        log.info("task %r is stored as %r (renamed task)", name, stored)
    if stored not in tasks:
        close = difflib.get_close_matches(name, list(tasks), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"store {store.path} has no task {name!r}{hint} "
            f"(tasks: {', '.join(sorted(tasks)) or 'none'})"
        )
    meta = tasks[stored]
    rows = store.labels.filter(pc.equal(store.labels.column("task"), stored))
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


def stored_task_name(tasks: dict, name: str) -> str:
    """The name under which ``tasks`` (a store's manifest tasks) holds task ``name``: an
    old name (:data:`genen_core.known_labels.TASK_ALIASES`) finds the task in a store built
    since the rename, and the new name finds it in a store built before."""
    if name in tasks:
        return name
    renamed = {**TASK_ALIASES, **{new: old for old, new in TASK_ALIASES.items()}}
    return renamed.get(name, name) if renamed.get(name) in tasks else name


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
