"""Mini-batches of the graph around seed nodes: sampled neighbourhoods or the whole graph.

The loop asks for batches of seeds and gets the same :class:`Batch` either way, so one
training step serves both modes. Sampled batches come from the neighbour loader
(``genen_scale.sampling``), which reads the memory-mapped CSR and samples on the CPU;
batches are then moved to the device. The full graph is materialised once per worker
(a ``[2, nnz]`` COO copy on the device), which is only sensible for small graphs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from genen_scale.sampling.loader import full_batch, make_neighbor_loader
from genen_scale.store import CSR


@dataclass
class Batch:
    """One forward pass worth of graph.

    Attributes:
        x, edge_index, edge_weight, e_id: The model's inputs, on the device.
        seeds: Global node ids of the seed nodes, in the order they were requested.
        seed_pos: Rows of the model's output that belong to ``seeds``.

    Shapes:
        x: ``[n, dim]``; edge_index: ``[2, m]`` local ids (source, target);
        edge_weight, e_id: ``[m]``; seeds, seed_pos: ``[b]``.
    """

    x: Tensor
    edge_index: Tensor
    edge_weight: Tensor
    e_id: Tensor
    seeds: Tensor
    seed_pos: Tensor


class GraphBatches:
    """Batches of seeds over one graph variant, sampled or the whole graph.

    Args:
        csr: The graph (memory-mapped arrays are fine).
        x: Node features (``[num_nodes, dim]``, on CPU).
        fanouts: Neighbours per hop (``data.fanouts`` resolved).
        batch_size: Seeds per batch.
        full_batch: Use the whole graph for every batch instead of sampling.
        device: Where batches are moved.
    """

    def __init__(
        self,
        csr: CSR,
        x: Tensor,
        fanouts: list[int],
        batch_size: int,
        full_batch: bool,
        device: torch.device,
    ):
        self.csr, self.x, self.device = csr, x, device
        self.fanouts, self.batch_size, self.full_batch = list(fanouts), batch_size, full_batch
        self._full: tuple[Tensor, ...] | None = None

    def __call__(self, nodes: Tensor, seed: int) -> Iterator[Batch]:
        """Batches covering ``nodes`` once, in order; sampling is fixed by ``seed``."""
        if self.full_batch:
            yield self._full_batch(nodes)
            return
        loader = make_neighbor_loader(
            self.csr,
            self.x,
            input_nodes=nodes,
            num_neighbors=self.fanouts,
            batch_size=self.batch_size,
            shuffle=False,  # callers pass nodes already in the order they want
            seed=seed,
        )
        for b in loader:
            yield Batch(
                b.x.to(self.device, non_blocking=True),
                b.edge_index.to(self.device, non_blocking=True),
                b.edge_weight.to(self.device, non_blocking=True),
                b.e_id.to(self.device, non_blocking=True),
                b.n_id[: b.batch_size],
                torch.arange(b.batch_size, device=self.device),
            )

    def _full_batch(self, nodes: Tensor) -> Batch:
        if self._full is None:
            g = full_batch(self.csr, self.x, device=self.device)
            self._full = (g.x, g.edge_index, g.edge_weight, g.e_id)
        # In the whole graph node i is row i, so a seed's output row is its node id.
        return Batch(*self._full, nodes, nodes.to(self.device))
