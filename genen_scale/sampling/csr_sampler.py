"""Multi-hop uniform neighbour sampling over a CSR, in plain vectorised torch.

No compiled extension is needed (pyg-lib and torch-sparse are optional), and the same
code runs on CPU and CUDA tensors: every step is a whole-tensor operation; Python loops
run only over hops and over the fanout positions of Floyd's algorithm, never over nodes.

Semantics follow PyG's ``NeighborSampler`` (``subgraph_type="directional"``,
``replace=False``, not disjoint):

* hop ``h`` expands only the nodes first reached at hop ``h - 1`` (the seeds for hop 0);
* each expanded node keeps ``min(degree, k)`` distinct neighbours drawn uniformly without
  replacement (``k = fanouts[h]``; ``k < 0`` keeps all);
* the local node order is seeds first, in their input order, then the nodes new at each
  hop (sorted by global id within a hop), so ``node[:len(seeds)] == seeds``;
* a sampled edge points from the neighbour to the expanded node (``row`` = local source,
  ``col`` = local target) and ``edge`` is its position in the CSR, so ``weight[edge]``
  is its stored weight;
* edges come out grouped by target, ``col`` non-decreasing (CSR order): each hop's
  frontier is a run of consecutive local ids above the previous hop's, expanded in
  frontier order, so consumers need no sort.

Seeds should be distinct; a repeated seed is expanded once per copy, and edges that reach
it from outside point at one of the copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class SampledSubgraph:
    """The result of :func:`sample_csr`, in PyG's ``SamplerOutput`` terms.

    Shapes:
        node: ``[num_sampled]`` int64 global ids, seeds first.
        row, col: ``[num_edges]`` int64 local ids (source neighbour, target).
        edge: ``[num_edges]`` int64 CSR positions of the sampled edges.

    ``num_sampled_nodes`` (seeds, then new nodes per hop) and ``num_sampled_edges`` (per
    hop) are ``None`` when a backend does not report them.
    """

    node: Tensor
    row: Tensor
    col: Tensor
    edge: Tensor
    num_sampled_nodes: list[int] | None
    num_sampled_edges: list[int] | None


def floyd_offsets(deg: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """Draw ``k`` distinct offsets in ``[0, deg_i)`` for every row, uniformly over k-subsets.

    Robert Floyd's algorithm (Bentley, CACM 1987), vectorised across rows: at step ``i`` a
    row draws ``t`` uniformly from ``[0, deg - k + i]`` and keeps ``t`` unless it was drawn
    before, in which case it keeps ``deg - k + i`` (which cannot have been drawn yet). Every
    k-subset comes out with probability ``1 / C(deg, k)``, with a fixed ``k`` draws per row
    and no rejection loop (no data-dependent host synchronisation on CUDA).

    Args:
        deg: Row degrees, all ``> k``.
        k: Number of offsets per row (``>= 0``).
        generator: Source of randomness, on ``deg``'s device.

    Shapes:
        deg: ``[R]`` int64 -> ``[R, k]`` int64.
    """
    steps = torch.arange(k, device=deg.device)
    hi = deg.unsqueeze(1) - k + steps  # [R, k] inclusive upper bound of each step's draw
    # float64 uniforms: a float32 24-bit mantissa would bias draws on large degrees.
    u = torch.rand(hi.shape, generator=generator, device=deg.device, dtype=torch.float64)
    out = torch.minimum((u * (hi + 1).to(torch.float64)).long(), hi)
    for i in range(1, k):
        seen = (out[:, :i] == out[:, i : i + 1]).any(dim=1)
        out[:, i] = torch.where(seen, hi[:, i], out[:, i])
    return out


def _sample_hop(
    indptr: Tensor, frontier: Tensor, k: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """CSR positions of the sampled edges of ``frontier`` and the frontier slot of each.

    Shapes:
        frontier: ``[F]`` int64 global ids -> (edge ``[E]`` int64, target slot ``[E]`` int64).
    """
    start = indptr[frontier]
    deg = indptr[frontier + 1] - start
    count = deg if k < 0 else deg.clamp(max=k)
    slot = torch.repeat_interleave(torch.arange(frontier.numel(), device=deg.device), count)
    # Rank of each output edge within its row: position minus the row's first position.
    first = torch.cumsum(count, 0) - count
    rank = torch.arange(slot.numel(), device=deg.device) - first[slot]
    offset = rank
    if k >= 0:
        big = (deg > k).nonzero().view(-1)
        if big.numel():
            # Rows with degree <= k keep offsets 0..deg-1; others get Floyd's offsets.
            table = torch.arange(k, device=deg.device).repeat(frontier.numel(), 1)
            table[big] = floyd_offsets(deg[big], k, generator)
            offset = table.view(-1)[slot * k + rank]
    return start[slot] + offset, slot


# Marks a candidate new node in the scratch map while one hop's new nodes are collected.
_PENDING = -2


def _new_nodes(node_map: Tensor, nbr: Tensor) -> Tensor:
    """The distinct ids in ``nbr`` not yet mapped (``node_map < 0``), sorted.

    Equal to ``torch.unique(nbr[node_map[nbr] < 0])``. When the graph is not much larger
    than the candidates (a 2-hop batch reaches most of the PPI), marking them in the
    scratch map and scanning it is cheaper than ``unique``'s sort of every candidate copy;
    ``nonzero`` returns the marked ids in increasing order, so the order is the same.

    Shapes:
        node_map: ``[num_nodes]`` int64; nbr: ``[E]`` int64 -> ``[U]`` int64.
    """
    cand = nbr[node_map[nbr] < 0]
    if node_map.numel() > 8 * cand.numel():
        return torch.unique(cand)
    node_map[cand] = _PENDING
    try:
        return (node_map == _PENDING).nonzero().view(-1)
    finally:
        node_map[cand] = -1


def sample_csr(
    indptr: Tensor,
    indices: Tensor,
    seeds: Tensor,
    fanouts: list[int],
    generator: torch.Generator | None = None,
    node_map: Tensor | None = None,
) -> SampledSubgraph:
    """Sample a multi-hop neighbourhood of ``seeds`` from a CSR.

    Args:
        indptr: CSR row pointer (int64), on the device sampling runs on.
        indices: CSR neighbour ids (int32 or int64), same device.
        seeds: Global ids of the seed nodes (moved to ``indptr``'s device).
        fanouts: Neighbours per node for each hop; ``-1`` keeps all.
        generator: Seeded generator on ``indptr``'s device, for reproducible batches.
        node_map: Optional scratch ``[num_nodes]`` int64 tensor filled with ``-1``, reused
            across calls to avoid allocating it per batch; it is restored to all ``-1``
            before returning, and must not be shared by concurrent calls.

    Returns:
        The sampled subgraph; see the module docstring for its conventions.

    Shapes:
        indptr: ``[N + 1]``; indices: ``[nnz]``; seeds: ``[B]``.
    """
    device = indptr.device
    num_nodes = indptr.numel() - 1
    seeds = seeds.to(device=device, dtype=torch.long)
    if node_map is None:
        node_map = torch.full((num_nodes,), -1, dtype=torch.long, device=device)
    nodes, rows, cols, edges = [seeds], [], [], []
    num_nodes_hop, num_edges_hop = [seeds.numel()], []
    num_local = seeds.numel()
    frontier, frontier_local = seeds, torch.arange(num_local, device=device)
    node_map[seeds] = frontier_local
    try:
        for k in fanouts:
            edge, slot = _sample_hop(indptr, frontier, k, generator)
            nbr = indices[edge].long()
            new = _new_nodes(node_map, nbr)  # sorted: a deterministic order
            nodes.append(new)  # before mapping, so that `finally` always clears it
            node_map[new] = torch.arange(num_local, num_local + new.numel(), device=device)
            num_local += new.numel()
            rows.append(node_map[nbr])
            cols.append(frontier_local[slot])
            edges.append(edge)
            num_nodes_hop.append(new.numel())
            num_edges_hop.append(edge.numel())
            frontier, frontier_local = new, node_map[new]
            if not new.numel():
                # Nothing new to expand: the remaining hops add no nodes and no edges.
                rest = len(fanouts) - len(num_edges_hop)
                num_nodes_hop += [0] * rest
                num_edges_hop += [0] * rest
                break
    finally:
        # Restore the scratch map for the next call, even if sampling raised.
        node_map[torch.cat(nodes)] = -1
    node = torch.cat(nodes)
    empty = torch.empty(0, dtype=torch.long, device=device)
    return SampledSubgraph(
        node=node,
        row=torch.cat(rows) if rows else empty,
        col=torch.cat(cols) if cols else empty,
        edge=torch.cat(edges) if edges else empty,
        num_sampled_nodes=num_nodes_hop,
        num_sampled_edges=num_edges_hop,
    )
