"""Full batch over the receptive field of the task's genes only, trimmed layer by layer.

A model of ``h`` message-passing hops computes a node's output from the nodes within
``h`` hops of it; in full batch the rest of the graph is work that no loss or score
reads. Labelled genes are a small part of the graph (the real GO+PPI store: 1.5k
solubility genes among 64.5k nodes; on the PPI graph the 43.5k GO nodes are unreachable
from every gene), so a full-batch step computes, per layer, only the rows a later layer
reads:

* the nodes are put in hop order: the seeds (the task's genes), then the nodes one hop
  from them, then two hops, ... up to the radius the model reads;
* propagating layer ``j`` (of ``h``) keeps the outputs of the nodes within ``h-1-j`` hops
  and reads inputs within ``h-j`` hops. In hop order both are prefixes, so each layer's
  graph is a row prefix of the field's adjacency (PyG's ``trim_to_layer`` does the same
  for sampled batches).

Exact at the seeds: a kept row has all its in-neighbours among the kept inputs, and GCN
entries keep their values normalised over the whole graph (degrees counted on the whole
graph, :meth:`~genen_scale.models.adjacency.Adjacency.restrict`), so the seeds' outputs equal
the whole graph's up to float reassociation. Dropout masks are drawn over the kept rows.
Learned edge weights are not trimmed: their degrees move with the weights of edges
outside the field. Embedding every gene (the end of a fold) uses the whole graph.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor

from genen_scale.models.adjacency import Adjacency, induced_entries


@dataclass
class LayerGraph:
    """What one propagating layer reads in a trimmed full batch.

    Attributes:
        rows: Outputs kept: the first ``rows`` nodes of the field.
        cols: Inputs read: the first ``cols`` nodes (``rows <= cols``).
        adj: GCN: the ``[rows, cols]`` block of the field's adjacency; None for GAT.
        edge_index: GAT: the edges into the first ``rows`` nodes (local ids, CSR order).
    """

    rows: int
    cols: int
    adj: Adjacency | None = None
    edge_index: Tensor | None = None


@dataclass
class ReceptiveField:
    """The nodes within the model's reach of a seed set, in hop order, and each layer's
    graph over them.

    Attributes:
        nodes: Global ids in hop order (seeds first, in the order given).
        within: ``within[d]``: how many nodes lie within ``d`` hops of the seeds.
        local: Global id -> position in ``nodes`` (-1: outside the field).
        layers: One :class:`LayerGraph` per propagating layer, first layer first; the
            first is None when the caller propagated the input features beforehand.

    Shapes:
        nodes: ``[within[-1]]``; local: ``[num_nodes]``.
    """

    nodes: Tensor
    within: list[int]
    local: Tensor
    layers: list[LayerGraph | None]

    def positions(self, seeds: Tensor) -> Tensor | None:
        """Rows of the trimmed outputs that hold ``seeds``, or None when any of them is
        not one of the field's seeds (their outputs are not computed exactly)."""
        pos = self.local[seeds]
        if len(pos) and (int(pos.min()) < 0 or int(pos.max()) >= self.within[0]):
            return None
        return pos


def hop_order(
    target: Tensor, source: Tensor, num_nodes: int, seeds: Tensor, radius: int
) -> tuple[Tensor, list[int]]:
    """Nodes within ``radius`` hops of ``seeds`` (following edges from target to source:
    a node's output reads its sources), by hop, then as given (seeds) or by id.

    Shapes:
        target, source: ``[E]``; seeds: ``[s]`` distinct -> ``[n]``, ``radius + 1`` counts.
    """
    hop = torch.full((num_nodes,), radius + 1, dtype=torch.long, device=seeds.device)
    hop[seeds] = 0
    reached = hop == 0
    within = [len(seeds)]
    for d in range(1, radius + 1):
        read = torch.zeros_like(reached)
        read[source[reached[target]]] = True
        hop[read & ~reached] = d
        reached |= read
        within.append(int(reached.sum()))
    rest = torch.argsort(hop, stable=True)[len(seeds) : within[-1]]
    return torch.cat([seeds, rest]), within


def receptive_field(
    num_hops: int,
    edge_index: Tensor,
    num_nodes: int,
    seeds: Tensor,
    adj: Adjacency | None,
    input_propagated: bool,
) -> ReceptiveField:
    """The field of ``seeds`` for a model of ``num_hops`` propagating layers.

    Args:
        edge_index: The whole graph, ``[source, target]``, in CSR (target) order.
        adj: The whole graph's GCN adjacency with cached values; None for GAT.
        input_propagated: The first layer starts from ``A x`` computed over the whole
            graph (GCN), so the field reaches one hop less.
    """
    radius = num_hops - 1 if input_propagated else num_hops
    nodes, within = hop_order(edge_index[1], edge_index[0], num_nodes, seeds, radius)
    local = torch.full((num_nodes,), -1, dtype=torch.long, device=seeds.device)
    local[nodes] = torch.arange(len(nodes), device=seeds.device)
    block = adj.restrict(nodes) if adj is not None else None
    edges = None
    if adj is None:  # GAT: the field's edges, target-sorted (rows are targets)
        dst, src, _ = induced_entries(edge_index[1], edge_index[0], local, len(nodes))
        edges = torch.stack([src, dst])
    return ReceptiveField(
        nodes, within, local, layer_graphs(within, block, edges, input_propagated)
    )


def batch_layers(hop_counts: list[int], adj: Adjacency | None, edge_index: Tensor):
    """Each layer's graph in a sampled batch: its nodes are in hop order already (the
    seeds, then the nodes first sampled at each hop), so the trimming of
    :func:`receptive_field` applies as is. A layer then transforms only the rows a later
    layer reads: on a dense graph two batches of 256 seeds sample 1.7x the nodes of one
    batch of 512 (hop neighbourhoods overlap), but keep only 1.2x the rows.

    Args:
        hop_counts: Nodes per hop, seeds first (``num_sampled_nodes``), one more than the
            model's propagating layers.
        adj: The batch's GCN adjacency with cached values; None for GAT.
        edge_index: The batch's edges in CSR (target) order.
    """
    within = list(itertools.accumulate(hop_counts))
    return layer_graphs(within, adj, edge_index if adj is None else None, False)


def layer_graphs(
    within: list[int], block: Adjacency | None, edges: Tensor | None, input_propagated: bool
) -> list[LayerGraph | None]:
    """Layer ``j`` of ``h`` keeps the rows within ``h-1-j`` hops and reads the columns
    within ``h-j`` hops: a row prefix of ``block`` (GCN) or of the target-sorted ``edges``
    (GAT). The first entry is None when the input was propagated beforehand."""
    num_hops = len(within) - (0 if input_propagated else 1)
    layers: list[LayerGraph | None] = []
    for j in range(num_hops):
        if j == 0 and input_propagated:
            layers.append(None)
            continue
        rows, cols = within[num_hops - 1 - j], within[num_hops - j]
        if block is not None:
            layers.append(LayerGraph(rows, cols, adj=block.prefix(rows, cols)))
        else:
            end = int(torch.searchsorted(edges[1], torch.tensor(rows, device=edges.device)))
            layers.append(LayerGraph(rows, cols, edge_index=edges[:, :end]))
    return layers
