"""Mini-batches of the graph around seed nodes: sampled neighbourhoods or the whole graph.

The loop asks for batches of seeds and gets the same :class:`Batch` either way, so one
training step serves both modes. Sampled batches come from the neighbour loader
(``genen_scale.sampling``), which reads the memory-mapped CSR and samples on the CPU;
the sampled edges are moved to the device and each batch's features gathered there, from
a copy of ``x`` made once per worker. The full graph is materialised once per worker
(a ``[2, nnz]`` COO copy and the GCN adjacency on the device; :func:`resolve_full_batch`
decides whether that fits, and ``auto`` never picks it for several DDP workers, which
would each compute it). Each batch carries its GCN adjacency, built once per batch (once
per run in full batch), so every layer propagates as one SpMM.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from genen_core.store import CSR
from genen_scale.models.adjacency import Adjacency
from genen_scale.models.gnn import ModelConfig, build_adjacency, propagate_input
from genen_scale.models.receptive import (
    LayerGraph,
    ReceptiveField,
    batch_layers,
    receptive_field,
)
from genen_scale.models.stacked import can_stack
from genen_scale.sampling.loader import full_batch, make_neighbor_loader
from genen_scale.training.config import DataConfig, TrainConfig

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """One forward pass worth of graph.

    Attributes:
        x, edge_index, edge_weight, e_id: The model's inputs, on the device; edges in CSR
            order (sorted by target), as GAT's segment softmax and the adjacency want.
        seeds: Global node ids of the seed nodes, in the order they were requested.
        seed_pos: Rows of the model's output that belong to ``seeds``.
        adj: The GCN adjacency of this graph (None for GAT), built once per batch.
        ax: ``adj @ x`` for the first GCN layer where it can be precomputed (full batch,
            fixed weights), else None.
        layers: Each layer's graph, trimmed to the rows a later layer reads
            (:mod:`genen_scale.models.receptive`): the receptive field of the run's genes
            in full batch (``x``/``ax`` then hold its nodes), a sampled batch's hops. In
            a sampled GCN batch ``x`` is the whole feature matrix and the first layer's
            columns are global node ids: it reads its inputs without a gathered copy.

    Shapes:
        x: ``[n, dim]``; edge_index: ``[2, m]`` local ids (source, target);
        edge_weight, e_id: ``[m]``; seeds, seed_pos: ``[b]``; ax: ``[n, dim]``.
    """

    x: Tensor
    edge_index: Tensor
    edge_weight: Tensor
    e_id: Tensor
    seeds: Tensor
    seed_pos: Tensor
    adj: Adjacency | None = None
    ax: Tensor | None = None
    layers: list[LayerGraph | None] | None = None

    def inputs(self) -> dict:
        """Keyword arguments of the model's forward pass."""
        return {
            "x": self.x,
            "edge_index": self.edge_index,
            "edge_weight": self.edge_weight,
            "e_id": self.e_id,
            "adj": self.adj,
            "ax": self.ax,
            "layers": self.layers,
        }


# Activation floats kept per node and unit of layer width in one training step (outputs,
# masks and gradients that are alive at once). Calibrated on the real GO+PPI store
# (64.6k nodes, hidden 256, benchmarks/bench_train.py): one model peaked at 1.9 GB RSS,
# five stacked at 5.2 GB, i.e. ~4 floats per node and width unit per model; 5 leaves margin.
ACTIVATION_FLOATS = 5
# Bytes per CSR entry of the GCN adjacency and its transpose (row, col, source edge,
# transposed col and permutation as int64, values) plus the [2, E] COO, weight and e_id.
ADJ_BYTES_PER_EDGE = 5 * 8 + 2 * 4 + 3 * 8 + 4


def full_batch_bytes(
    model: ModelConfig, num_nodes: int, nnz: int, dim: int, models: int = 1
) -> int:
    """Estimated peak memory of one full-batch training step (see ``ACTIVATION_FLOATS``)
    of ``models`` models trained stacked."""
    widths = [dim] + [model.hidden] * (model.layers + 1)
    per_node = 4 * ACTIVATION_FLOATS * sum(widths[1:]) * models + 4 * 2 * dim  # + x, A x
    if model.arch == "gat":  # attention keeps messages per edge: [E, hidden] per layer
        per_edge = 4 * 3 * model.hidden * model.num_hops
    else:
        per_edge = 0
    return num_nodes * per_node + (nnz + num_nodes) * ADJ_BYTES_PER_EDGE + nnz * per_edge


# Why ``auto`` never picks full batch for several DDP workers: each worker computes the
# whole graph (at 2 hops the receptive field of its share of genes is most of it), so DDP
# adds an all-reduce and divides no work. Issue 24's measurement on a quiet 2-core machine
# (`python -m benchmarks --suite train --workers 1,2 --repeat 1`), full batch, seed nodes/s:
DDP_FULL_BATCH_MEASURED = (
    "in full batch every DDP worker computes the whole graph: 3,788 seed nodes/s on 2 "
    "workers x 1 thread against 8,137 on 1 worker x 1 thread, 0.23 of linear (issue 24, "
    "measured on a quiet 2-core machine)"
)


def resolve_full_batch(
    data: DataConfig,
    model: ModelConfig,
    csr: CSR,
    dim: int,
    log_choice: bool = True,
    models: int = 1,
    workers: int = 1,
) -> bool:
    """``data.full_batch``, with ``auto`` decided by :func:`full_batch_bytes` (for
    ``models`` stacked models) against ``data.full_batch_memory_gb``, and sampled whenever
    ``workers`` (DDP ranks, ``scaling.num_workers``) exceed 1 (see
    ``DDP_FULL_BATCH_MEASURED``); the decision and its reason are logged."""
    need = full_batch_bytes(model, csr.num_nodes, csr.nnz, dim, models) / 2**30
    budget = data.full_batch_memory_gb
    if data.full_batch == "auto" and workers > 1:
        full, why = False, f"auto: {workers} DDP workers; {DDP_FULL_BATCH_MEASURED}"
    elif data.full_batch == "auto":
        full = need <= budget
        why = f"auto: estimated {need:.2f} GiB {'within' if full else 'over'} the {budget:g} GiB budget"
    else:
        full, why = (
            bool(data.full_batch),
            f"data.full_batch={data.full_batch} (estimated {need:.2f} GiB)",
        )
    if log_choice:
        log.info("training %s (%s)", "full batch" if full else "on sampled neighbourhoods", why)
        if full and workers > 1:
            log.warning(
                "data.full_batch=true with %d DDP workers duplicates the whole-graph work on "
                "every worker (%s); data.full_batch auto or false trains on sampled "
                "neighbourhoods, which the workers divide",
                workers,
                DDP_FULL_BATCH_MEASURED,
            )
    return full


def stacks_folds(cfg: TrainConfig) -> bool:
    """Whether the run's folds may train together as one stacked model (in full batch):
    asked for, a stackable model, and no learning-rate schedule, which one optimiser
    over the stack could not keep per fold."""
    return cfg.scaling.stack_folds and can_stack(cfg.model) and cfg.optim.scheduler == "none"


def run_batches(
    cfg: TrainConfig,
    csr: CSR,
    x: Tensor,
    task_nodes: Tensor,
    models: int,
    device: torch.device,
    log_choice: bool = True,
) -> GraphBatches:
    """The batches every fold of a run trains and is scored on: full batch or sampled as
    :func:`resolve_full_batch` decides for ``models`` models trained at once (the folds,
    when they train stacked; else 1) and the run's DDP workers, over the receptive field of
    the task's genes where that applies. Training workers and ``genen-predict`` build them
    alike, so a fold's model scores the same there."""
    d = cfg.data
    workers = cfg.scaling.num_workers
    full = resolve_full_batch(d, cfg.model, csr, x.shape[1], log_choice, models, workers)
    seeds = task_nodes if full and d.receptive_field else None
    return GraphBatches(csr, x, d.fanouts, d.batch_size, full, device, cfg.model, seeds)


class GraphBatches:
    """Batches of seeds over one graph variant, sampled or the whole graph.

    Args:
        csr: The graph (memory-mapped arrays are fine).
        x: Node features (``[num_nodes, dim]``, on CPU).
        fanouts: Neighbours per hop (``data.fanouts`` resolved).
        batch_size: Seeds per batch.
        full_batch: Use the whole graph for every batch instead of sampling.
        device: Where batches are moved.
        model: The model's config: which adjacency (if any) each batch carries.
        field_seeds: In full batch, the nodes whose outputs the run reads in training
            and validation (the task's genes): their trimmed receptive field serves every
            batch of those seeds; None: the whole graph always.
    """

    def __init__(
        self,
        csr: CSR,
        x: Tensor,
        fanouts: list[int],
        batch_size: int,
        full_batch: bool,
        device: torch.device,
        model: ModelConfig,
        field_seeds: Tensor | None = None,
    ):
        self.csr, self.x, self.device, self.model = csr, x, device, model
        self.fanouts, self.batch_size, self.full_batch = list(fanouts), batch_size, full_batch
        self.field_seeds = field_seeds
        self._full: Batch | None = None
        self._x: Tensor | None = None
        self._field: tuple[ReceptiveField, Batch] | None = None
        self._fixed: dict[tuple, list[Batch]] = {}

    def __call__(self, nodes: Tensor, seed: int) -> Iterator[Batch]:
        """Batches covering ``nodes`` once, in order; sampling is fixed by ``seed``."""
        if self.full_batch:
            yield self.whole_graph(nodes)
            return
        # Features are gathered here, on the device, from a copy made once: the loader
        # only samples, and no [n, dim] batch of rows crosses to the device per batch.
        x = self._device_x()
        loader = make_neighbor_loader(
            self.csr,
            None,
            input_nodes=nodes,
            num_neighbors=self.fanouts,
            batch_size=self.batch_size,
            shuffle=False,  # callers pass nodes already in the order they want
            seed=seed,
        )
        for b in loader:
            edge_index, edge_weight, e_id = b.edge_index, b.edge_weight, b.e_id
            # CSR order (grouped by target). The native sampler already emits it (see
            # genen_scale.sampling.csr_sampler); the compiled backends need the sort.
            if not bool((edge_index[1, 1:] >= edge_index[1, :-1]).all()):
                order = torch.argsort(edge_index[1], stable=True)
                edge_index, edge_weight, e_id = (
                    edge_index[:, order],
                    edge_weight[order],
                    e_id[order],
                )
            edge_index = edge_index.to(self.device, non_blocking=True)
            edge_weight = edge_weight.to(self.device, non_blocking=True)
            n_id = b.n_id.to(self.device, non_blocking=True)
            adj = build_adjacency(self.model, edge_index, b.num_nodes, edge_weight)
            layers, feats = None, None
            # Learned GCN weights are recomputed every pass over all edges: not trimmed.
            if adj is None or adj.const is not None:
                layers = batch_layers(b.num_sampled_nodes, adj, edge_index)
                if adj is not None:  # GCN: the first layer reads x by global node id
                    first = layers[0].adj.relabel_columns(n_id, len(x))
                    layers[0] = LayerGraph(layers[0].rows, len(x), adj=first)
                    feats = x
            yield Batch(
                x.index_select(0, n_id) if feats is None else feats,
                edge_index,
                edge_weight,
                e_id.to(self.device, non_blocking=True),
                b.n_id[: b.batch_size],
                torch.arange(b.batch_size, device=self.device),
                adj,
                layers=layers,
            )

    def _device_x(self) -> Tensor:
        """``x`` as float32 on the device (moved once; no copy when already there)."""
        if self._x is None:
            self._x = self.x.to(self.device, torch.float32)
        return self._x

    def fixed(self, nodes: Tensor, seed: int) -> list[Batch]:
        """The batches of ``nodes`` sampled once and kept: evaluation sees one fixed
        sample, and resampling it every epoch would be work that does not depend on the
        weights."""
        if self.full_batch:
            return [self.whole_graph(nodes)]
        key = (seed, hash(nodes.numpy().tobytes()))
        if key not in self._fixed:
            self._fixed[key] = list(self(nodes, seed))
        return self._fixed[key]

    def whole_graph(self, nodes: Tensor) -> Batch:
        """The whole graph as one batch with ``nodes`` as its seeds (built once): the
        trimmed receptive field of ``field_seeds`` when they include ``nodes``."""
        field = self._receptive_field()
        if field is not None:
            pos = field[0].positions(nodes.to(self.device))
            if pos is not None:
                return replace(field[1], seeds=nodes, seed_pos=pos)
        full = self._whole()
        # In the whole graph node i is row i, so a seed's output row is its node id.
        return replace(full, seeds=nodes, seed_pos=nodes.to(self.device))

    def _whole(self) -> Batch:
        if self._full is None:
            g = full_batch(self.csr, self.x, device=self.device)
            adj = build_adjacency(self.model, g.edge_index, g.num_nodes, g.edge_weight)
            ax = propagate_input(adj, self.model, g.x)
            self._full = Batch(g.x, g.edge_index, g.edge_weight, g.e_id, g.n_id, g.n_id, adj, ax)
        return self._full

    def _receptive_field(self) -> tuple[ReceptiveField, Batch] | None:
        """The trimmed batch of ``field_seeds`` (built once), or None where it does not
        apply: sampled mode, no seeds, or learned GCN edge weights."""
        learned = self.model.arch == "gcn" and self.model.edge_weight == "learned"
        if self.field_seeds is None or learned:
            return None
        if self._field is None:
            full = self._whole()
            seeds = self.field_seeds.to(self.device)
            field = receptive_field(
                self.model.num_hops,
                full.edge_index,
                len(full.x),
                seeds,
                full.adj,
                full.ax is not None,
            )
            n = field.nodes
            ax = None if full.ax is None else full.ax[n]
            batch = Batch(full.x[n], full.edge_index[:, :0], full.edge_weight[:0],
                          full.e_id[:0], seeds, seeds, None, ax, field.layers)  # fmt: skip
            log.info(
                "full batch over the receptive field of %d genes: %s of %d nodes within 0..%d hops",
                len(seeds),
                field.within,
                len(full.x),
                len(field.within) - 1,
            )
            self._field = field, batch
        return self._field
