"""What one worker (or the driver) reads from the store for a run: features, graph, task, folds.

Every worker builds this itself from the store PATH, so nothing large travels through
Ray: the CSR stays memory-mapped and only the feature matrix is loaded into memory
(``[num_nodes, dim]`` float32, ~100 MB for the full human graph with 384-d features).
Task, folds and masking depend only on the store and the seeds, so all workers and the
driver compute the same ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genen_core.store import CSR, GraphStore, StoreError
from genen_scale.models.leakage import drop_nodes, leaky_go_nodes
from genen_scale.ray_env.store_sync import local_store
from genen_scale.tasks.folds import Fold, make_folds, make_random_splits
from genen_scale.tasks.metrics import MASKED, UNMASKED, study_groups
from genen_scale.tasks.task import Task, load_task, load_user_task
from genen_scale.training.config import DataConfig, EvalConfig

log = logging.getLogger(__name__)

# ``data.task`` naming a file with one of these endings is the user's own label file.
USER_LABEL_SUFFIXES = (".csv", ".tsv")


class TrainError(ValueError):
    """A run that cannot start: bad task, graph, features or folds for this store."""


@dataclass
class RunInputs:
    """The data of a run, shared by all its folds.

    Attributes:
        store: The opened store.
        csr: The graph variant's adjacency (memory-mapped).
        x: Node features with the masked genes' rows zeroed.
        task: Labelled genes present in the graph.
        folds: The folds to run, in order.
        node_row: Row of ``task.y`` of each node, -1 for unlabelled nodes.
        study_group: The groups of each task gene that test metrics are also reported
            for (:func:`genen_scale.tasks.metrics.evaluate_with_groups`): column 0
            ``less_studied`` / ``well_studied``, split at ``data.study_threshold`` words
            (default the median word count of the task's gene texts: the paper's
            knowledge-bias proxy); column 1 ``masked`` / ``unmasked`` (text hidden or not).
        masked: Sorted node ids whose features are zeroed.

    Shapes:
        x: ``[num_nodes, dim]`` float32; node_row: ``[num_nodes]`` int64;
        study_group: ``[len(task), 2]`` str.
    """

    store: GraphStore
    csr: CSR
    x: torch.Tensor
    task: Task
    folds: list[Fold]
    node_row: torch.Tensor
    study_group: np.ndarray
    masked: np.ndarray


def mask_genes(num_genes: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted node ids of the ``round(fraction * num_genes)`` genes whose text is hidden.

    A fixed seed gives the same genes in every worker and every fold, so a masking run
    compares models on one set of hidden genes; the sets of one seed are nested (a prefix
    of one permutation), so a higher rate hides the genes of every lower one and more,
    as a chain of rates warm-started one from the next (``--mask_chain``) needs.
    """
    count = int(round(fraction * num_genes))
    rng = np.random.default_rng([seed, 0x6D61736B])  # "mask": a stream apart from training's
    return np.sort(rng.permutation(num_genes)[:count]).astype(np.int64)


def mask_nodes(num_genes: int, num_nodes: int, data: DataConfig, seed: int) -> np.ndarray:
    """Sorted node ids whose text is hidden: ``data.mask_rate`` of ``data.mask_nodes``."""
    if data.mask_nodes == "genes":
        return mask_genes(num_genes, data.mask_rate, seed)
    if data.mask_nodes == "go":
        return num_genes + mask_genes(num_nodes - num_genes, data.mask_rate, seed)
    return mask_genes(num_nodes, data.mask_rate, seed)


def load_features(store: GraphStore, name: str, masked: np.ndarray) -> torch.Tensor:
    """The feature matrix as float32 with the rows of ``masked`` zeroed.

    Raises:
        TrainError: The store has no features of that name (run ``genen-encode``), or
            they hold NaN or infinite values.
    """
    try:
        feats = store.features(name)
    except StoreError as e:
        raise TrainError(str(e)) from None
    # A copy: the memory map is read-only and the masked rows are zeroed in place.
    x = torch.from_numpy(np.array(feats, dtype=np.float32))
    bad = ~torch.isfinite(x)
    if bad.any():  # checked before training: sklearn would only fail once it has ended
        row, col = (int(i) for i in bad.nonzero()[0])
        raise TrainError(
            f"features {name!r} of {store.path}: {int(bad.any(dim=1).sum())} row(s) hold NaN "
            f"or infinite values, first row {row} (node {store.nodes.column('key')[row]}) "
            f"column {col}: {x[row, col].item()}; re-encode them with genen-encode"
        )
    x[torch.from_numpy(masked)] = 0.0
    return x


def open_task(store: GraphStore, data: DataConfig, ev: EvalConfig) -> tuple[Task, list[Fold]]:
    """Load the task and its folds (restricted to ``ev.folds_to_run``), with clear errors.

    Raises:
        TrainError: Unknown task, no labelled gene in the graph, or a class smaller than
            the number of folds.
    """
    try:
        if Path(data.task).suffix in USER_LABEL_SUFFIXES:
            task = load_user_task(data.task, store)
        else:
            task = load_task(store, data.task)
    except ValueError as e:
        raise TrainError(str(e)) from None
    if task.missing_genes:
        total = len(task) + len(task.missing_genes)
        log.warning(
            "task %r: %d of %d labelled genes are not nodes of store %s and are left out",
            task.name,
            len(task.missing_genes),
            total,
            store.path,
        )
    if len(task) == 0:
        raise TrainError(f"task {task.name!r}: none of its genes is a node of {store.path}")
    try:
        if ev.protocol == "paper":
            folds = make_random_splits(task, ev.folds, ev.test_fraction, ev.seed)
        else:
            folds = make_folds(task, ev.folds, ev.seed, ev.val_fraction)
    except ValueError as e:
        raise TrainError(str(e)) from None
    wanted = ev.folds_to_run if ev.folds_to_run is not None else range(ev.folds)
    return task, [folds[i] for i in wanted]


def load_inputs(store_path: str, data: DataConfig, ev: EvalConfig, seed: int) -> RunInputs:
    """Open the store (a node-local copy if ``store_path`` is a URI) and read everything a
    run needs (see :class:`RunInputs`).

    Raises:
        TrainError: The task, features or folds do not fit this store.
        genen_core.store.StoreError: The store itself is missing or damaged.
    """
    store = GraphStore.open(local_store(store_path, data.store_cache))
    task, folds = open_task(store, data, ev)
    masked = mask_nodes(store.num_genes, store.num_nodes, data, seed)
    x = load_features(store, data.features, masked)
    csr = load_graph(store, data)
    node_row = torch.full((store.num_nodes,), -1, dtype=torch.int64)
    node_row[torch.from_numpy(task.nodes)] = torch.arange(len(task), dtype=torch.int64)
    log.info(
        "inputs: store %s, graph %s (%d nodes, %d edges), features %s %s (%d %s masked), "
        "task %s (%s, %d genes), %d folds",
        store.path,
        data.graph,
        store.num_nodes,
        csr.nnz,
        data.features,
        tuple(x.shape),
        len(masked),
        {"genes": "genes", "go": "GO terms", "all": "nodes"}[data.mask_nodes],
        task.name,
        task.kind,
        len(task),
        len(folds),
    )
    words = store.nodes.column("word_count").to_numpy()[task.nodes]
    hidden = np.isin(task.nodes, masked)
    groups = np.stack(
        [study_groups(words, data.study_threshold), np.where(hidden, MASKED, UNMASKED)], axis=1
    )
    return RunInputs(store, csr, x, task, folds, node_row, groups, masked)


def load_graph(store: GraphStore, data: DataConfig):
    """The run's graph variant, without the GO terms ``data.exclude_go_*`` names.

    With no exclusion this is the store's memory-mapped CSR; otherwise an in-memory copy
    without those terms' edges (:mod:`genen_scale.models.leakage`).
    """
    csr = store.graph(data.graph)
    if data.exclude_go_terms is None and not (data.exclude_go_namespace or data.exclude_go_random):
        return csr
    drop = leaky_go_nodes(
        store.nodes,
        data.exclude_go_namespace,
        data.exclude_go_terms,
        data.exclude_go_random,
        data.exclude_go_random_seed,
    )
    out = drop_nodes(csr, drop)
    log.info(
        "leakage control: %d GO terms dropped (namespaces %s, pattern %r, %d at random): "
        "%d of %d edges left",
        len(drop),
        data.exclude_go_namespace,
        data.exclude_go_terms,
        data.exclude_go_random,
        out.nnz,
        csr.nnz,
    )
    return out
